using System.Net;
using CniRuntime.IntegrationTests.Infrastructure;
using static CniRuntime.Testing.CniTestNode;

namespace CniRuntime.IntegrationTests.Matrix;

/// <summary>
/// The dhcp IPAM plugin against a real DHCP server: dnsmasq in a namespace of its own, on a bridge of the isolated
/// node, and the plugin's daemon started in the node, as a node runs it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DhcpPluginTests : IAsyncLifetime
{
    private readonly MatrixNode _world = new();

    public Task InitializeAsync() => _world.InitializeAsync();

    public Task DisposeAsync() => _world.DisposeAsync();

    [IntegrationFact]
    public async Task Bridge_with_dhcp_leases_an_address_and_router_from_dnsmasq_and_del_removes_the_interface()
    {
        var (list, subnet, leases) = await DhcpWorld.StartAsync(_world.Node, "cnirt-mx-dhcp");
        var container = await _world.Node.AddContainerAsync();

        await _world.RunLifecycleAsync(list, container, async result =>
        {
            var ip = Assert.Single(result.Ips);
            var host = ip.Address.Address.GetAddressBytes()[3];
            Assert.True(ip.Address.ToString().StartsWith(subnet.Prefix + ".", StringComparison.Ordinal) && host is >= 100 and <= 150, $"{ip.Address} is not from dnsmasq's range {subnet.Host(100)}-{subnet.Host(150)}");
            Assert.Equal(IPAddress.Parse(subnet.Host(254)), ip.Gateway);
            var eth0 = await _world.ContainerLinkAsync(container);
            Assert.Contains(ip.Address.ToString(), eth0.Addresses);
            Assert.Contains($"default via {subnet.Host(254)} dev eth0", (await _world.Node.ReadStateAsync(container)).Routes);
            Assert.Contains(eth0.Mac!, await File.ReadAllTextAsync(leases), StringComparison.OrdinalIgnoreCase);
        });
    }
}

/// <summary>A DHCP server and the dhcp plugin's daemon on a test node, and a bridge list that leases from them.</summary>
public static class DhcpWorld
{
    /// <summary>
    /// Makes a bridge in the node, a server namespace on it running dnsmasq (range .100–.150, router .254), and the
    /// dhcp daemon in the node; returns a bridge + dhcp list, the subnet and dnsmasq's lease file.
    /// </summary>
    public static async Task<(Configuration.NetworkConfigList List, Subnet Subnet, string Leases)> StartAsync(CniTestNode node, string network)
    {
        ArgumentNullException.ThrowIfNull(node);
        var subnet = NewSubnet();
        var bridge = node.NewBridgeName();
        await node.IpAsync(null, ["link", "add", bridge, "type", "bridge"]);
        await node.IpAsync(null, ["link", "set", bridge, "up"]);
        var server = await node.AddContainerAsync();
        var nodeEnd = node.NewLinkName("cnirt-dh");
        await node.AddVethAsync(nodeEnd, server, "dhcp0");
        await node.IpAsync(null, ["link", "set", nodeEnd, "master", bridge]);
        await node.IpAsync(server, ["addr", "add", subnet.Host(254) + "/24", "dev", "dhcp0"]);
        await node.IpAsync(server, ["link", "set", "lo", "up"]);

        var directory = node.NewTempDirectory("dhcp");
        var leases = Path.Combine(directory, "leases");
        var socket = Path.Combine(directory, "dhcp.sock");
        node.StartProcess(
            server,
            "dnsmasq",
            "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--interface=dhcp0", "--bind-interfaces",
            $"--dhcp-range={subnet.Host(100)},{subnet.Host(150)},255.255.255.0,1h", $"--dhcp-option=option:router,{subnet.Host(254)}",
            $"--dhcp-leasefile={leases}", $"--pid-file={Path.Combine(directory, "dnsmasq.pid")}", "--log-dhcp", "--log-facility=-");
        var daemon = node.StartProcess(null, Path.Combine(Prerequisites.PluginDirectory, "dhcp"), "daemon", "-socketpath", socket);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!File.Exists(socket))
        {
            Assert.True(daemon.IsRunning && DateTime.UtcNow < deadline, $"the dhcp daemon did not open {socket}: {daemon.Output}");
            await Task.Delay(50);
        }

        var list = Conflists.List(network, "1.0.0", $$"""
            { "type": "bridge", "bridge": "{{bridge}}", "ipam": { "type": "dhcp", "daemonSocketPath": "{{socket}}" } }
            """);
        return (list, subnet, leases);
    }
}
