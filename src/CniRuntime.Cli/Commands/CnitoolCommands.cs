using System.Collections;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary><c>add|check|del|status|gc &lt;network&gt; &lt;netns&gt;</c>, with cnitool's arguments, environment and output.</summary>
internal static class CnitoolCommands
{
    public static async Task<int> RunAsync(string verb, string[] args, IDictionary environment, CancellationToken cancellationToken)
    {
        var (network, netns, ifName) = ParseArguments(verb, args, Get(environment, "CNI_IFNAME"));
        var configDirectory = Get(environment, "NETCONFPATH") is { Length: > 0 } path ? path : "/etc/cni/net.d";
        var pluginDirectories = (Get(environment, "CNI_PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries);
        var client = new CniClient(new CniClientOptions { PluginDirectories = pluginDirectories });
        var list = await NetworkConfigLoader.LoadNetworkAsync(configDirectory, network, cancellationToken);

        var absoluteNetns = Path.GetFullPath(netns);
        var runtime = new RuntimeConfig
        {
            ContainerId = ContainerIdFor(absoluteNetns),
            NetworkNamespace = absoluteNetns,
            InterfaceName = ifName,
            Args = CniArgs.Parse(Get(environment, "CNI_ARGS")),
            CapabilityArgs = ParseCapabilityArgs(Get(environment, "CAP_ARGS")),
        };

        switch (verb)
        {
            case "add":
                var result = await client.AddNetworkListAsync(list, runtime, cancellationToken);
                using (var stdout = Console.OpenStandardOutput())
                {
                    stdout.Write(CniResultJson.ToUtf8Bytes(result, indented: true));
                    stdout.Write("\n"u8);
                }

                break;
            case "check":
                await client.CheckNetworkListAsync(list, runtime, cancellationToken);
                break;
            case "del":
                await client.DeleteNetworkListAsync(list, runtime, cancellationToken);
                break;
            case "status":
                await client.GetStatusNetworkListAsync(list, cancellationToken);
                break;
            case "gc":
                // As cnitool: no valid attachments given, so every cached attachment of the network is deleted.
                await client.GcNetworkListAsync(list, null, cancellationToken);
                break;
        }

        return 0;
    }

    /// <summary>cnitool's container ID: <c>cnitool-</c> and the hex of the first 10 bytes of SHA-512 of the absolute netns path.</summary>
    public static string ContainerIdFor(string absoluteNetnsPath) =>
        "cnitool-" + Convert.ToHexStringLower(SHA512.HashData(Encoding.UTF8.GetBytes(absoluteNetnsPath)).AsSpan(0, 10));

    private static (string Network, string Netns, string IfName) ParseArguments(string verb, string[] args, string? ifNameFromEnvironment)
    {
        var positional = new List<string>();
        var ifName = string.IsNullOrEmpty(ifNameFromEnvironment) ? "eth0" : ifNameFromEnvironment;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-i" or "--ifname" when i + 1 < args.Length:
                    ifName = args[++i];
                    break;
                case "-i" or "--ifname":
                    throw new UsageException($"{args[i]} needs an interface name");
                case var flag when flag.StartsWith("--ifname=", StringComparison.Ordinal):
                    ifName = flag["--ifname=".Length..];
                    break;
                case var flag when flag.StartsWith('-') && flag.Length > 1:
                    throw new UsageException($"unknown flag {flag}");
                default:
                    positional.Add(args[i]);
                    break;
            }
        }

        return positional is [var network, var netns]
            ? (network, netns, ifName)
            : throw new UsageException($"{verb} needs <network> <netns> (got {positional.Count} argument(s))");
    }

    private static Dictionary<string, JsonElement> ParseCapabilityArgs(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return new Dictionary<string, JsonElement>();
        }

        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
            root = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"CAP_ARGS is not valid JSON: {ex.Message}");
        }

        return root.ValueKind == JsonValueKind.Object
            ? root.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal)
            : throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "CAP_ARGS must be a JSON object of capability arguments");
    }

    private static string? Get(IDictionary environment, string name) => environment[name] as string;
}
