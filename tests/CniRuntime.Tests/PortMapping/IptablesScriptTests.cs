using System.Net;
using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Ports;

public sealed class IptablesScriptTests
{
    private static readonly IpPrefix Address4 = IpPrefix.Parse("10.1.0.2/24");
    private static readonly PublishedPort Any4 = new("tcp", null, 8080, IPAddress.Parse("10.1.0.2"), 80);
    private static readonly PublishedPort Specific4 = new("udp", IPAddress.Parse("192.168.1.1"), 53, IPAddress.Parse("10.1.0.2"), 5353);
    private static readonly PublishedPort Any6 = new("sctp", null, 9000, IPAddress.Parse("fd00:1::2"), 9);
    private static readonly Hairpin Hairpin4 = new(IpPrefix.Parse("10.1.0.0/24"), IPAddress.Parse("10.1.0.2"));
    private readonly IptablesScript _script = new("cnirt", allowLocalhost: false);

    [Fact]
    public void A_new_publication_gets_its_own_chain_a_dispatch_jump_and_its_hairpin()
    {
        var next = Publication("sb1", Any4, Specific4);
        var chain = _script.SandboxChain("sb1");

        var lines = Lines(_script.Change(false, new PortChange("sb1", null, next, [Hairpin4], [], () => [next]))!);

        Assert.Contains($":{chain} - [0:0]", lines);
        Assert.Contains($"-A {chain} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80", lines);
        Assert.Contains($"-A {chain} -d 192.168.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.1.0.2:5353", lines);
        Assert.Contains($"-A CNIRT-HOSTPORTS -m comment --comment \"sb1\" -j {chain}", lines);
        Assert.Contains("-A CNIRT-HAIRPIN -s 10.1.0.0/24 -d 10.1.0.2/32 -j MASQUERADE", lines);
        // The jumps from the built-in chains are deleted and inserted first again: single, and a missing one fails the payload.
        Assert.Contains("-D PREROUTING -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", lines);
        Assert.Contains("-I PREROUTING 1 -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", lines);
        Assert.Contains("-I OUTPUT 1 ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", lines);
        // Only the nat table changes: every table is a commit of its own.
        Assert.Equal(["*nat"], lines.Where(l => l.StartsWith('*')));
        // Shared chains are never flushed by a change: they hold the other sandboxes' rules.
        Assert.DoesNotContain(":CNIRT-HOSTPORTS - [0:0]", lines);
        Assert.DoesNotContain(":CNIRT-HAIRPIN - [0:0]", lines);
        Assert.Null(_script.Change(true, new PortChange("sb1", null, next, [Hairpin4], [], () => [next])));
    }

    [Fact]
    public void Republishing_refills_the_chain_and_keeps_the_dispatch_jump()
    {
        var previous = Publication("sb1", Any4);
        var next = Publication("sb1", Any4 with { HostPort = 8081 });

        var lines = Lines(_script.Change(false, new PortChange("sb1", previous, next, [], [], () => [next]))!);

        Assert.Contains($":{_script.SandboxChain("sb1")} - [0:0]", lines);
        Assert.Contains($"-A {_script.SandboxChain("sb1")} -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.1.0.2:80", lines);
        Assert.DoesNotContain(lines, l => l.Contains("--dport 8080", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("CNIRT-HOSTPORTS -m comment", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("CNIRT-HAIRPIN -s", StringComparison.Ordinal));
    }

    [Fact]
    public void Unpublishing_deletes_the_jump_the_chain_and_an_unshared_hairpin()
    {
        var previous = Publication("sb1", Any4, Any6);
        var chain = _script.SandboxChain("sb1");
        var hairpin6 = new Hairpin(IpPrefix.Parse("fd00:1::/64"), IPAddress.Parse("fd00:1::2"));

        var v4 = Lines(_script.Change(false, new PortChange("sb1", previous, null, [], [Hairpin4, hairpin6], () => []))!);
        var v6 = Lines(_script.Change(true, new PortChange("sb1", previous, null, [], [Hairpin4, hairpin6], () => []))!);

        Assert.Contains($"-D CNIRT-HOSTPORTS -m comment --comment \"sb1\" -j {chain}", v4);
        Assert.Contains($"-X {chain}", v4);
        Assert.Contains("-D CNIRT-HAIRPIN -s 10.1.0.0/24 -d 10.1.0.2/32 -j MASQUERADE", v4);
        Assert.DoesNotContain(v4, l => l.Contains("fd00", StringComparison.Ordinal));
        Assert.Contains("-D CNIRT-HAIRPIN -s fd00:1::/64 -d fd00:1::2/128 -j MASQUERADE", v6);
        Assert.Contains("-I PREROUTING 1 ! -s fe80::/10 -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", v6);
        Assert.Contains("-I OUTPUT 1 ! -d ::1/128 -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", v6);
        Assert.DoesNotContain("*raw", v6); // the 127.0.0.0/8 guard is IPv4's
    }

    [Fact]
    public void Localhost_opt_in_dnats_loopback_from_the_node_and_masquerades_it()
    {
        var open = new IptablesScript("cnirt", allowLocalhost: true);
        var next = Publication("sb1", Any4);

        var lines = Lines(open.Change(false, new PortChange("sb1", null, next, [Hairpin4], [], () => [next]))!);

        Assert.Contains("-I OUTPUT 1 -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", lines);
        Assert.Contains("-A CNIRT-POSTROUTING -s 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE", lines);
        var rebuilt = Lines(open.Sync(false, [next], SavedRules.Parse("", open.IsOurs))!);
        Assert.Contains("-A CNIRT-GUARD ! -i lo -d 127.0.0.0/8 -j DROP", rebuilt);
        Assert.Contains("-I PREROUTING 1 -j CNIRT-GUARD", rebuilt);
        Assert.Contains("-A CNIRT-FORWARD -m conntrack --ctstate DNAT -j ACCEPT", rebuilt);
    }

    [Fact]
    public void A_sync_flushes_and_deletes_what_the_ruleset_shows_of_ours_and_rebuilds_the_live_state()
    {
        var staleChain = _script.SandboxChain("gone");
        var saved = SavedRules.Parse(
            $"""
            # Generated by iptables-save v1.8.9 (nf_tables)
            *nat
            :PREROUTING ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :CNIRT-HOSTPORTS - [0:0]
            :{staleChain} - [0:0]
            :DOCKER - [0:0]
            -A PREROUTING -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS
            -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
            -A OUTPUT -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS
            -A CNIRT-HOSTPORTS -m comment --comment gone -j {staleChain}
            COMMIT
            """,
            _script.IsOurs);
        Assert.Equal([("nat", "CNIRT-HOSTPORTS"), ("nat", staleChain)], saved.OurChains);
        Assert.Equal([("nat", "PREROUTING -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS"), ("nat", "OUTPUT -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS")], saved.JumpsToOurs);
        var live = Publication("live", Any4);

        var lines = Lines(_script.Sync(false, [live], saved)!);

        Assert.Contains($":{staleChain} - [0:0]", lines);
        Assert.Contains($"-X {staleChain}", lines);
        Assert.Contains(":CNIRT-HOSTPORTS - [0:0]", lines);
        Assert.Contains("-D PREROUTING -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", lines);
        Assert.Contains("-D OUTPUT -m addrtype --dst-type LOCAL -j CNIRT-HOSTPORTS", lines);
        Assert.Contains($"-A CNIRT-HOSTPORTS -m comment --comment \"live\" -j {_script.SandboxChain("live")}", lines);
        Assert.Contains("-A CNIRT-HAIRPIN -s 10.1.0.0/24 -d 10.1.0.2/32 -j MASQUERADE", lines);
        Assert.DoesNotContain(lines, l => l.Contains("DOCKER", StringComparison.Ordinal));
        // Declarations come before the deletions that need them, in each table.
        Assert.True(lines.IndexOf($"-X {staleChain}") > lines.IndexOf($":{staleChain} - [0:0]"));
    }

    [Fact]
    public void Removing_everything_leaves_no_chain_of_ours_and_needs_no_payload_when_there_is_none()
    {
        var saved = SavedRules.Parse("*filter\n:CNIRT-FORWARD - [0:0]\n-A FORWARD -j CNIRT-FORWARD\nCOMMIT\n", _script.IsOurs);

        var lines = Lines(_script.Sync(false, [], saved, keep: false)!);

        Assert.Equal(["*filter", ":CNIRT-FORWARD - [0:0]", "-D FORWARD -j CNIRT-FORWARD", "-X CNIRT-FORWARD", "COMMIT"], lines);
        Assert.Null(_script.Sync(false, [], SavedRules.Parse("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", _script.IsOurs), keep: false));
    }

    [Fact]
    public void Chain_names_fit_iptables_limit_of_28_characters_and_differ_per_sandbox()
    {
        var script = new IptablesScript("abcdefghijkl", allowLocalhost: false);
        var a = script.SandboxChain(new string('a', 200));
        Assert.True(a.Length <= 28, a);
        Assert.True(script.PostRouting.Length <= 28);
        Assert.NotEqual(script.SandboxChain("sb1"), script.SandboxChain("sb2"));
        Assert.StartsWith("ABCDEFGHIJKL-DN-", a, StringComparison.Ordinal);
    }

    [Fact]
    public void The_probe_tries_every_protocol_match_and_target()
    {
        var probe = _script.Probe(false);
        foreach (var needle in new[] { "-m tcp", "-m udp", "-m sctp", "-j DNAT", "-j MASQUERADE", "-m addrtype", "-m conntrack", "-m comment", "*raw", "*filter", "*nat" })
        {
            Assert.Contains(needle, probe, StringComparison.Ordinal);
        }
    }

    private static PortPublication Publication(string id, params PublishedPort[] ports) =>
        new(id, [], [Address4, IpPrefix.Parse("fd00:1::2/64")], ports, PortMappingBackend.Iptables);

    private static List<string> Lines(string payload) => [.. payload.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
}
