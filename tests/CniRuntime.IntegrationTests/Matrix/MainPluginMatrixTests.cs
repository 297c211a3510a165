using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Protocol;
using static CniRuntime.Testing.CniTestNode;

namespace CniRuntime.IntegrationTests.Matrix;

/// <summary>
/// The reference interface plugins not covered by the bridge and ptp tests (macvlan, host-device, ipvlan, vlan),
/// each through ADD, the real state, CHECK, DEL, nothing left, DEL again, in an isolated node. bridge, ptp and
/// loopback are in their own test classes.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MainPluginMatrixTests : IAsyncLifetime
{
    private readonly MatrixNode _world = new();

    public Task InitializeAsync() => _world.InitializeAsync();

    public Task DisposeAsync() => _world.DisposeAsync();

    private CniTestNode Node => _world.Node;

    [IntegrationFact]
    public async Task Macvlan_in_bridge_mode_on_a_node_veth_gets_a_host_local_address_and_a_0_4_0_result_and_del_frees_it()
    {
        var master = Node.NewLinkName("cnirt-m");
        await Node.AddVethAsync(master);
        var subnet = NewSubnet();
        var list = Conflists.List("cnirt-mx-macvlan", "0.4.0", $$"""{ "type": "macvlan", "master": "{{master}}", "mode": "bridge", "ipam": {{Conflists.HostLocal(Node.IpamDataDirectory, subnet)}} }""");
        var container = await Node.AddContainerAsync();

        await _world.RunLifecycleAsync(
            list,
            container,
            async result =>
            {
                Assert.Equal(CniVersion.V040, result.CniVersion);
                var reported = Assert.Single(result.Interfaces);
                Assert.Equal(("eth0", container.Path), (reported.Name, reported.Sandbox));
                var eth0 = await _world.ContainerLinkAsync(container);
                Assert.Equal(("macvlan", reported.Mac), (eth0.Kind, eth0.Mac));
                Assert.Contains(subnet.Host(2) + "/24", eth0.Addresses);
                Assert.Contains($"default via {subnet.Host(1)} dev eth0", (await Node.ReadStateAsync(container)).Routes);
                Assert.Equal([subnet.Host(2)], _world.Reservations(list.Name));
            },
            afterDelete: () =>
            {
                Assert.Empty(_world.Reservations(list.Name));
                return Task.CompletedTask;
            });
    }

    [IntegrationFact]
    public async Task Host_device_moves_a_node_veth_into_the_container_with_a_static_address_and_del_returns_it_but_a_second_del_fails_on_a_plugin_bug()
    {
        var device = Node.NewLinkName("cnirt-hd");
        await Node.AddVethAsync(device);
        var mac = (await Node.ReadStateAsync()).FindLink(device)!.Mac;
        var subnet = NewSubnet();
        var list = Conflists.List("cnirt-mx-hostdev", "1.0.0", $$"""
            { "type": "host-device", "device": "{{device}}", "dns": { "nameservers": ["{{subnet.Host(1)}}"] },
              "ipam": { "type": "static", "addresses": [{ "address": "{{subnet.Host(5)}}/24", "gateway": "{{subnet.Host(1)}}" }],
                        "routes": [{ "dst": "0.0.0.0/0" }], "dns": { "nameservers": ["{{subnet.Host(9)}}"] } } }
            """);
        var container = await Node.AddContainerAsync();

        await _world.RunLifecycleAsync(
            list,
            container,
            async result =>
            {
                Assert.Null((await Node.ReadStateAsync()).FindLink(device));
                var eth0 = await _world.ContainerLinkAsync(container);
                Assert.Equal(("veth", mac), (eth0.Kind, eth0.Mac));
                Assert.Contains(subnet.Host(5) + "/24", eth0.Addresses);
                Assert.Contains($"default via {subnet.Host(1)} dev eth0", (await Node.ReadStateAsync(container)).Routes);
                var ip = Assert.Single(result.Ips);
                Assert.Equal((subnet.Host(5) + "/24", subnet.Host(1)), (ip.Address.ToString(), ip.Gateway?.ToString()));

                // host-device reports its own configuration's dns and drops the one static IPAM returned.
                Assert.Equal([subnet.Host(1)], result.Dns?.Nameservers);
            },
            afterDelete: async () => Assert.Equal(mac, (await Node.ReadStateAsync()).FindLink(device)?.Mac),

            // A bug of host-device 1.1.1: a second DEL fails because the device is no longer in the container.
            deleteAgain: runtime => _world.AssertSecondDeleteFailsAsync(list, runtime, "host-device", "failed to find \"eth0\": Link not found"));
    }

    [IntegrationFact]
    public Task Ipvlan_cannot_run_here_because_the_kernel_has_no_ipvlan_link_type_so_add_must_fail_cleanly() =>
        RunOnAParentOrFailCleanlyAsync(
            "ipvlan",
            "ipvlan links",
            (master, probe) => ["link", "add", probe, "link", master, "type", "ipvlan", "mode", "l2"],
            master => $"\"type\": \"ipvlan\", \"master\": \"{master}\", \"mode\": \"l2\"");

    [IntegrationFact]
    public Task Vlan_cannot_run_here_because_the_kernel_has_no_8021q_vlan_link_type_so_add_must_fail_cleanly() =>
        RunOnAParentOrFailCleanlyAsync(
            "vlan",
            "802.1Q vlan links",
            (master, probe) => ["link", "add", "link", master, "name", probe, "type", "vlan", "id", "100"],
            master => $"\"type\": \"vlan\", \"master\": \"{master}\", \"vlanId\": 100");

    // An interface plugin on a parent link the kernel may not support: where it refuses the link type, ADD must
    // fail with the plugin's report of that and leave nothing; a kernel that has it runs the whole lifecycle.
    private async Task RunOnAParentOrFailCleanlyAsync(string type, string linkType, Func<string, string, string[]> probe, Func<string, string> pluginKeys)
    {
        var master = Node.NewLinkName("cnirt-m");
        await Node.AddVethAsync(master);
        var subnet = NewSubnet();
        var list = Conflists.List("cnirt-mx-" + type, "1.0.0", $$"""{ {{pluginKeys(master)}}, "ipam": {{Conflists.HostLocal(Node.IpamDataDirectory, subnet)}} }""");
        var container = await Node.AddContainerAsync();

        if (await _world.KernelRefusesLinkAsync(p => probe(master, p)) is { } refusal)
        {
            await _world.AssertAddFailsCleanlyAsync(list, container, type, $"failed to create {type}: operation not supported", $"this kernel has no {linkType} ({refusal})");
            return;
        }

        await _world.RunLifecycleAsync(list, container, async _ =>
        {
            var eth0 = await _world.ContainerLinkAsync(container);
            Assert.Equal(type, eth0.Kind);
            Assert.Contains(subnet.Host(2) + "/24", eth0.Addresses);
        });
    }
}
