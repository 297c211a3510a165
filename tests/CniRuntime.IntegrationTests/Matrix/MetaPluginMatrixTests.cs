using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Protocol;
using static CniRuntime.Testing.CniTestNode;

namespace CniRuntime.IntegrationTests.Matrix;

/// <summary>
/// The reference meta plugins (portmap, firewall, tuning, bandwidth, sbr, vrf), each chained after ptp with
/// host-local in an isolated node, through ADD, the real state (firewall rules, sysctls, qdiscs, policy routing),
/// CHECK, DEL, nothing left, DEL again.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MetaPluginMatrixTests : IAsyncLifetime
{
    private readonly MatrixNode _world = new();

    public Task InitializeAsync() => _world.InitializeAsync();

    public Task DisposeAsync() => _world.DisposeAsync();

    private CniTestNode Node => _world.Node;

    [IntegrationFact]
    public async Task Portmap_adds_a_dnat_chain_for_the_container_and_del_leaves_only_its_shared_chains_but_check_fails_on_a_plugin_bug()
    {
        var subnet = NewSubnet();
        var list = Conflists.PtpChain("cnirt-mx-portmap", Node.IpamDataDirectory, subnet, """{ "type": "portmap", "capabilities": { "portMappings": true } }""");
        var container = await Node.AddContainerAsync();
        var ports = new Dictionary<string, JsonElement> { ["portMappings"] = JsonSerializer.SerializeToElement(new JsonArray(new JsonObject { ["hostPort"] = 8080, ["containerPort"] = 80, ["protocol"] = "tcp" })) };
        var before = await _world.IptablesAsync();

        await _world.RunLifecycleAsync(
            list,
            container,
            async _ =>
            {
                var rules = await _world.IptablesAsync();
                Assert.Contains(rules, r => r.StartsWith("-A CNI-DN-", StringComparison.Ordinal) && r.EndsWith($"-p tcp -m tcp --dport 8080 -j DNAT --to-destination {subnet.Host(2)}:80", StringComparison.Ordinal));
                Assert.Contains(rules, r => r.StartsWith("-A CNI-HOSTPORT-DNAT -p tcp", StringComparison.Ordinal) && r.Contains("--dports 8080 -j CNI-DN-", StringComparison.Ordinal));
            },

            // The chains every portmap attachment shares stay, as the plugin intends; nothing of this container does.
            afterDelete: () => _world.AssertOnlySharedChainsRemainAsync(before, subnet, "CNI-HOSTPORT-"),
            check: async runtime =>
            {
                // A bug of portmap 1.1.1: CHECK also looks for the container's IPv6 DNAT chain, which an IPv4-only
                // network never gets, so CHECK of every IPv4 portmap attachment fails.
                var error = await Assert.ThrowsAsync<CniPluginException>(() => _world.Client.CheckNetworkListAsync(list, runtime));
                Assert.Equal("portmap", error.PluginType);
                Assert.Matches("^could not check ipv6 dnat: chain CNI-DN-[0-9a-f]+ not found in iptables table nat$", error.ErrorMessage);
            },
            capabilityArgs: ports);
    }

    [IntegrationFact]
    public async Task Firewall_accepts_the_containers_traffic_in_its_forward_chain_and_del_removes_those_rules()
    {
        var subnet = NewSubnet();
        var list = Conflists.PtpChain("cnirt-mx-firewall", Node.IpamDataDirectory, subnet, """{ "type": "firewall", "backend": "iptables" }""");
        var container = await Node.AddContainerAsync();
        var before = await _world.IptablesAsync();

        await _world.RunLifecycleAsync(
            list,
            container,
            async _ =>
            {
                var rules = await _world.IptablesAsync();
                Assert.Contains($"-A CNI-FORWARD -s {subnet.Host(2)}/32 -j ACCEPT", rules);
                Assert.Contains($"-A CNI-FORWARD -d {subnet.Host(2)}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", rules);
                Assert.Contains("-A FORWARD -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD", rules);
            },

            // CNI-FORWARD, CNI-ADMIN and the jump to them are shared and stay; the container's rules go.
            afterDelete: () => _world.AssertOnlySharedChainsRemainAsync(before, subnet, "CNI-FORWARD", "CNI-ADMIN"));
    }

    [IntegrationFact]
    public async Task Tuning_sets_the_sysctl_mtu_promiscuous_mode_and_mac_of_the_container_interface()
    {
        const string Mac = "02:11:22:33:44:55";
        var subnet = NewSubnet();
        var list = Conflists.PtpChain("cnirt-mx-tuning", Node.IpamDataDirectory, subnet, $$"""
            { "type": "tuning", "mtu": 1400, "promisc": true, "mac": "{{Mac}}", "sysctl": { "net.ipv4.conf.eth0.arp_ignore": "1" } }
            """);
        var container = await Node.AddContainerAsync();

        await _world.RunLifecycleAsync(list, container, async result =>
        {
            var eth0 = await _world.ContainerLinkAsync(container);
            Assert.Equal((1400, Mac), (eth0.Mtu, eth0.Mac));
            Assert.Contains("PROMISC", eth0.Flags);
            Assert.Equal("1", (await Node.ExecAsync(container, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore")).Trim());
            Assert.Equal(Mac, result.Interfaces.Single(i => i.Name == "eth0").Mac);
        });
    }

    [IntegrationFact]
    public async Task Bandwidth_shapes_both_directions_with_tbf_on_the_host_veth_and_an_ifb_and_del_removes_the_ifb()
    {
        var subnet = NewSubnet();
        var list = Conflists.PtpChain("cnirt-mx-bandwidth", Node.IpamDataDirectory, subnet, """
            { "type": "bandwidth", "ingressRate": 1000000, "ingressBurst": 100000, "egressRate": 2000000, "egressBurst": 200000 }
            """);
        var container = await Node.AddContainerAsync();
        string? ifb = null;

        await _world.RunLifecycleAsync(
            list,
            container,
            async result =>
            {
                var hostVeth = result.Interfaces[0].Name;
                ifb = Assert.Single(result.Interfaces, i => i.Name.StartsWith("bwp", StringComparison.Ordinal)).Name;
                Assert.Equal("ifb", (await Node.ReadStateAsync()).FindLink(ifb)?.Kind);
                Assert.Equal(["ingress", "tbf"], await QdiscKindsAsync(hostVeth));
                Assert.Equal(["tbf"], await QdiscKindsAsync(ifb));
            },
            afterDelete: async () => Assert.Null((await Node.ReadStateAsync()).FindLink(ifb!)));
    }

    [IntegrationFact]
    public async Task Sbr_moves_the_containers_routes_to_a_table_of_its_own_with_a_source_rule_and_del_removes_it_but_check_and_a_second_del_fail_on_plugin_bugs()
    {
        var subnet = NewSubnet();
        var list = Conflists.PtpChain("cnirt-mx-sbr", Node.IpamDataDirectory, subnet, """{ "type": "sbr" }""");
        var container = await Node.AddContainerAsync();

        await _world.RunLifecycleAsync(
            list,
            container,
            async _ =>
            {
                var state = await Node.ReadStateAsync(container);
                Assert.Contains($"32765: from {subnet.Host(2)} lookup 100", state.Rules);
                Assert.Contains($"default via {subnet.Host(1)} dev eth0 table 100", state.Routes);
                Assert.DoesNotContain($"default via {subnet.Host(1)} dev eth0", state.Routes);
            },
            check: async runtime =>
            {
                // A bug of ptp 1.1.1: its CHECK looks for the gateway route in the main table only, though the
                // specification says CHECK must allow a later plugin to have changed routes, as sbr does.
                var error = await Assert.ThrowsAsync<CniPluginException>(() => _world.Client.CheckNetworkListAsync(list, runtime));
                Assert.Equal(("ptp", $"Failed to find Gateway {subnet.Host(1)} for interface eth0"), (error.PluginType, error.ErrorMessage));
            },

            // A bug of sbr 1.1.1: a second DEL fails because eth0 is gone, where plugins must accept repeated DELs.
            deleteAgain: runtime => _world.AssertSecondDeleteFailsAsync(list, runtime, "sbr", "Failed to get link eth0: Link not found"));
    }

    [IntegrationFact]
    public async Task Vrf_cannot_run_here_because_the_kernel_has_no_vrf_link_type_so_add_must_fail_cleanly()
    {
        var subnet = NewSubnet();
        var list = Conflists.PtpChain("cnirt-mx-vrf", Node.IpamDataDirectory, subnet, """{ "type": "vrf", "vrfname": "blue" }""");
        var container = await Node.AddContainerAsync();

        if (await _world.KernelRefusesLinkAsync(probe => ["link", "add", probe, "type", "vrf", "table", "10"]) is { } refusal)
        {
            await _world.AssertAddFailsCleanlyAsync(list, container, "vrf", "could not add VRF blue: operation not supported", $"this kernel has no VRF links ({refusal})");
            return;
        }

        // A kernel with VRF links runs the whole lifecycle instead.
        await _world.RunLifecycleAsync(list, container, async _ =>
        {
            var state = await Node.ReadStateAsync(container);
            Assert.Equal("vrf", state.FindLink("blue")?.Kind);
            Assert.Equal("blue", state.FindLink("eth0")?.Master);
        });
    }

    private async Task<List<string>> QdiscKindsAsync(string device) =>
        [.. JsonNode.Parse(await Node.ExecAsync(null, "tc", "-j", "qdisc", "show", "dev", device))!.AsArray()
            .Select(q => (string)q!["kind"]!).Where(k => k != "noqueue").Order(StringComparer.Ordinal)];
}
