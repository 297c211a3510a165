using CniRuntime.IntegrationTests.Cli;
using CniRuntime.IntegrationTests.Infrastructure;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Reliability;

/// <summary>
/// A node with one bridge network for the shipped cnirt: its own configuration and cache directories, and the
/// check that nothing of a sandbox is left anywhere (links, address reservations, state files, namespaces, DNAT).
/// </summary>
internal sealed class CnirtWorld : IAsyncDisposable
{
    private CnirtWorld(NetnsFixture node) => Node = node;

    public NetnsFixture Node { get; }

    public string ConfigDirectory { get; private set; } = string.Empty;

    public string Bridge { get; private set; } = string.Empty;

    public string Network { get; private set; } = string.Empty;

    /// <summary>Plugin directories ahead of the reference plugins'.</summary>
    public string PluginPath { get; private set; } = Prerequisites.PluginDirectory;

    /// <summary>
    /// Makes the node and writes its network: bridge + host-local on a fresh /24, with <paramref name="before"/> and
    /// <paramref name="after"/> (JSON plugin objects) around the bridge plugin.
    /// </summary>
    public static async Task<CnirtWorld> CreateAsync(string name, IReadOnlyList<string>? before = null, IReadOnlyList<string>? after = null, string? extraPluginDirectory = null)
    {
        var node = new NetnsFixture();
        await node.InitializeAsync();
        var world = new CnirtWorld(node)
        {
            ConfigDirectory = node.NewTempDirectory("conf"),
            Bridge = node.NewBridgeName(),
            Network = name + NextUnique(),
            PluginPath = extraPluginDirectory is null ? Prerequisites.PluginDirectory : $"{extraPluginDirectory}:{Prerequisites.PluginDirectory}",
        };
        var bridge = $$"""
            {
              "type": "bridge", "bridge": "{{world.Bridge}}", "isGateway": true, "ipMasq": false,
              "ipam": { "type": "host-local", "dataDir": "{{node.IpamDataDirectory}}", "ranges": [[{ "subnet": "{{NewSubnet().Cidr}}" }]] }
            }
            """;
        var plugins = string.Join(",\n", [.. before ?? [], bridge, .. after ?? []]);
        await File.WriteAllTextAsync(Path.Combine(world.ConfigDirectory, "10-world.conflist"), $$"""{ "cniVersion": "1.0.0", "name": "{{world.Network}}", "plugins": [{{plugins}}] }""");
        return world;
    }

    /// <summary>The flags that point cnirt at this node's directories.</summary>
    public string[] CommonArguments => ["--cache-dir", Node.CacheDirectory, "--conf-dir", ConfigDirectory, "--cni-path", PluginPath];

    public Task<ProcessRun> Cnirt(params string[] arguments) =>
        CnirtBinary.RunAsync(new Dictionary<string, string>(), [.. CommonArguments, .. arguments]);

    /// <summary>Nothing of any sandbox is left: no bridge port, reservation, state file, sandbox namespace or DNAT element.</summary>
    public async Task AssertNothingLeftAsync()
    {
        Assert.Empty(await BridgePortsWhenEmptyAsync(Bridge, TimeSpan.FromSeconds(10)));
        var reservations = Path.Combine(Node.IpamDataDirectory, Network);
        Assert.Empty(Directory.Exists(reservations) ? Directory.EnumerateFiles(reservations).Where(f => char.IsAsciiDigit(Path.GetFileName(f)[0])) : []);
        foreach (var state in new[] { "results", "sandboxes", "portmap" })
        {
            var directory = Path.Combine(Node.CacheDirectory, state);
            Assert.Empty(Directory.Exists(directory) ? Directory.EnumerateFiles(directory).Where(f => !Path.GetFileName(f).StartsWith('.')) : []);
        }

        Assert.DoesNotContain(new CniRuntime.Namespaces.NetworkNamespaces().List(), n => n.StartsWith("cnirt-", StringComparison.Ordinal) && !n.StartsWith("cnirt-it-", StringComparison.Ordinal));
        var map = await ProcessRunner.RunAsync("nft", ["list", "map", "ip", "cnirt", "hp_any"], TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("comment", map.Stdout, StringComparison.Ordinal);
    }

    public ValueTask DisposeAsync() => new(Node.DisposeAsync());
}
