using System.Text.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

/// <summary>The typed capability arguments, written with CONVENTIONS.md's keys and shapes.</summary>
public sealed class CapabilityArgsTests
{
    [Fact]
    public void Every_convention_is_written_with_its_key_and_shape()
    {
        var args = new CapabilityArgs
        {
            PortMappings = [new PortMapping(8080, 80), new PortMapping(5353, 53, "udp", "10.0.0.1")],
            Bandwidth = new BandwidthLimits { IngressRate = 1000, IngressBurst = 2000, EgressRate = 3000, EgressBurst = 4000 },
            IpRanges = [[new IpRange("10.1.0.0/16", "10.1.1.1", "10.1.1.9", "10.1.0.1")], [new IpRange("fd00::/64")]],
            Dns = new DnsCapability { Servers = ["10.0.0.53"], Searches = ["example.com"], Options = ["ndots:2"] },
            Mac = "c2:11:22:33:44:55",
            Ips = ["10.1.1.5/16"],
            Aliases = ["web", "web.local"],
            CgroupPath = "/kubepods/burstable/pod1",
        };

        var json = args.ToJson().ToDictionary(p => p.Key, p => p.Value.GetRawText());

        Assert.Equal("""[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"10.0.0.1"}]""", json["portMappings"]);
        Assert.Equal("""{"ingressRate":1000,"ingressBurst":2000,"egressRate":3000,"egressBurst":4000}""", json["bandwidth"]);
        Assert.Equal("""[[{"subnet":"10.1.0.0/16","rangeStart":"10.1.1.1","rangeEnd":"10.1.1.9","gateway":"10.1.0.1"}],[{"subnet":"fd00::/64"}]]""", json["ipRanges"]);
        Assert.Equal("""{"servers":["10.0.0.53"],"searches":["example.com"],"options":["ndots:2"]}""", json["dns"]);
        Assert.Equal("\"c2:11:22:33:44:55\"", json["mac"]);
        Assert.Equal("""["10.1.1.5/16"]""", json["ips"]);
        Assert.Equal("""["web","web.local"]""", json["aliases"]);
        Assert.Equal("\"/kubepods/burstable/pod1\"", json["cgroupPath"]);
        Assert.Equal(8, json.Count);
    }

    [Fact]
    public void Nothing_set_writes_nothing_and_others_pass_through()
    {
        var other = JsonDocument.Parse("""{"infinibandGUID":"c2:11:22:33:44:55:66:77"}""").RootElement.Clone();

        var json = new CapabilityArgs { Other = new Dictionary<string, JsonElement> { ["infinibandGUID"] = other.GetProperty("infinibandGUID") } }.ToJson();

        Assert.Equal(["infinibandGUID"], json.Keys);
    }

    [Fact]
    public void Per_network_values_replace_the_sandbox_ones_that_they_set()
    {
        var sandbox = new CapabilityArgs { PortMappings = [new PortMapping(80, 80)], Mac = "aa:aa:aa:aa:aa:aa", Aliases = ["a"] };

        var merged = sandbox.MergedWith(new CapabilityArgs { Mac = "bb:bb:bb:bb:bb:bb" });

        Assert.Equal("bb:bb:bb:bb:bb:bb", merged.Mac);
        Assert.Equal(sandbox.PortMappings, merged.PortMappings);
        Assert.Equal(["a"], merged.Aliases);
    }

    [Theory]
    [InlineData(0, 80, "tcp", null, "invalid port mapping 0:80: ports must be 1-65535")]
    [InlineData(80, 65536, "tcp", null, "invalid port mapping 80:65536: ports must be 1-65535")]
    [InlineData(80, 80, "icmp", null, "invalid port mapping protocol \"icmp\": expected tcp, udp or sctp")]
    [InlineData(80, 80, "tcp", "10.0.0", "invalid port mapping host IP \"10.0.0\"")]
    public void Bad_port_mappings_are_refused_with_the_reason(int hostPort, int containerPort, string protocol, string? hostIp, string message)
    {
        var error = Assert.Throws<CniException>(() => new CapabilityArgs { PortMappings = [new PortMapping(hostPort, containerPort, protocol, hostIp)] }.ToJson());

        Assert.Equal((CniErrorCode.InvalidNetworkConfig, message), (error.Code, error.Message));
    }
}
