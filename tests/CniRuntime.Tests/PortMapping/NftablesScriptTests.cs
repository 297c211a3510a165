using System.Net;
using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Ports;

public sealed class NftablesScriptTests
{
    private static readonly PublishedPort Any4 = new("tcp", null, 8080, IPAddress.Parse("10.1.0.2"), 80);
    private static readonly PublishedPort Specific6 = new("udp", IPAddress.Parse("fd00::1"), 53, IPAddress.Parse("fd00:1::2"), 5353);

    [Fact]
    public void Adding_puts_forwards_in_the_maps_of_their_family_with_the_sandbox_as_comment()
    {
        var script = new NftablesScript("cnirt", false).Add("sb1", [Any4, Specific6], [new Hairpin(IpPrefix.Parse("10.1.0.0/24"), IPAddress.Parse("10.1.0.2"))]).ToString();
        Assert.Contains("add element ip cnirt hp_any { tcp . 8080 comment \"sb1\" : 10.1.0.2 . 80 }\n", script, StringComparison.Ordinal);
        Assert.Contains("add element ip6 cnirt hp_ip { fd00::1 . udp . 53 comment \"sb1\" : fd00:1::2 . 5353 }\n", script, StringComparison.Ordinal);
        Assert.Contains("add element ip cnirt hairpin { 10.1.0.0/24 . 10.1.0.2 }\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void A_change_is_element_additions_and_deletions_behind_the_layout_mark()
    {
        var lines = new NftablesScript("cnirt", false).RequireLayout(false).Delete([Any4], []).Add("sb1", [Any4 with { HostPort = 8081 }], []).ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [
                "add element ip cnirt layout_1 { 1 }",
                "delete element ip cnirt hp_any { tcp . 8080 }",
                "add element ip cnirt hp_any { tcp . 8081 comment \"sb1\" : 10.1.0.2 . 80 }",
            ],
            lines);
        Assert.Contains("layout_1_localhost", new NftablesScript("cnirt", true).RequireLayout(true).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_rebuild_replaces_both_tables_in_one_batch()
    {
        var lines = new NftablesScript("cnirt", false).Rebuild().ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.Equal(["add table ip cnirt", "delete table ip cnirt", "add table ip6 cnirt", "delete table ip6 cnirt"], lines[..4]);
        Assert.Contains("add set ip cnirt layout_1 { type inet_service ; }", lines);
        Assert.Contains("add set ip6 cnirt layout_1 { type inet_service ; }", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("flush", StringComparison.Ordinal));
    }

    [Fact]
    public void Many_forwards_are_one_statement_per_map()
    {
        var ports = Enumerable.Range(1, 1000).Select(i => Any4 with { HostPort = i }).ToList();
        var lines = new NftablesScript("cnirt", false).Add("s", ports, []).ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
    }

    [Fact]
    public void The_structure_excludes_loopback_unless_opted_in_and_always_guards_it()
    {
        var closed = new NftablesScript("cnirt", false).Structure().ToString();
        Assert.Contains("hp_out ip daddr != 127.0.0.0/8 fib daddr type local goto hostports", closed, StringComparison.Ordinal);
        Assert.Contains("hp_guard iifname != \"lo\" ip daddr 127.0.0.0/8 drop", closed, StringComparison.Ordinal);
        Assert.DoesNotContain("saddr 127.0.0.0/8 masquerade", closed, StringComparison.Ordinal);
        var open = new NftablesScript("cnirt", true).Structure().ToString();
        Assert.Contains("hp_out fib daddr type local goto hostports", open, StringComparison.Ordinal);
        Assert.Contains("ct status dnat ip saddr 127.0.0.0/8 masquerade", open, StringComparison.Ordinal);
        Assert.Contains("hp_guard iifname != \"lo\" ip daddr 127.0.0.0/8 drop", open, StringComparison.Ordinal);
    }

    [Fact]
    public void Hairpin_elements_use_the_containers_subnet()
    {
        var hairpin = Assert.Single(Hairpin.Of([IpPrefix.Parse("10.1.0.2/24")], [Any4]));
        Assert.Equal("10.1.0.0/24", hairpin.Subnet.ToString());
        Assert.Equal("fd00:1::/64", Hairpin.Network(IpPrefix.Parse("fd00:1::2/64")).ToString());
    }

    [Fact]
    public void Conntrack_filters_always_name_a_protocol_and_a_port_and_skip_tcp()
    {
        Assert.Empty(Conntrack.AfterPublish([Any4]));
        var publish = Assert.Single(Conntrack.AfterPublish([Specific6]));
        Assert.Equal(["-D", "-f", "ipv6", "-p", "udp", "--orig-port-dst", "53", "--orig-dst", "fd00::1"], publish);
        var unpublish = Conntrack.AfterUnpublish([Specific6]);
        Assert.Equal(["-D", "-f", "ipv6", "-p", "udp", "--reply-src", "fd00:1::2", "--reply-port-src", "5353"], unpublish[1]);
        Assert.Throws<InvalidOperationException>(() => Conntrack.Checked(["-D"]));
        Assert.Throws<InvalidOperationException>(() => Conntrack.Checked(["-D", "-p", "udp"]));
        Assert.Throws<InvalidOperationException>(() => Conntrack.Checked(["-D", "--orig-port-dst", "53"]));
    }

    [Fact]
    public void State_round_trips()
    {
        var publication = new PortPublication("sb1", [new PortMapping(8080, 80), new PortMapping(53, 5353, "udp", "fd00::1")], [IpPrefix.Parse("10.1.0.2/24"), IpPrefix.Parse("fd00:1::2/64")], [Any4, Specific6], PortMappingBackend.Nftables);
        var parsed = PortStateStore.Parse(PortStateStore.Serialize(publication), "x");
        Assert.Equal(publication.SandboxId, parsed.SandboxId);
        Assert.Equal(publication.Mappings, parsed.Mappings);
        Assert.Equal(publication.ContainerAddresses, parsed.ContainerAddresses);
        Assert.Equal(publication.Ports, parsed.Ports);
        Assert.Equal(PortMappingBackend.Nftables, parsed.Backend);
        Assert.Equal(PortMappingBackend.Iptables, PortStateStore.Parse(PortStateStore.Serialize(publication with { Backend = PortMappingBackend.Iptables }), "x").Backend);
        Assert.Throws<CniException>(() => PortStateStore.Parse("{}"u8.ToArray(), "x"));
        var unknown = Assert.Throws<CniException>(() => PortStateStore.Parse(System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(PortStateStore.Serialize(publication)).Replace("nftables", "ebtables", StringComparison.Ordinal)), "/state/sb1.json"));
        Assert.Contains("/state/sb1.json", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("ebtables", unknown.Message, StringComparison.Ordinal);
    }
}
