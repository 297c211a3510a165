using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Sandboxes;

/// <summary>Who publishes a sandbox's ports (runtime or plugin, never both), and when.</summary>
public sealed class SandboxPortMappingTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakePluginExecutor _executor = new();
    private readonly FakeNetworkNamespaces _namespaces = new();
    private readonly InMemoryNetworkConfigSource _configs = new();
    private readonly FakePortMapper _ports = new();

    public SandboxPortMappingTests()
    {
        _configs.Add("""{"cniVersion":"1.0.0","name":"with-portmap","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}""");
        _configs.Add("""{"cniVersion":"1.0.0","name":"plain","plugins":[{"type":"ptp","capabilities":{"bandwidth":true}}]}""");
        _executor.OnCommand("ptp", CniCommand.Add, call => FakePluginExecutor.Success(
            $$"""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"{{call.Environment["CNI_NETNS"]}}"}],"ips":[{"address":"10.99.0.7/24","interface":0},{"address":"fd99::7/64","interface":0}]}"""));
        _executor.OnCommand("bridge", CniCommand.Add, call => FakePluginExecutor.Success(
            $$"""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"{{call.Environment["CNI_NETNS"]}}"}],"ips":[{"address":"10.88.0.5/16","interface":0}]}"""));
    }

    public void Dispose() => _dir.Dispose();

    private SandboxManager Manager(PortMappingMode mode = PortMappingMode.Automatic)
    {
        var cni = new CniClientOptions { PluginDirectories = [FakePluginExecutor.Directory], CacheDirectory = _dir.Combine("cache"), TransientRetries = 0 };
        return new SandboxManager(new SandboxManagerOptions { Cni = cni, PortMapping = mode }, _namespaces, new CniClient(cni, _executor), _configs, _ports);
    }

    private static SandboxRequest Request(string network) => new()
    {
        Id = "s1",
        Networks = [new SandboxNetworkRequest(network)],
        Capabilities = new CapabilityArgs { PortMappings = [new PortMapping(8080, 80)], Bandwidth = new BandwidthLimits { IngressRate = 5 } },
    };

    [Fact]
    public async Task Without_a_portmap_plugin_the_runtime_publishes_to_the_sandbox_addresses_and_plugins_never_see_the_ports()
    {
        var sandbox = await Manager().SetupAsync(Request("plain"));

        Assert.Equal(["publish s1 8080:80 -> 10.99.0.7/24,fd99::7/64"], _ports.Calls);
        Assert.Equal("""{"bandwidth":{"ingressRate":5}}""", _executor.Calls.Single().Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Equal(8080, sandbox.PublishedPorts.Single().HostPort);
        Assert.Equal(sandbox.PortMappings, (await Manager().FindAsync("s1"))!.PortMappings);
        Assert.Single((await Manager().FindAsync("s1"))!.PublishedPorts);
    }

    [Fact]
    public async Task Per_network_port_mappings_go_to_that_networks_portmap_plugin()
    {
        var request = Request("with-portmap") with
        {
            Capabilities = new CapabilityArgs(),
            Networks = [new SandboxNetworkRequest("with-portmap") { Capabilities = new CapabilityArgs { PortMappings = [new PortMapping(9090, 90)] } }],
        };

        await Manager().SetupAsync(request);

        Assert.Empty(_ports.Calls);
        Assert.Equal("""{"portMappings":[{"hostPort":9090,"containerPort":90,"protocol":"tcp"}]}""", _executor.Calls.Single(c => c.Type == "portmap").Stdin["runtimeConfig"]!.ToJsonString());
    }

    [Theory]
    [InlineData(PortMappingMode.Runtime, "with-portmap")]
    [InlineData(PortMappingMode.Automatic, "plain")]
    public async Task Per_network_port_mappings_are_refused_when_the_runtime_publishes_and_nothing_is_created(PortMappingMode mode, string network)
    {
        var request = Request(network) with
        {
            Capabilities = new CapabilityArgs(),
            Networks = [new SandboxNetworkRequest(network) { Capabilities = new CapabilityArgs { PortMappings = [new PortMapping(9090, 90)] } }],
        };

        var error = await Assert.ThrowsAsync<CniException>(() => Manager(mode).SetupAsync(request));

        Assert.Equal(
            $"port mappings of network \"{network}\" cannot be published: per-network portMappings go only to plugins that declare them (PortMappingMode.Plugin, or a portmap plugin in that network); give them for the whole sandbox instead",
            error.Message);
        Assert.Equal(CniErrorCode.InvalidNetworkConfig, error.Code);
        Assert.Empty(_executor.Calls);
        Assert.Empty(_ports.Calls);
        Assert.Empty(_namespaces.Created);
    }

    [Fact]
    public async Task With_a_portmap_plugin_the_plugin_publishes_and_the_runtime_does_not()
    {
        var sandbox = await Manager().SetupAsync(Request("with-portmap"));

        Assert.Empty(_ports.Calls);
        Assert.Equal("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}""", _executor.Calls[1].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Empty(sandbox.PublishedPorts);
        Assert.Single(sandbox.PortMappings);
    }

    [Fact]
    public async Task The_mode_can_force_the_runtime_even_with_a_portmap_plugin()
    {
        await Manager(PortMappingMode.Runtime).SetupAsync(Request("with-portmap"));

        Assert.Single(_ports.Calls);
        Assert.All(_executor.Calls, c => Assert.False(c.Stdin.ContainsKey("runtimeConfig")));
    }

    [Fact]
    public async Task When_publishing_fails_the_networks_and_namespace_are_removed()
    {
        _ports.FailPublish = new CniException(CniErrorCode.InvalidNetworkConfig, "sandbox other holds tcp 0.0.0.0:8080");

        var error = await Assert.ThrowsAsync<CniException>(() => Manager().SetupAsync(Request("plain")));

        Assert.Equal("sandbox other holds tcp 0.0.0.0:8080", error.Message);
        Assert.Equal(["ADD ptp", "DEL ptp"], _executor.Log);
        Assert.Empty(_namespaces.Existing);
        Assert.Null(await Manager().FindAsync("s1"));
    }

    [Fact]
    public async Task Teardown_unpublishes_before_the_networks_go_and_gc_reconciles_the_kept()
    {
        var manager = Manager();
        await manager.SetupAsync(Request("plain"));
        await manager.SetupAsync(Request("plain") with { Id = "s2" });

        await manager.TeardownAsync("s1");
        await manager.GcAsync(["s2"]);

        Assert.Equal(["unpublish s1", "reconcile s2"], _ports.Calls.Skip(2));
        Assert.Equal(["ADD ptp", "ADD ptp", "DEL ptp"], _executor.Log);
    }
}
