using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;
using static CniRuntime.IntegrationTests.Ports.PortMappingWorld;

namespace CniRuntime.IntegrationTests.Ports;

/// <summary>The tests that rewrite or flush the node's firewall run alone, after the others.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NetfilterTests
{
    public const string Name = "netfilter";
}

/// <summary>What the kernel holds of ours, counted in the backend's own terms.</summary>
/// <param name="Data">Forwards plus hairpin entries (map elements in nftables, DNAT and MASQUERADE rules in iptables).</param>
/// <param name="Structure">The rules that are there whatever is published.</param>
/// <param name="PerSandbox">Sandbox chains and their dispatch jumps (iptables; always 0 in nftables).</param>
public sealed record OursCount(int Data, int Structure, int PerSandbox);

/// <summary>
/// The port mapper against the real kernel, once per backend: a bridge network, sandboxes with echo servers, and a
/// client namespace as another host. The tests share the node's ruleset, so they run one at a time.
/// </summary>
[Trait("Category", "Integration")]
public abstract class PortMapperSuite : IAsyncLifetime
{
    private readonly NetnsFixture _fixture = new();

    protected PortMapperSuite() => Table = string.Create(CultureInfo.InvariantCulture, $"cnirt_t{NextUnique() % 100_000}");

    /// <summary>The table name of this test (unique, so leftovers of one test never pass for another's state).</summary>
    protected string Table { get; }

    protected abstract PortMappingBackend Backend { get; }

    private protected PortMappingWorld World { get; private set; } = null!;

    private protected PortMapper Mapper { get; private set; } = null!;

    protected string StateDirectory => Path.Combine(_fixture.CacheDirectory, "portmap");

    public async Task InitializeAsync()
    {
        await _fixture.InitializeAsync();
        World = await PortMappingWorld.CreateAsync(_fixture);
        Mapper = NewMapper(allowLocalhost: false);
    }

    public async Task DisposeAsync()
    {
        await World.DisposeAsync();
        await NewMapper(allowLocalhost: false).PurgeAsync();
        var left = await CountOursAsync();
        await _fixture.DisposeAsync();
        Assert.Equal(new OursCount(0, 0, 0), left);
    }

    /// <summary>Counts what the kernel holds under <see cref="Table"/>.</summary>
    protected abstract Task<OursCount> CountOursAsync();

    /// <summary>Loses the kernel state the way an admin or a firewall reload does.</summary>
    protected abstract Task LoseKernelStateAsync();

    /// <summary>Takes the 127.0.0.0/8 guard away (to show the forged-packet test notices its absence).</summary>
    protected abstract Task RemoveGuardAsync();

    private protected PortMapper NewMapper(bool allowLocalhost) =>
        new(new PortMapperOptions { StateDirectory = StateDirectory, TableName = Table, Backend = Backend, AllowLocalhost = allowLocalhost });

    [IntegrationFact]
    public async Task Tcp_and_udp_reach_the_sandbox_from_another_host_the_node_and_by_hairpin_and_unpublish_leaves_nothing()
    {
        var (netns, id, addresses) = await World.AddSandboxAsync(80, 53);
        var (neighbour, _, _) = await World.AddSandboxAsync(81, 54);

        var publication = await Mapper.PublishAsync(id, [new PortMapping(8080, 80), new PortMapping(5353, 53, "udp")], addresses, default);

        Assert.Equal(Backend, publication.Backend);
        Assert.Equal(4, publication.Ports.Count); // "" is both families
        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp6, 8080, "tcp"), StringComparison.Ordinal);
        Assert.Equal($"tcp:hi:{World.ClientIp}", await AskAsync(World.ClientNs, World.HostIp, 8080, "tcp"));
        Assert.Equal($"udp:hi:{World.ClientIp}", await AskAsync(World.ClientNs, World.HostIp, 5353, "udp"));
        Assert.StartsWith("tcp:hi:", await AskAsync(null, World.HostIp, 8080, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("udp:hi:", await AskAsync(null, World.HostIp, 5353, "udp"), StringComparison.Ordinal);
        // Hairpin: the sandbox itself and a neighbour on the same bridge, through the host IP (masqueraded).
        Assert.Equal($"tcp:hi:{World.BridgeSubnet.Host(1)}", await AskAsync(netns, World.HostIp, 8080, "tcp"));
        Assert.Equal($"tcp:hi:{World.BridgeSubnet.Host(1)}", await AskAsync(neighbour, World.HostIp, 8080, "tcp"));
        Assert.StartsWith("udp:hi:", await AskAsync(neighbour, World.HostIp, 5353, "udp"), StringComparison.Ordinal);
        // Loopback is not DNAT'd without the opt-in.
        Assert.True(await FailsAsync(null, "127.0.0.1", 8080, "tcp"));
        Assert.Single(await Mapper.ListAsync(default));
        var published = await CountOursAsync();
        Assert.Equal(6, published.Data); // 2 forwards and 1 hairpin per family

        Assert.True(await Mapper.UnpublishAsync(id, default));
        Assert.False(await Mapper.UnpublishAsync(id, default));

        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 8080, "tcp"));
        var after = await CountOursAsync();
        Assert.Equal(new OursCount(0, published.Structure, 0), after); // the structure never depends on the mappings
        Assert.Empty(await Mapper.ListAsync(default));
    }

    [IntegrationFact]
    public async Task Hairpin_works_with_bridge_netfilter_off_as_well_as_on()
    {
        // With bridge-nf-call-iptables=1 (the default here, and the tests above) the bridge itself DNATs frames; with
        // 0 hairpin traffic is routed through the host instead. Both must reach the sandbox, from itself and a neighbour.
        var (netns, id, addresses) = await World.AddSandboxAsync(80, 53);
        var (neighbour, _, _) = await World.AddSandboxAsync(81, 54);
        await Mapper.PublishAsync(id, [new PortMapping(8086, 80), new PortMapping(5356, 53, "udp")], addresses, default);
        await RunAsync("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0");
        try
        {
            Assert.Equal($"tcp:hi:{World.BridgeSubnet.Host(1)}", await AskAsync(netns, World.HostIp, 8086, "tcp"));
            Assert.Equal($"tcp:hi:{World.BridgeSubnet.Host(1)}", await AskAsync(neighbour, World.HostIp, 8086, "tcp"));
            Assert.StartsWith("udp:hi:", await AskAsync(neighbour, World.HostIp, 5356, "udp"), StringComparison.Ordinal);
            Assert.StartsWith("tcp:hi:", await AskAsync(neighbour, World.HostIp6, 8086, "tcp"), StringComparison.Ordinal);
        }
        finally
        {
            await RunAsync("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1");
        }

        await Mapper.UnpublishAsync(id, default);
    }

    [IntegrationFact]
    public async Task IPv6_reaches_the_sandbox_from_another_host_the_node_and_a_neighbour_on_all_addresses_and_a_specific_one()
    {
        var (_, id, addresses) = await World.AddSandboxAsync(80, 53);
        var (neighbour, _, _) = await World.AddSandboxAsync(81, 54);
        var container6 = addresses.Single(a => !a.IsIPv4).Address.ToString();

        var publication = await Mapper.PublishAsync(id, [new PortMapping(8080, 80, "tcp", "::"), new PortMapping(5353, 53, "udp", World.HostIp6)], addresses, default);

        Assert.All(publication.Ports, p => Assert.True(p.IsIPv6));
        Assert.Equal(container6, publication.Ports[0].ContainerAddress.ToString());
        Assert.Equal($"tcp:hi:{World.LinkSubnet6}::2", await AskAsync(World.ClientNs, World.HostIp6, 8080, "tcp"));
        Assert.Equal($"udp:hi:{World.LinkSubnet6}::2", await AskAsync(World.ClientNs, World.HostIp6, 5353, "udp"));
        Assert.StartsWith("tcp:hi:", await AskAsync(null, World.HostIp6, 8080, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("tcp:hi:", await AskAsync(neighbour, World.HostIp6, 8080, "tcp"), StringComparison.Ordinal);
        // "::" is IPv6 only.
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 8080, "tcp"));

        await Mapper.UnpublishAsync(id, default);
        Assert.Equal(0, (await CountOursAsync()).Data);
    }

    [IntegrationFact]
    public async Task Localhost_is_published_only_with_the_opt_in_and_route_localnet_is_set_on_the_bridge_alone()
    {
        var (_, id, addresses) = await World.AddSandboxAsync(80, 53);
        await Assert.ThrowsAsync<CniException>(() => Mapper.PublishAsync(id, [new PortMapping(8484, 80, "tcp", "127.0.0.1")], addresses, default));
        var open = NewMapper(allowLocalhost: true);

        await open.PublishAsync(id, [new PortMapping(8484, 80, "tcp", "127.0.0.1"), new PortMapping(8485, 80)], addresses, default);

        Assert.StartsWith("tcp:hi:", await AskAsync(null, "127.0.0.1", 8484, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("tcp:hi:", await AskAsync(null, "127.0.0.1", 8485, "tcp"), StringComparison.Ordinal);
        Assert.Equal("0", (await File.ReadAllTextAsync("/proc/sys/net/ipv4/conf/all/route_localnet")).Trim());
        // The client host cannot use the loopback-bound port through the host IP.
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 8484, "tcp"));
        await open.UnpublishAsync(id, default);
        Assert.Equal(0, (await CountOursAsync()).Data);
    }

    [IntegrationFact]
    public async Task A_neighbour_forging_frames_to_127_0_0_1_never_reaches_a_loopback_published_port()
    {
        var (netns, id, addresses) = await World.AddSandboxAsync(80, 53);
        var container = addresses.First(a => a.IsIPv4).Address.ToString();
        var open = NewMapper(allowLocalhost: true);
        await open.PublishAsync(id, [new PortMapping(8484, 80, "tcp", "127.0.0.1")], addresses, default);

        // The forged SYN to 127.0.0.1:8484 would be DNAT'd to the sandbox (moby#41872): the guard drops it first.
        Assert.Null(await SniffAsync(netns, 6, World.ClientIp, () => World.SendForgedSynAsync("127.0.0.1", 8484), seconds: 1.5));
        // The same frame to the node's own address is DNAT'd when published there: the forging itself works.
        await open.PublishAsync(id, [new PortMapping(8484, 80, "tcp", "127.0.0.1"), new PortMapping(8486, 80, "tcp", World.HostIp)], addresses, default);
        Assert.Equal($"{container}:80", await SniffAsync(netns, 6, World.ClientIp, () => World.SendForgedSynAsync(World.HostIp, 8486)));
        // And without the guard the attack succeeds, which is what the first check proves absent.
        await RemoveGuardAsync();
        Assert.Equal($"{container}:80", await SniffAsync(netns, 6, World.ClientIp, () => World.SendForgedSynAsync("127.0.0.1", 8484)));
        await open.ReconcileAsync([id], default);
        Assert.Null(await SniffAsync(netns, 6, World.ClientIp, () => World.SendForgedSynAsync("127.0.0.1", 8484), seconds: 1.5));
        await open.UnpublishAsync(id, default);
    }

    [IntegrationFact]
    public async Task Sctp_is_dnatted_to_the_container_port()
    {
        // This kernel has no SCTP sockets (CONFIG_IP_SCTP is off), but netfilter tracks and NATs SCTP: a raw INIT
        // from the client must arrive in the sandbox addressed to the container's port.
        var (netns, id, addresses) = await World.AddSandboxAsync(80, 53);
        var container = addresses.First(a => a.IsIPv4).Address.ToString();
        await Mapper.PublishAsync(id, [new PortMapping(3868, 3869, "sctp"), new PortMapping(3870, 3871, "sctp", World.HostIp)], addresses, default);

        Assert.Equal($"{container}:3869", await SniffAsync(netns, 132, World.ClientIp, () => World.SendSctpInitAsync(World.HostIp, 3868)));
        Assert.Equal($"{container}:3871", await SniffAsync(netns, 132, World.ClientIp, () => World.SendSctpInitAsync(World.HostIp, 3870)));

        await Mapper.UnpublishAsync(id, default);
        Assert.Null(await SniffAsync(netns, 132, World.ClientIp, () => World.SendSctpInitAsync(World.HostIp, 3868), seconds: 1.5));
    }

    [IntegrationFact]
    public async Task A_udp_flow_that_reached_the_host_before_publication_is_forwarded_after_it_because_its_conntrack_entry_is_deleted()
    {
        var (_, id, addresses) = await World.AddSandboxAsync(80, 53);
        await Mapper.ReconcileAsync([], default); // our nat hooks make the node track connections
        // Nothing listens on the host: the datagram is refused, and conntrack remembers the un-NATed flow.
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 5454, "udp", sourcePort: 40404, timeoutSeconds: 1));
        Assert.Contains("dport=5454", await RunAsync("conntrack", "-L", "-p", "udp", "--orig-port-dst", "5454"), StringComparison.Ordinal);
        // An unrelated flow, which no conntrack deletion of ours may touch (an empty filter would flush it).
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 5999, "udp", sourcePort: 40405, timeoutSeconds: 1));

        await Mapper.PublishAsync(id, [new PortMapping(5454, 53, "udp"), new PortMapping(5455, 53, "sctp")], addresses, default);

        Assert.Equal($"udp:hi:{World.ClientIp}", await AskAsync(World.ClientNs, World.HostIp, 5454, "udp", sourcePort: 40404));
        await Mapper.UnpublishAsync(id, default);
        // Unpublish deletes the DNAT'd entry too, so the same flow no longer reaches the container.
        Assert.DoesNotContain("dport=5454", await RunAsync("conntrack", "-L", "-p", "udp", "--orig-port-dst", "5454"), StringComparison.Ordinal);
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 5454, "udp", sourcePort: 40404, timeoutSeconds: 1));
        Assert.Contains("dport=5999", await RunAsync("conntrack", "-L", "-p", "udp", "--orig-port-dst", "5999"), StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task A_specific_host_ip_and_a_100_port_range_are_published_and_removed()
    {
        var (_, id, addresses) = await World.AddSandboxAsync(9000, 9001);
        var range = PortMappings.Range(20000, 9000, 100, hostIp: World.HostIp);

        await Mapper.PublishAsync(id, [.. range, new PortMapping(20200, 9001, "udp", "0.0.0.0")], addresses, default);

        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 20000, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("udp:hi:", await AskAsync(World.ClientNs, World.HostIp, 20200, "udp"), StringComparison.Ordinal);
        // 20001 maps to 9001 over TCP, where nothing listens: the DNAT happened, so the connection is refused by the sandbox.
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 20001, "tcp"));
        Assert.Equal(102, (await CountOursAsync()).Data);

        // Publishing again replaces the publication in one batch: the range goes, the new port comes.
        await Mapper.PublishAsync(id, [new PortMapping(20300, 9000)], addresses, default);
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 20000, "tcp"));
        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 20300, "tcp"), StringComparison.Ordinal);
        Assert.Equal(4, (await CountOursAsync()).Data); // 1 forward and 1 hairpin per family

        await Mapper.UnpublishAsync(id, default);
        Assert.Equal(0, (await CountOursAsync()).Data);
    }

    [IntegrationFact]
    public async Task Conflicts_with_another_sandbox_and_host_listeners_are_refused_and_ports_are_released_on_unpublish()
    {
        var (_, first, a) = await World.AddSandboxAsync(80, 53);
        var (_, second, b) = await World.AddSandboxAsync(80, 53);
        await Mapper.PublishAsync(first, [new PortMapping(8181, 80)], a, default);

        var same = await Assert.ThrowsAsync<CniException>(() => Mapper.PublishAsync(second, [new PortMapping(8181, 80)], b, default));
        Assert.Contains(first, same.Message, StringComparison.Ordinal);
        Assert.Contains("8181", same.Message, StringComparison.Ordinal);
        var specific = await Assert.ThrowsAsync<CniException>(() => Mapper.PublishAsync(second, [new PortMapping(8181, 80, "tcp", World.HostIp)], b, default));
        Assert.Contains(first, specific.Message, StringComparison.Ordinal);
        // Another protocol on the same port is fine.
        await Mapper.PublishAsync(second, [new PortMapping(8181, 53, "udp")], b, default);

        using (var listener = new TcpListener(IPAddress.Any, 0))
        {
            listener.Start();
            var busy = ((IPEndPoint)listener.LocalEndpoint).Port;
            var held = await Assert.ThrowsAsync<CniException>(() => Mapper.PublishAsync(second, [new PortMapping(busy, 80)], b, default));
            Assert.Contains("host process", held.Message, StringComparison.Ordinal);
            Assert.Contains(busy.ToString(CultureInfo.InvariantCulture), held.Message, StringComparison.Ordinal);
        }

        // The failed attempts left the second sandbox's publication as it was.
        Assert.All((await Mapper.ListAsync(default)).Single(p => p.SandboxId == second).Ports, p => Assert.Equal("udp", p.Protocol));

        await Mapper.UnpublishAsync(first, default);
        await Mapper.PublishAsync(second, [new PortMapping(8181, 80)], b, default);
        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 8181, "tcp"), StringComparison.Ordinal);
        await Mapper.UnpublishAsync(second, default);
        Assert.Equal(0, (await CountOursAsync()).Data);
    }

    [IntegrationFact]
    public async Task After_the_kernel_lost_its_rules_reconcile_restores_service_and_drops_sandboxes_that_are_gone()
    {
        var (_, live, a) = await World.AddSandboxAsync(80, 53);
        var (_, gone, b) = await World.AddSandboxAsync(80, 53);
        await Mapper.PublishAsync(live, [new PortMapping(8282, 80)], a, default);
        await Mapper.PublishAsync(gone, [new PortMapping(8283, 80)], b, default);

        await LoseKernelStateAsync();
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 8282, "tcp"));

        await Mapper.ReconcileAsync([live], default);

        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 8282, "tcp"), StringComparison.Ordinal);
        Assert.True(await FailsAsync(World.ClientNs, World.HostIp, 8283, "tcp"));
        Assert.Equal(live, Assert.Single(await Mapper.ListAsync(default)).SandboxId);
        // Unpublish works on a kernel that lost its rules as well (idempotent delete).
        await LoseKernelStateAsync();
        Assert.True(await Mapper.UnpublishAsync(live, default));
        Assert.Equal(0, (await CountOursAsync()).Data);
    }

    [IntegrationFact]
    public async Task A_publication_after_the_kernel_lost_its_rules_works_and_brings_back_the_others()
    {
        var (_, first, a) = await World.AddSandboxAsync(80, 53);
        var (_, second, b) = await World.AddSandboxAsync(80, 53);
        await Mapper.PublishAsync(first, [new PortMapping(8383, 80)], a, default);
        await LoseKernelStateAsync();

        await Mapper.PublishAsync(second, [new PortMapping(8384, 80)], b, default);

        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 8384, "tcp"), StringComparison.Ordinal);
        if (Backend == PortMappingBackend.Iptables)
        {
            // A payload that finds our rules missing rebuilds the family from the state, the others included.
            Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 8383, "tcp"), StringComparison.Ordinal);
        }

        await Mapper.ReconcileAsync([first, second], default);
        Assert.StartsWith("tcp:hi:", await AskAsync(World.ClientNs, World.HostIp, 8383, "tcp"), StringComparison.Ordinal);
    }
}
