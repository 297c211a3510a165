using System.Net;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>The reference ptp plugin with host-local IPAM: a veth pair with a host route on the node instead of a bridge.</summary>
[Trait("Category", "Integration")]
public sealed class PtpPluginTests : IAsyncLifetime
{
    private readonly NetnsFixture _sandbox = new();

    public Task InitializeAsync() => _sandbox.InitializeAsync();

    public Task DisposeAsync() => _sandbox.DisposeAsync();

    [IntegrationFact]
    public async Task Add_check_and_delete_a_point_to_point_link_with_a_host_route_on_the_node()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var subnet = NewSubnet();
        var list = Conflists.Ptp("cnirt-it-ptp", _sandbox.IpamDataDirectory, subnet);
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path, InterfaceName = "eth0" };
        var cacheFile = client.Cache.GetPath(list.Name, runtime.ContainerId, "eth0");
        var reservation = Path.Combine(_sandbox.IpamDataDirectory, list.Name, subnet.Host(2));

        var result = await client.AddNetworkListAsync(list, runtime);

        Assert.Equal(1, _sandbox.AssertEveryResultMatchesSchema());
        Assert.Equal(2, result.Interfaces.Length);
        var hostVeth = result.Interfaces[0].Name;
        Assert.StartsWith("veth", hostVeth, StringComparison.Ordinal);
        Assert.Null(result.Interfaces[0].Sandbox);
        Assert.Equal(("eth0", netns.Path), (result.Interfaces[1].Name, result.Interfaces[1].Sandbox));
        var ip = Assert.Single(result.Ips);
        Assert.Equal((1, subnet.Host(2) + "/24"), (ip.Interface, ip.Address.ToString()));
        Assert.Equal(IPAddress.Parse(subnet.Host(1)), ip.Gateway);
        Assert.Equal("0.0.0.0/0", Assert.Single(result.Routes).Dst.ToString());

        Assert.Equal([subnet.Host(2) + "/24"], await Ipv4AddressesAsync(netns, "eth0"));
        Assert.Equal(
            [$"default via {subnet.Host(1)} dev eth0", $"{subnet.Cidr} via {subnet.Host(1)} dev eth0", $"{subnet.Host(1)} dev eth0"],
            await Ipv4RoutesAsync(netns));
        Assert.Equal([subnet.Host(1) + "/32"], await Ipv4AddressesAsync(null, hostVeth));
        Assert.Contains($"{subnet.Host(2)} dev {hostVeth}", await Ipv4RoutesAsync(null));
        Assert.True(File.Exists(cacheFile));
        Assert.True(File.Exists(reservation));

        await client.CheckNetworkListAsync(list, runtime);
        await client.DeleteNetworkListAsync(list, runtime);

        Assert.Null(await FindLinkAsync(netns, "eth0"));
        Assert.Null(await FindLinkAsync(null, hostVeth));
        Assert.DoesNotContain($"{subnet.Host(2)} dev {hostVeth}", await Ipv4RoutesAsync(null));
        Assert.False(File.Exists(reservation));
        Assert.False(File.Exists(cacheFile));

        await client.DeleteNetworkListAsync(list, runtime);
    }
}
