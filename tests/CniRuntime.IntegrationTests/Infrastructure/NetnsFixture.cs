using System.Globalization;
using System.Text.Json.Nodes;
using CniRuntime.Networks;

namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>
/// One test's network scratch space on the kit's <see cref="CniTestNode"/>, with the test process's own namespace
/// as the node (itself a throwaway one made by tools/test.sh, so the CLI and library tests see the same node):
/// namespaces standing in for containers, unique bridge names and subnets, temporary directories, and <c>ip -j</c>
/// in the node (null) or in a container namespace. <see cref="DisposeAsync"/> removes all of it.
/// </summary>
/// <remarks>Names and subnets are unique in the process, so tests can run in parallel.</remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes it through IAsyncLifetime.DisposeAsync")]
public sealed class NetnsFixture : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly CniTestNode _node = new(new CniTestNodeOptions { Isolated = false, PluginDirectories = [Prerequisites.PluginDirectory] });

    /// <summary>The result cache directory of <see cref="CreateClient"/>.</summary>
    public string CacheDirectory => _node.CacheDirectory;

    /// <summary>A host-local <c>dataDir</c> of this test alone.</summary>
    public string IpamDataDirectory => _node.IpamDataDirectory;

    public Task InitializeAsync()
    {
        Prerequisites.Require();
        return _node.InitializeAsync();
    }

    /// <summary>A client running the reference plugins, caching in <see cref="CacheDirectory"/>; every plugin call is recorded.</summary>
    public CniClient CreateClient() => _node.CreateClient();

    /// <summary>Fails unless every successful ADD so far printed a result matching its version's schema (<see cref="CniTestNode.AssertEveryResultMatchesSchema"/>).</summary>
    public int AssertEveryResultMatchesSchema() => _node.AssertEveryResultMatchesSchema();

    /// <summary>A number no other test in this process gets.</summary>
    public static int NextUnique() => CniTestNode.NextUnique();

    /// <summary>A bridge name no other test uses (at most 15 characters); it is deleted on dispose if it exists.</summary>
    public string NewBridgeName() => _node.NewBridgeName();

    /// <summary>A /24 in 10.128.0.0/9 no other test uses.</summary>
    public static Subnet NewSubnet() => CniTestNode.NewSubnet();

    /// <summary>A container ID no other test uses.</summary>
    public static string NewContainerId() => CniTestNode.NewContainerId();

    /// <summary>A temporary directory, deleted on dispose.</summary>
    public string NewTempDirectory(string purpose) => _node.NewTempDirectory(purpose);

    /// <summary>Creates a network namespace <c>cnirt-it-&lt;random&gt;</c>, deleted on dispose.</summary>
    public Task<Netns> AddNamespaceAsync() => _node.AddContainerAsync();

    /// <summary>Runs a command inside a namespace (<c>ip netns exec</c>) and returns its stdout.</summary>
    public static Task<string> ExecAsync(Netns netns, string command, params string[] arguments) =>
        RunAsync(Prerequisites.Ip, ["netns", "exec", netns.Name, command, .. arguments]);

    /// <summary>Runs <c>ip -j ARGS</c> in the node namespace (null) or in <paramref name="netns"/> and parses the JSON array it prints.</summary>
    public static async Task<JsonArray> IpJsonAsync(Netns? netns, params string[] arguments) =>
        JsonNode.Parse((await CniRuntime.Conformance.IpRoute2.RunJsonAsync(netns?.Name, arguments)).GetRawText())!.AsArray();

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
    public static Task<string> RunAsync(string program, params string[] arguments) =>
        ProcessRunner.RunCheckedAsync(program, arguments, CommandTimeout);

    /// <summary>Deletes the namespaces (and with them the container ends of veths), the bridges, and the directories.</summary>
    public Task DisposeAsync() => _node.DisposeAsync().AsTask();
}
