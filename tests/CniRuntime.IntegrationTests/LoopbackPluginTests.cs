using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>The reference loopback plugin: it brings lo up on ADD and, in v1.1.1, down again on DEL.</summary>
[Trait("Category", "Integration")]
public sealed class LoopbackPluginTests : IAsyncLifetime
{
    private readonly NetnsFixture _sandbox = new();

    public Task InitializeAsync() => _sandbox.InitializeAsync();

    public Task DisposeAsync() => _sandbox.DisposeAsync();

    [IntegrationFact]
    public async Task Add_brings_lo_up_and_reports_both_loopback_addresses()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var list = Conflists.Loopback("cnirt-it-lo");
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path, InterfaceName = "lo" };
        Assert.Equal(["LOOPBACK"], Flags((await FindLinkAsync(netns, "lo"))!));

        var result = await client.AddNetworkListAsync(list, runtime);

        Assert.Equal(1, _sandbox.AssertEveryResultMatchesSchema());
        Assert.Equal(CniVersion.V100, result.CniVersion);
        var lo = Assert.Single(result.Interfaces);
        Assert.Equal(("lo", "00:00:00:00:00:00", netns.Path), (lo.Name, lo.Mac, lo.Sandbox));
        Assert.Equal(
            [("127.0.0.1/8", (int?)0, (System.Net.IPAddress?)null), ("::1/128", 0, null)],
            result.Ips.Select(ip => (ip.Address.ToString(), ip.Interface, ip.Gateway)));
        Assert.Empty(result.Routes);
        Assert.Null(result.Dns);
        Assert.Equal(["LOOPBACK", "UP", "LOWER_UP"], Flags((await FindLinkAsync(netns, "lo"))!));
        Assert.Equal(["127.0.0.1/8"], await Ipv4AddressesAsync(netns, "lo"));
        Assert.True(File.Exists(client.Cache.GetPath(list.Name, runtime.ContainerId, "lo")));

        await client.CheckNetworkListAsync(list, runtime);
    }

    [IntegrationFact]
    public async Task Delete_brings_lo_down_again_and_removes_the_cache_file()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var list = Conflists.Loopback("cnirt-it-lo");
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path, InterfaceName = "lo" };
        await client.AddNetworkListAsync(list, runtime);

        await client.DeleteNetworkListAsync(list, runtime);

        Assert.Equal(["LOOPBACK"], Flags((await FindLinkAsync(netns, "lo"))!));
        Assert.False(File.Exists(client.Cache.GetPath(list.Name, runtime.ContainerId, "lo")));
    }
}
