using System.Net;
using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Ports;

public sealed class PortPlanTests
{
    private static readonly IReadOnlyList<IpPrefix> Dual = [IpPrefix.Parse("10.1.0.2/24"), IpPrefix.Parse("fd00:1::2/64")];
    private static readonly IReadOnlyList<IpPrefix> V4 = [IpPrefix.Parse("10.1.0.2/24")];

    [Fact]
    public void An_empty_host_ip_publishes_in_each_family_the_sandbox_has()
    {
        var ports = PortPlan.Expand("s", [new PortMapping(8080, 80)], Dual, false);
        Assert.Equal(2, ports.Count);
        Assert.All(ports, p => Assert.Null(p.HostAddress));
        Assert.Equal([false, true], ports.Select(p => p.IsIPv6));
        Assert.Single(PortPlan.Expand("s", [new PortMapping(8080, 80)], V4, false));
    }

    [Theory]
    [InlineData("0.0.0.0", false, null)]
    [InlineData("::", true, null)]
    [InlineData("192.168.1.5", false, "192.168.1.5")]
    [InlineData("fd00::5", true, "fd00::5")]
    public void A_host_ip_picks_its_family(string hostIp, bool v6, string? matched)
    {
        var port = Assert.Single(PortPlan.Expand("s", [new PortMapping(8080, 80, "TCP", hostIp)], Dual, false));
        Assert.Equal(v6, port.IsIPv6);
        Assert.Equal(matched, port.HostAddress?.ToString());
        Assert.Equal("tcp", port.Protocol);
    }

    [Theory]
    [InlineData(0, 80, "tcp", null, "1-65535")]
    [InlineData(80, 70000, "tcp", null, "1-65535")]
    [InlineData(80, 80, "icmp", null, "tcp, udp or sctp")]
    [InlineData(80, 80, "tcp", "nope", "not an IP address")]
    [InlineData(80, 80, "tcp", "fd00::1", "no IPv6 address")]
    [InlineData(80, 80, "tcp", "127.0.0.1", "AllowLocalhost")]
    [InlineData(80, 80, "tcp", "::1", "cannot DNAT ::1")]
    public void Invalid_mappings_are_refused_with_the_reason(int hostPort, int containerPort, string protocol, string? hostIp, string reason)
    {
        var ex = Assert.Throws<CniException>(() => PortPlan.Expand("sb1", [new PortMapping(hostPort, containerPort, protocol, hostIp)], V4, false));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Contains("sb1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Localhost_is_accepted_with_the_opt_in()
    {
        var port = Assert.Single(PortPlan.Expand("s", [new PortMapping(8080, 80, "tcp", "127.0.0.1")], V4, true));
        Assert.Equal(IPAddress.Loopback, port.HostAddress);
    }

    [Fact]
    public void Duplicates_collapse_but_overlaps_within_a_request_are_refused()
    {
        Assert.Single(PortPlan.Expand("s", [new PortMapping(8080, 80), new PortMapping(8080, 80)], V4, false));
        var ex = Assert.Throws<CniException>(() => PortPlan.Expand("s", [new PortMapping(8080, 80), new PortMapping(8080, 81, "tcp", "10.0.0.1")], V4, false));
        Assert.Contains("requested twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wildcards_conflict_with_specific_addresses_of_their_family_only()
    {
        var any4 = new PublishedPort("tcp", null, 80, IPAddress.Parse("10.0.0.2"), 80);
        var specific4 = any4 with { HostAddress = IPAddress.Parse("192.168.0.1") };
        var other4 = any4 with { HostAddress = IPAddress.Parse("192.168.0.2") };
        var any6 = new PublishedPort("tcp", null, 80, IPAddress.Parse("fd00::2"), 80);
        Assert.True(PortPlan.Conflicts(any4, specific4));
        Assert.False(PortPlan.Conflicts(specific4, other4));
        Assert.False(PortPlan.Conflicts(any4, any6));
        Assert.False(PortPlan.Conflicts(any4, any4 with { Protocol = "udp" }));
        Assert.False(PortPlan.Conflicts(any4, any4 with { HostPort = 81 }));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void Sandbox_ids_that_cannot_name_a_file_are_refused(string id) =>
        Assert.Throws<CniException>(() => PortPlan.ValidateSandboxId(id));

    [Fact]
    public void Ranges_expand_to_one_mapping_per_port()
    {
        var range = PortMappings.Range(20000, 9000, 100, "udp", "1.2.3.4");
        Assert.Equal(100, range.Count);
        Assert.Equal(new PortMapping(20099, 9099, "udp", "1.2.3.4"), range[^1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => PortMappings.Range(65500, 1, 100));
    }
}
