using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;
using static CniRuntime.IntegrationTests.Ports.PortMappingWorld;

namespace CniRuntime.IntegrationTests.Ports;

/// <summary>
/// The nftables port mapper against the real kernel: a bridge network, sandboxes with echo servers, and a client
/// namespace as another host. One class, so its tests (which share the node's ruleset) run one at a time.
/// </summary>
[Trait("Category", "Integration")]
public sealed class NftablesPortMapperTests : IAsyncLifetime
{
    private readonly NetnsFixture _fixture = new();
    private readonly string _table = string.Create(CultureInfo.InvariantCulture, $"cnirt_t{NextUnique()}");
    private PortMappingWorld _world = null!;
    private NftablesPortMapper _mapper = null!;

    public async Task InitializeAsync()
    {
        await _fixture.InitializeAsync();
        _world = await PortMappingWorld.CreateAsync(_fixture);
        _mapper = new NftablesPortMapper(new PortMapperOptions { StateDirectory = Path.Combine(_fixture.CacheDirectory, "portmap"), TableName = _table });
    }

    public async Task DisposeAsync()
    {
        await _world.DisposeAsync();
        await RunAsync("nft", "delete", "table", "ip", _table).ContinueWith(_ => { }, TaskScheduler.Default);
        await RunAsync("nft", "delete", "table", "ip6", _table).ContinueWith(_ => { }, TaskScheduler.Default);
        await _fixture.DisposeAsync();
    }

    [IntegrationFact]
    public async Task Tcp_and_udp_reach_the_sandbox_from_another_host_the_node_and_by_hairpin_and_unpublish_leaves_nothing()
    {
        var (netns, id, addresses) = await _world.AddSandboxAsync(80, 53);
        var (neighbour, _, _) = await _world.AddSandboxAsync(81, 54);
        var container = addresses[0].Address.ToString();

        var publication = await _mapper.PublishAsync(id, [new PortMapping(8080, 80), new PortMapping(5353, 53, "udp")], addresses, default);

        Assert.Equal(4, publication.Ports.Count); // "" is both families
        Assert.StartsWith("tcp:hi:", await AskAsync(_world.ClientNs, _world.HostIp6, 8080, "tcp"), StringComparison.Ordinal);
        Assert.Equal($"tcp:hi:{_world.LinkSubnet.Host(2)}", await AskAsync(_world.ClientNs, _world.HostIp, 8080, "tcp"));
        Assert.Equal($"udp:hi:{_world.LinkSubnet.Host(2)}", await AskAsync(_world.ClientNs, _world.HostIp, 5353, "udp"));
        Assert.StartsWith("tcp:hi:", await AskAsync(null, _world.HostIp, 8080, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("udp:hi:", await AskAsync(null, _world.HostIp, 5353, "udp"), StringComparison.Ordinal);
        // Hairpin: the sandbox itself and a neighbour on the same bridge, through the host IP (masqueraded).
        Assert.Equal($"tcp:hi:{_world.BridgeSubnet.Host(1)}", await AskAsync(netns, _world.HostIp, 8080, "tcp"));
        Assert.Equal($"tcp:hi:{_world.BridgeSubnet.Host(1)}", await AskAsync(neighbour, _world.HostIp, 8080, "tcp"));
        Assert.StartsWith("udp:hi:", await AskAsync(neighbour, _world.HostIp, 5353, "udp"), StringComparison.Ordinal);
        // Loopback is not DNAT'd without the opt-in.
        Assert.True(await FailsAsync(null, "127.0.0.1", 8080, "tcp"));
        Assert.NotEqual(container, _world.HostIp);
        Assert.Single(await _mapper.ListAsync(default));
        var (elements, rules, tables) = await CountOursAsync(_table);
        Assert.Equal((6, 2), (elements, tables)); // 2 forwards and 1 hairpin element per family

        Assert.True(await _mapper.UnpublishAsync(id, default));
        Assert.False(await _mapper.UnpublishAsync(id, default));

        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 8080, "tcp"));
        var after = await CountOursAsync(_table);
        Assert.Equal(0, after.Elements);
        Assert.Equal(rules, after.Rules); // the rule count never depends on the mappings
        Assert.Empty(await _mapper.ListAsync(default));
    }

    [IntegrationFact]
    public async Task IPv6_reaches_the_sandbox_from_another_host_the_node_and_a_neighbour_on_all_addresses_and_a_specific_one()
    {
        var (_, id, addresses) = await _world.AddSandboxAsync(80, 53);
        var (neighbour, _, _) = await _world.AddSandboxAsync(81, 54);
        var container6 = addresses.Single(a => !a.IsIPv4).Address.ToString();

        var publication = await _mapper.PublishAsync(id, [new PortMapping(8080, 80, "tcp", "::"), new PortMapping(5353, 53, "udp", _world.HostIp6)], addresses, default);

        Assert.All(publication.Ports, p => Assert.True(p.IsIPv6));
        Assert.Equal(container6, publication.Ports[0].ContainerAddress.ToString());
        Assert.Equal($"tcp:hi:{_world.LinkSubnet6}::2", await AskAsync(_world.ClientNs, _world.HostIp6, 8080, "tcp"));
        Assert.Equal($"udp:hi:{_world.LinkSubnet6}::2", await AskAsync(_world.ClientNs, _world.HostIp6, 5353, "udp"));
        Assert.StartsWith("tcp:hi:", await AskAsync(null, _world.HostIp6, 8080, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("tcp:hi:", await AskAsync(neighbour, _world.HostIp6, 8080, "tcp"), StringComparison.Ordinal);
        // "::" is IPv6 only.
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 8080, "tcp"));

        await _mapper.UnpublishAsync(id, default);
        Assert.Equal(0, (await CountOursAsync(_table)).Elements);
    }

    [IntegrationFact]
    public async Task Localhost_is_published_only_with_the_opt_in_and_route_localnet_is_set_on_the_bridge_alone()
    {
        var (_, id, addresses) = await _world.AddSandboxAsync(80, 53);
        var state = Path.Combine(_fixture.CacheDirectory, "portmap");
        await Assert.ThrowsAsync<CniException>(() => _mapper.PublishAsync(id, [new PortMapping(8484, 80, "tcp", "127.0.0.1")], addresses, default));
        var open = new NftablesPortMapper(new PortMapperOptions { StateDirectory = state, TableName = _table, AllowLocalhost = true });

        await open.PublishAsync(id, [new PortMapping(8484, 80, "tcp", "127.0.0.1"), new PortMapping(8485, 80)], addresses, default);

        Assert.StartsWith("tcp:hi:", await AskAsync(null, "127.0.0.1", 8484, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("tcp:hi:", await AskAsync(null, "127.0.0.1", 8485, "tcp"), StringComparison.Ordinal);
        Assert.Equal("0", (await File.ReadAllTextAsync("/proc/sys/net/ipv4/conf/all/route_localnet")).Trim());
        // The client host cannot use the loopback-bound port through the host IP.
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 8484, "tcp"));
        await open.UnpublishAsync(id, default);
        Assert.Equal(0, (await CountOursAsync(_table)).Elements);
    }

    [IntegrationFact]
    public async Task A_udp_flow_that_reached_the_host_before_publication_is_forwarded_after_it_because_its_conntrack_entry_is_deleted()
    {
        var (_, id, addresses) = await _world.AddSandboxAsync(80, 53);
        await _mapper.ReconcileAsync([], default); // our nat hooks make the node track connections
        // Nothing listens on the host: the datagram is refused, and conntrack remembers the un-NATed flow.
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 5454, "udp", sourcePort: 40404, timeoutSeconds: 1));
        Assert.Contains("dport=5454", await RunAsync("conntrack", "-L", "-p", "udp", "--orig-port-dst", "5454"), StringComparison.Ordinal);

        await _mapper.PublishAsync(id, [new PortMapping(5454, 53, "udp"), new PortMapping(5455, 53, "sctp")], addresses, default);

        Assert.Equal($"udp:hi:{_world.LinkSubnet.Host(2)}", await AskAsync(_world.ClientNs, _world.HostIp, 5454, "udp", sourcePort: 40404));
        await _mapper.UnpublishAsync(id, default);
        // Unpublish deletes the DNAT'd entry too, so the same flow no longer reaches the container.
        Assert.DoesNotContain("dport=5454", await RunAsync("conntrack", "-L", "-p", "udp", "--orig-port-dst", "5454"), StringComparison.Ordinal);
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 5454, "udp", sourcePort: 40404, timeoutSeconds: 1));
    }

    [IntegrationFact]
    public async Task A_specific_host_ip_and_a_100_port_range_are_published_and_removed()
    {
        var (_, id, addresses) = await _world.AddSandboxAsync(9000, 9001);
        var range = PortMappings.Range(20000, 9000, 100, hostIp: _world.HostIp);

        await _mapper.PublishAsync(id, [.. range, new PortMapping(20200, 9001, "udp", "0.0.0.0")], addresses, default);

        Assert.StartsWith("tcp:hi:", await AskAsync(_world.ClientNs, _world.HostIp, 20000, "tcp"), StringComparison.Ordinal);
        Assert.StartsWith("udp:hi:", await AskAsync(_world.ClientNs, _world.HostIp, 20200, "udp"), StringComparison.Ordinal);
        // 20001 maps to 9001 over TCP, where nothing listens: the DNAT happened, so the connection is refused by the sandbox.
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 20001, "tcp"));
        Assert.Equal(102, (await CountOursAsync(_table)).Elements);

        // Publishing again replaces the publication in one batch: the range goes, the new port comes.
        await _mapper.PublishAsync(id, [new PortMapping(20300, 9000)], addresses, default);
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 20000, "tcp"));
        Assert.StartsWith("tcp:hi:", await AskAsync(_world.ClientNs, _world.HostIp, 20300, "tcp"), StringComparison.Ordinal);
        Assert.Equal(4, (await CountOursAsync(_table)).Elements); // 1 forward and 1 hairpin element per family

        await _mapper.UnpublishAsync(id, default);
        Assert.Equal(0, (await CountOursAsync(_table)).Elements);
    }

    [IntegrationFact]
    public async Task Conflicts_with_another_sandbox_and_host_listeners_are_refused_and_ports_are_released_on_unpublish()
    {
        var (_, first, a) = await _world.AddSandboxAsync(80, 53);
        var (_, second, b) = await _world.AddSandboxAsync(80, 53);
        await _mapper.PublishAsync(first, [new PortMapping(8181, 80)], a, default);

        var same = await Assert.ThrowsAsync<CniException>(() => _mapper.PublishAsync(second, [new PortMapping(8181, 80)], b, default));
        Assert.Contains(first, same.Message, StringComparison.Ordinal);
        Assert.Contains("8181", same.Message, StringComparison.Ordinal);
        var specific = await Assert.ThrowsAsync<CniException>(() => _mapper.PublishAsync(second, [new PortMapping(8181, 80, "tcp", _world.HostIp)], b, default));
        Assert.Contains(first, specific.Message, StringComparison.Ordinal);
        // Another protocol on the same port is fine.
        await _mapper.PublishAsync(second, [new PortMapping(8181, 53, "udp")], b, default);

        using (var listener = new TcpListener(IPAddress.Any, 0))
        {
            listener.Start();
            var busy = ((IPEndPoint)listener.LocalEndpoint).Port;
            var held = await Assert.ThrowsAsync<CniException>(() => _mapper.PublishAsync(second, [new PortMapping(busy, 80)], b, default));
            Assert.Contains("host process", held.Message, StringComparison.Ordinal);
            Assert.Contains(busy.ToString(CultureInfo.InvariantCulture), held.Message, StringComparison.Ordinal);
        }

        // The failed attempts left the second sandbox's publication as it was.
        Assert.All((await _mapper.ListAsync(default)).Single(p => p.SandboxId == second).Ports, p => Assert.Equal("udp", p.Protocol));

        await _mapper.UnpublishAsync(first, default);
        await _mapper.PublishAsync(second, [new PortMapping(8181, 80)], b, default);
        Assert.StartsWith("tcp:hi:", await AskAsync(_world.ClientNs, _world.HostIp, 8181, "tcp"), StringComparison.Ordinal);
        await _mapper.UnpublishAsync(second, default);
        Assert.Equal(0, (await CountOursAsync(_table)).Elements);
    }

    [IntegrationFact]
    public async Task After_nft_flush_ruleset_reconcile_restores_service_and_drops_sandboxes_that_are_gone()
    {
        var (_, live, a) = await _world.AddSandboxAsync(80, 53);
        var (_, gone, b) = await _world.AddSandboxAsync(80, 53);
        await _mapper.PublishAsync(live, [new PortMapping(8282, 80)], a, default);
        await _mapper.PublishAsync(gone, [new PortMapping(8283, 80)], b, default);

        await RunAsync("nft", "flush", "ruleset");
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 8282, "tcp"));

        await _mapper.ReconcileAsync([live], default);

        Assert.StartsWith("tcp:hi:", await AskAsync(_world.ClientNs, _world.HostIp, 8282, "tcp"), StringComparison.Ordinal);
        Assert.True(await FailsAsync(_world.ClientNs, _world.HostIp, 8283, "tcp"));
        Assert.Equal(live, Assert.Single(await _mapper.ListAsync(default)).SandboxId);
        // Unpublish works on a kernel that lost its elements as well (idempotent delete).
        await RunAsync("nft", "flush", "ruleset");
        Assert.True(await _mapper.UnpublishAsync(live, default));
        Assert.Equal(0, (await CountOursAsync(_table)).Elements);
    }
}
