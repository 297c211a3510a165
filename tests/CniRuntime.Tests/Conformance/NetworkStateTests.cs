using System.Text.Json;
using CniRuntime.Conformance;

namespace CniRuntime.Tests.Conformance;

/// <summary>A namespace's state read from iproute2's JSON, and what a later state holds that an earlier did not.</summary>
public sealed class NetworkStateTests
{
    private const string Addresses = """
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"address":"00:00:00:00:00:00",
          "addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},
         {"ifindex":2,"ifname":"eth0","flags":["BROADCAST","UP"],"mtu":1400,"address":"02:11:22:33:44:55","master":"blue",
          "linkinfo":{"info_kind":"veth"},
          "addr_info":[{"family":"inet","local":"10.9.0.2","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]
        """;

    private const string Routes = """
        [{"dst":"default","gateway":"10.9.0.1","dev":"eth0","table":"100"},
         {"dst":"10.9.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.9.0.2"},
         {"type":"local","dst":"10.9.0.2","dev":"eth0","table":"local"},
         {"dst":"fe80::/64","dev":"eth0","metric":256}]
        """;

    private const string Rules = """[{"priority":0,"src":"all","table":"local"},{"priority":32765,"src":"10.9.0.2","table":"100"}]""";

    private static NetworkState Parse(string addresses, string routes, string rules) => NetworkState.FromIpJson(
        JsonDocument.Parse(addresses).RootElement,
        JsonDocument.Parse(routes).RootElement.EnumerateArray(),
        JsonDocument.Parse(rules).RootElement.EnumerateArray());

    [Fact]
    public void Links_carry_kind_mac_mtu_flags_master_and_addresses()
    {
        var state = Parse(Addresses, Routes, Rules);

        var eth0 = state.FindLink("eth0")!;
        Assert.Equal(("veth", "02:11:22:33:44:55", 1400, "blue", true), (eth0.Kind, eth0.Mac, eth0.Mtu, eth0.Master, eth0.IsUp));
        Assert.Equal(["10.9.0.2/24", "fe80::1/64"], eth0.Addresses);
        Assert.Null(state.FindLink("lo")!.Kind);
        Assert.Null(state.FindLink("eth1"));
    }

    [Fact]
    public void Routes_and_rules_read_as_iproute2_writes_them_without_metrics_or_protocols()
    {
        var state = Parse(Addresses, Routes, Rules);

        Assert.Equal(["default via 10.9.0.1 dev eth0 table 100", "10.9.0.0/24 dev eth0", "local 10.9.0.2 dev eth0 table local", "fe80::/64 dev eth0"], state.Routes);
        Assert.Equal(["0: from all lookup local", "32765: from 10.9.0.2 lookup 100"], state.Rules);
    }

    [Fact]
    public void Leftovers_are_the_links_addresses_routes_and_rules_the_baseline_lacks_but_not_ipv6_link_local_ones()
    {
        var before = Parse("""[{"ifname":"lo","mtu":65536,"flags":[],"addr_info":[]}]""", "[]", """[{"priority":0,"src":"all","table":"local"}]""");
        var after = Parse(Addresses, Routes, Rules);

        Assert.Equal(
            [
                "address 127.0.0.1/8 on lo", "address ::1/128 on lo", "link eth0 (veth)", "address 10.9.0.2/24 on eth0",
                "route default via 10.9.0.1 dev eth0 table 100", "route 10.9.0.0/24 dev eth0", "route local 10.9.0.2 dev eth0 table local",
                "rule 32765: from 10.9.0.2 lookup 100",
            ],
            after.LeftoversSince(before));
        Assert.Empty(after.LeftoversSince(after));
    }
}
