using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CniRuntime.Networks;

namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>A network namespace made with <c>ip netns add</c>.</summary>
/// <param name="Name">The name under /run/netns.</param>
public sealed record Netns(string Name)
{
    /// <summary>The bind-mounted namespace file, which is what <c>CNI_NETNS</c> carries.</summary>
    public string Path => "/run/netns/" + Name;
}

/// <summary>An IPv4 /24 no other test uses: <c>10.A.B.0/24</c>.</summary>
public sealed record Subnet(string Prefix)
{
    public string Cidr => Prefix + ".0/24";

    public string Host(int n) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}.{n}");
}

/// <summary>
/// One test's network scratch space, built with iproute2 (the library's own netns support comes later): network
/// namespaces standing in for containers, unique bridge names and subnets, temporary directories, and a way to run
/// and read <c>ip -j</c> in the node namespace (the test process's own, itself a throwaway one made by tools/test.sh)
/// or in a container namespace. <see cref="DisposeAsync"/> removes all of it, whatever the test left behind.
/// </summary>
/// <remarks>Names and subnets are unique in the process, so tests can run in parallel.</remarks>
public sealed class NetnsFixture : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);
    private static int _sequence = Random.Shared.Next(0, 8192);

    private readonly List<Netns> _namespaces = [];
    private readonly List<string> _bridges = [];
    private readonly List<string> _directories = [];
    private readonly Lock _gate = new();

    /// <summary>The result cache directory of <see cref="CreateClient"/>.</summary>
    public string CacheDirectory { get; private set; } = string.Empty;

    /// <summary>A host-local <c>dataDir</c> of this test alone.</summary>
    public string IpamDataDirectory { get; private set; } = string.Empty;

    public Task InitializeAsync()
    {
        Prerequisites.Require();
        CacheDirectory = NewTempDirectory("cache");
        IpamDataDirectory = NewTempDirectory("ipam");
        return Task.CompletedTask;
    }

    /// <summary>A client running the reference plugins, caching in <see cref="CacheDirectory"/>.</summary>
    public CniClient CreateClient() => new(new CniClientOptions
    {
        PluginDirectories = [Prerequisites.PluginDirectory],
        CacheDirectory = CacheDirectory,
        PluginTimeout = TimeSpan.FromSeconds(30),
    });

    /// <summary>A number no other test in this process gets.</summary>
    public static int NextUnique() => Interlocked.Increment(ref _sequence);

    /// <summary>A bridge name no other test uses (at most 15 characters); it is deleted on dispose if it exists.</summary>
    public string NewBridgeName()
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"cnirt-br{NextUnique()}");
        lock (_gate)
        {
            _bridges.Add(name);
        }

        return name;
    }

    /// <summary>A /24 in 10.128.0.0/9 no other test uses.</summary>
    public static Subnet NewSubnet()
    {
        var n = NextUnique() % (128 * 256);
        return new Subnet(string.Create(CultureInfo.InvariantCulture, $"10.{128 + (n / 256)}.{n % 256}"));
    }

    /// <summary>A container ID no other test uses.</summary>
    public static string NewContainerId() => "cnirt-it-" + Guid.NewGuid().ToString("N");

    /// <summary>A temporary directory, deleted on dispose.</summary>
    public string NewTempDirectory(string purpose)
    {
        var path = Directory.CreateTempSubdirectory($"cnirt-it-{purpose}-").FullName;
        lock (_gate)
        {
            _directories.Add(path);
        }

        return path;
    }

    /// <summary>Creates a network namespace <c>cnirt-it-&lt;random&gt;</c>, deleted on dispose.</summary>
    public async Task<Netns> AddNamespaceAsync()
    {
        var netns = new Netns("cnirt-it-" + Guid.NewGuid().ToString("N")[..12]);
        lock (_gate)
        {
            _namespaces.Add(netns);
        }

        await RunAsync(Prerequisites.Ip, "netns", "add", netns.Name);
        return netns;
    }

    /// <summary>Runs a command inside a namespace (<c>ip netns exec</c>) and returns its stdout.</summary>
    public static Task<string> ExecAsync(Netns netns, string command, params string[] arguments) =>
        RunAsync(Prerequisites.Ip, ["netns", "exec", netns.Name, command, .. arguments]);

    /// <summary>Runs <c>ip -j ARGS</c> in the node namespace (null) or in <paramref name="netns"/> and parses the JSON array it prints.</summary>
    public static async Task<JsonArray> IpJsonAsync(Netns? netns, params string[] arguments)
    {
        var output = netns is null
            ? await RunAsync(Prerequisites.Ip, ["-j", .. arguments])
            : await ExecAsync(netns, Prerequisites.Ip, ["-j", .. arguments]);

        // Some iproute2 versions print nothing instead of [] when there is nothing to list.
        return string.IsNullOrWhiteSpace(output)
            ? []
            : JsonNode.Parse(output) as JsonArray ?? throw new InvalidOperationException($"ip -j {string.Join(' ', arguments)} printed no array: {output}");
    }

    /// <summary>The links of a namespace (null: the node).</summary>
    public static Task<JsonArray> LinksAsync(Netns? netns) => IpJsonAsync(netns, "link", "show");

    /// <summary>The link called <paramref name="name"/>, or null when there is none.</summary>
    public static async Task<JsonNode?> FindLinkAsync(Netns? netns, string name) =>
        (await LinksAsync(netns)).FirstOrDefault(l => (string?)l?["ifname"] == name);

    /// <summary>The names of the node's links enslaved to <paramref name="bridge"/>.</summary>
    public static async Task<List<string>> BridgePortsAsync(string bridge) =>
        [.. (await LinksAsync(null)).Where(l => (string?)l?["master"] == bridge).Select(l => (string)l!["ifname"]!)];

    /// <summary>
    /// The bridge's ports once none is left, or what is left after <paramref name="timeout"/>. A veth whose
    /// namespace was deleted goes when the kernel's asynchronous namespace cleanup runs, a little after the unmount.
    /// </summary>
    public static async Task<List<string>> BridgePortsWhenEmptyAsync(string bridge, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var ports = await BridgePortsAsync(bridge);
            if (ports.Count == 0 || DateTime.UtcNow >= deadline)
            {
                return ports;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The flags of a link (<c>UP</c>, <c>LOWER_UP</c>, ...).</summary>
    public static List<string> Flags(JsonNode link) => [.. link["flags"]!.AsArray().Select(f => (string)f!)];

    /// <summary>The IPv4 addresses of a device as "address/prefix".</summary>
    public static async Task<List<string>> Ipv4AddressesAsync(Netns? netns, string device) =>
        [.. (await IpJsonAsync(netns, "-4", "addr", "show", "dev", device))
            .SelectMany(l => l!["addr_info"]!.AsArray())
            .Select(a => string.Create(CultureInfo.InvariantCulture, $"{(string)a!["local"]!}/{(int)a["prefixlen"]!}"))];

    /// <summary>The IPv4 main-table routes of a namespace as "dst via gateway dev device" or "dst dev device".</summary>
    public static async Task<List<string>> Ipv4RoutesAsync(Netns? netns) =>
        [.. (await IpJsonAsync(netns, "-4", "route", "show")).Select(r =>
            r!["gateway"] is { } gateway
                ? $"{(string)r["dst"]!} via {(string)gateway!} dev {(string)r["dev"]!}"
                : $"{(string)r["dst"]!} dev {(string)r["dev"]!}")];

    /// <summary>Runs a program; returns stdout, or throws with stderr when it fails.</summary>
    public static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var run = await ProcessRunner.RunAsync(program, arguments, CommandTimeout);
        return run.ExitCode == 0
            ? run.Stdout
            : throw new InvalidOperationException(string.Create(
                CultureInfo.InvariantCulture,
                $"{program} {string.Join(' ', arguments)} exited with {run.ExitCode}: {run.Stderr.Trim()}"));
    }

    /// <summary>Deletes the namespaces (and with them the container ends of veths), the bridges, and the directories.</summary>
    public async Task DisposeAsync()
    {
        var errors = new List<Exception>();
        Netns[] namespaces;
        string[] bridges;
        string[] directories;
        lock (_gate)
        {
            namespaces = [.. _namespaces];
            bridges = [.. _bridges];
            directories = [.. _directories];
        }

        foreach (var netns in namespaces)
        {
            if (File.Exists(netns.Path))
            {
                await Try(() => RunAsync(Prerequisites.Ip, "netns", "delete", netns.Name), errors);
            }
        }

        foreach (var bridge in bridges)
        {
            if (await FindLinkAsync(null, bridge) is not null)
            {
                await Try(() => RunAsync(Prerequisites.Ip, "link", "delete", bridge), errors);
            }
        }

        foreach (var directory in directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.Add(ex);
            }
        }

        if (errors.Count > 0)
        {
            throw new AggregateException("cleaning up the test's namespaces, bridges or directories failed", errors);
        }
    }

    private static async Task Try(Func<Task> action, List<Exception> errors)
    {
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            errors.Add(ex);
        }
    }
}
