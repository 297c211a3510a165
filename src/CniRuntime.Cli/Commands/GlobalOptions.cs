using System.CommandLine;
using System.Globalization;
using CniRuntime.Networks;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;

namespace CniRuntime.Cli.Commands;

/// <summary>The flags every command takes, and how they turn into library options.</summary>
internal static class GlobalOptions
{
    public const string DefaultConfigDirectory = "/etc/cni/net.d";
    public const string DefaultPluginDirectory = "/opt/cni/bin";

    public static readonly Option<string?> CniPath = new("--cni-path")
    {
        Description = "Plugin directories, ':'-separated (default: $CNI_PATH, else /opt/cni/bin; the cnitool commands have no default, like cnitool)",
        HelpName = "DIRS",
        Recursive = true,
    };

    public static readonly Option<string?> ConfDir = new("--conf-dir")
    {
        Description = "Network configuration directory (default: $NETCONFPATH, else /etc/cni/net.d)",
        HelpName = "DIR",
        Recursive = true,
    };

    public static readonly Option<string?> CacheDir = new("--cache-dir")
    {
        Description = "Where results, sandboxes, locks and the default network's leases live (default /var/lib/cni)",
        HelpName = "DIR",
        Recursive = true,
    };

    public static readonly Option<TimeSpan?> Timeout = new("--timeout")
    {
        Description = "Kill a plugin that runs longer than this: 500ms, 30s, 2m or seconds (default 1m)",
        HelpName = "DURATION",
        Recursive = true,
        CustomParser = result => ParseDuration(result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty, result),
    };

    public static readonly Option<PortMappingBackend> PortBackend = new("--port-backend")
    {
        Description = "How published ports reach sandboxes: auto (nftables when it works here, else iptables), nftables or iptables",
        HelpName = "auto|nftables|iptables",
        Recursive = true,
        DefaultValueFactory = _ => PortMappingBackend.Automatic,
        CustomParser = result => (result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty) switch
        {
            "auto" => PortMappingBackend.Automatic,
            "nftables" => PortMappingBackend.Nftables,
            "iptables" => PortMappingBackend.Iptables,
            var other => Fail(result, $"invalid --port-backend \"{other}\": expected auto, nftables or iptables"),
        },
    };

    public static readonly Option<bool> Debug = new("--debug")
    {
        Description = "Print stack traces with errors",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Machine-readable JSON output (run, ls, netns ls, validate, version)",
        Recursive = true,
    };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(CniPath);
        root.Options.Add(ConfDir);
        root.Options.Add(CacheDir);
        root.Options.Add(Timeout);
        root.Options.Add(PortBackend);
        root.Options.Add(Debug);
        root.Options.Add(Json);
    }

    public static string ConfigDirectory(ParseResult parse) => ConfigDirectory(GlobalSettings.From(parse));

    public static string ConfigDirectory(GlobalSettings settings) =>
        settings.ConfDir is { Length: > 0 } dir ? dir
        : Environment.GetEnvironmentVariable("NETCONFPATH") is { Length: > 0 } env ? env
        : DefaultConfigDirectory;

    /// <summary>Plugin directories: the flag, else CNI_PATH, else <paramref name="fallback"/>.</summary>
    public static string[] PluginDirectories(GlobalSettings settings, string? fallback = DefaultPluginDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var text = settings.CniPath is { Length: > 0 } flag ? flag
            : Environment.GetEnvironmentVariable("CNI_PATH") is { Length: > 0 } env ? env
            : fallback ?? string.Empty;
        return text.Split(':', StringSplitOptions.RemoveEmptyEntries);
    }

    public static CniClientOptions ClientOptions(ParseResult parse, string? pluginFallback = DefaultPluginDirectory) =>
        ClientOptions(GlobalSettings.From(parse), pluginFallback);

    public static CniClientOptions ClientOptions(GlobalSettings settings, string? pluginFallback = DefaultPluginDirectory)
    {
        var options = new CniClientOptions { PluginDirectories = PluginDirectories(settings, pluginFallback) };
        if (settings.CacheDir is { Length: > 0 } cache)
        {
            options = options with { CacheDirectory = Path.GetFullPath(cache) };
        }

        if (settings.Timeout is { } timeout)
        {
            options = options with { PluginTimeout = timeout };
        }

        return options;
    }

    /// <summary>The sandbox manager, with the built-in default network behind the configuration directory.</summary>
    public static SandboxManager Sandboxes(ParseResult parse)
    {
        var settings = GlobalSettings.From(parse);
        var cni = ClientOptions(settings);
        var configDirectory = ConfigDirectory(settings);
        var options = new SandboxManagerOptions { Cni = cni, ConfigDirectory = configDirectory, PortBackend = parse.GetValue(PortBackend) };
        return new SandboxManager(options, configs: new DefaultNetworkConfigSource(configDirectory, cni.CacheDirectory));
    }

    private static PortMappingBackend Fail(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return PortMappingBackend.Automatic;
    }

    public static TimeSpan? ParseDuration(string text, System.CommandLine.Parsing.ArgumentResult? result = null)
    {
        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ when text.EndsWith('h') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0 && double.IsFinite(value))
        {
            return TimeSpan.FromSeconds(value * scale);
        }

        result?.AddError($"invalid duration \"{text}\" (examples: 500ms, 30s, 2m, 90)");
        return null;
    }

    /// <summary>Parses repeated <c>K=V</c> values.</summary>
    public static Dictionary<string, string> ParsePairs(IEnumerable<string> values, string what)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"invalid {what} \"{value}\": expected KEY=VALUE");
            }

            pairs[value[..equals]] = value[(equals + 1)..];
        }

        return pairs;
    }

    /// <summary>Parses <c>[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp]</c> (an IPv6 host address in brackets).</summary>
    public static PortMapping ParsePort(string text)
    {
        var spec = text;
        var protocol = "tcp";
        var slash = spec.LastIndexOf('/');
        if (slash >= 0)
        {
            protocol = spec[(slash + 1)..].ToLowerInvariant();
            spec = spec[..slash];
            if (protocol is not ("tcp" or "udp" or "sctp"))
            {
                throw new UsageException($"invalid port \"{text}\": protocol must be tcp, udp or sctp");
            }
        }

        string? hostIp = null;
        if (spec.StartsWith('['))
        {
            var close = spec.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
            {
                throw new UsageException($"invalid port \"{text}\": unterminated [IPv6 address]");
            }

            hostIp = spec[1..close];
            spec = spec[(close + 2)..];
        }

        var parts = spec.Split(':');
        if (hostIp is null && parts.Length == 3)
        {
            hostIp = parts[0];
            parts = parts[1..];
        }

        if (parts.Length != 2 || !TryPort(parts[0], out var hostPort) || !TryPort(parts[1], out var containerPort)
            || (hostIp is not null && !System.Net.IPAddress.TryParse(hostIp, out _)))
        {
            throw new UsageException($"invalid port \"{text}\": expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp]");
        }

        return new PortMapping(hostPort, containerPort, protocol, hostIp);
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}

/// <summary>The values of the global flags, whichever parser read them.</summary>
internal sealed record GlobalSettings(string? CniPath, string? ConfDir, string? CacheDir, TimeSpan? Timeout, bool Debug, bool Json)
{
    public static GlobalSettings From(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return new(
            parse.GetValue(GlobalOptions.CniPath),
            parse.GetValue(GlobalOptions.ConfDir),
            parse.GetValue(GlobalOptions.CacheDir),
            parse.GetValue(GlobalOptions.Timeout),
            parse.GetValue(GlobalOptions.Debug),
            parse.GetValue(GlobalOptions.Json));
    }
}
