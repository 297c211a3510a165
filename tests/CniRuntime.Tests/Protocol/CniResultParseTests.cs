using System.Net;
using System.Text;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class CniResultParseTests
{
    private static CniResult Parse(string json, CniVersion? versionIfMissing = null) =>
        CniResultJson.Parse(Encoding.UTF8.GetBytes(json), versionIfMissing);

    [Fact]
    public void Null_is_an_empty_result_of_version_0_1_0()
    {
        Assert.Equal(CniResult.Empty(CniVersion.V010), Parse("null"));
    }

    [Fact]
    public void Null_uses_the_version_if_missing()
    {
        Assert.Equal(CniResult.Empty(CniVersion.V100), Parse(" null ", CniVersion.V100));
    }

    [Fact]
    public void Missing_version_defaults_to_0_1_0_and_reads_the_legacy_shape()
    {
        var result = Parse("""{"ip4": {"ip": "10.0.0.2/24"}}""");

        Assert.Equal(CniVersion.V010, result.CniVersion);
        Assert.Equal(IpPrefix.Parse("10.0.0.2/24"), Assert.Single(result.Ips).Address);
    }

    [Theory]
    [InlineData("""{"ips": [{"address": "10.0.0.2/24"}]}""")]
    [InlineData("""{"cniVersion": "", "ips": [{"address": "10.0.0.2/24"}]}""")]
    [InlineData("""{"cniVersion": null, "ips": [{"address": "10.0.0.2/24"}]}""")]
    public void Missing_or_empty_version_uses_the_version_if_missing(string json)
    {
        var result = Parse(json, CniVersion.V110);

        Assert.Equal(CniVersion.V110, result.CniVersion);
        Assert.Single(result.Ips);
    }

    [Fact]
    public void Version_in_the_document_wins_over_the_version_if_missing()
    {
        var result = Parse("""{"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24"}}""", CniVersion.V110);

        Assert.Equal(CniVersion.V020, result.CniVersion);
        Assert.Single(result.Ips);
    }

    [Fact]
    public void Document_is_read_in_its_own_versions_shape()
    {
        // A 0.2.0 document has no ips; a 1.0.0 one has no ip4. Fields of the other shape are unknown, so ignored.
        var legacy = Parse("""{"cniVersion": "0.2.0", "ips": [{"address": "10.0.0.2/24"}]}""");
        var current = Parse("""{"cniVersion": "1.0.0", "ip4": {"ip": "10.0.0.2/24"}}""");

        Assert.Empty(legacy.Ips);
        Assert.Empty(current.Ips);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        var result = Parse("""
            {
              "cniVersion": "1.1.0",
              "vendor": {"x": [1, 2]},
              "interfaces": [{"name": "eth0", "metadata": {"k": "v"}}],
              "ips": [{"address": "10.0.0.2/24", "version": "whatever"}],
              "routes": [{"dst": "0.0.0.0/0", "onlink": true}],
              "dns": {"nameservers": ["10.0.0.1"], "extra": 1}
            }
            """);

        Assert.Equal("eth0", Assert.Single(result.Interfaces).Name);
        Assert.Single(result.Ips);
        Assert.Single(result.Routes);
        Assert.Equal<string>(["10.0.0.1"], result.Dns!.Nameservers);
    }

    [Fact]
    public void Chained_versions_ignore_interface_fields_added_in_1_0_0()
    {
        var result = Parse("""{"cniVersion": "0.4.0", "interfaces": [{"name": "eth0", "mtu": 9000, "socketPath": "/s", "pciID": "0000:00:01.0"}]}""");

        Assert.Equal(new CniInterface { Name = "eth0" }, Assert.Single(result.Interfaces));
    }

    [Fact]
    public void Legacy_routes_keep_only_destination_and_gateway()
    {
        var result = Parse("""{"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24", "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1400}]}}""");

        Assert.Equal(new CniRoute { Dst = IpPrefix.Parse("0.0.0.0/0"), Gw = IPAddress.Parse("10.0.0.1") }, Assert.Single(result.Routes));
    }

    [Fact]
    public void Nulls_and_empty_strings_read_as_absent()
    {
        var result = Parse("""
            {
              "cniVersion": "1.0.0",
              "interfaces": [{"name": "eth0", "mac": "", "sandbox": null, "mtu": null}],
              "ips": [{"address": "10.0.0.2/24", "gateway": "", "interface": null}],
              "routes": null,
              "dns": {"nameservers": [], "domain": ""}
            }
            """);

        Assert.Equal(new CniInterface { Name = "eth0" }, Assert.Single(result.Interfaces));
        Assert.Equal(new CniIpConfig { Address = IpPrefix.Parse("10.0.0.2/24") }, Assert.Single(result.Ips));
        Assert.Empty(result.Routes);
        Assert.Null(result.Dns);
    }

    [Fact]
    public void Full_1_1_0_result_reads_every_field()
    {
        var result = CniResultJson.Parse(ResultTestData.Read("1.1.0/every-field.json"));

        Assert.Equal(
            new CniInterface { Name = "net1", Mtu = 1500, Sandbox = "/var/run/netns/full", PciId = "0000:3b:02.1" },
            result.Interfaces[2]);
        Assert.Equal("/var/run/vhost-user/vhost0.sock", result.Interfaces[3].SocketPath);
        Assert.Equal(
            new CniIpConfig { Address = IpPrefix.Parse("2001:db8:17::2/64"), Gateway = IPAddress.Parse("2001:db8:17::1"), Interface = 1 },
            result.Ips[1]);
        Assert.Equal(
            new CniRoute
            {
                Dst = IpPrefix.Parse("0.0.0.0/0"),
                Gw = IPAddress.Parse("172.17.0.1"),
                Mtu = 1450,
                AdvMss = 1410,
                Priority = 100,
                Table = 254,
                Scope = 0,
            },
            result.Routes[0]);
        Assert.Equal(
            new CniDns
            {
                Nameservers = ["10.96.0.10", "fd00:96::a"],
                Domain = "cluster.local",
                Search = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
                Options = ["ndots:5", "timeout:2"],
            },
            result.Dns);
    }

    [Fact]
    public void Legacy_result_lists_ip4_before_ip6_and_their_routes_in_that_order()
    {
        var result = Parse("""
            {
              "cniVersion": "0.2.0",
              "ip6": {"ip": "fd00::2/64", "routes": [{"dst": "::/0"}]},
              "ip4": {"ip": "10.0.0.2/24", "gateway": "10.0.0.1", "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.9.0.0/16"}]}
            }
            """);

        Assert.Equal(["10.0.0.2/24", "fd00::2/64"], result.Ips.Select(ip => ip.Address.ToString()));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), result.Ips[0].Gateway);
        Assert.Equal(["0.0.0.0/0", "10.9.0.0/16", "::/0"], result.Routes.Select(r => r.Dst.ToString()));
    }

    [Fact]
    public void Results_with_equal_content_are_equal()
    {
        var a = CniResultJson.Parse(ResultTestData.Read("1.1.0/every-field.json"));
        var b = CniResultJson.Parse(ResultTestData.Read("1.1.0/every-field.json"));

        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, b with { Routes = b.Routes.RemoveAt(0) });
        Assert.NotEqual(a, b with { Dns = b.Dns! with { Options = ["ndots:1"] } });
    }

    [Fact]
    public void Collections_are_never_default()
    {
        var result = new CniResult { CniVersion = CniVersion.V100, Ips = default, Routes = default, Interfaces = default };
        var dns = new CniDns { Nameservers = default };

        Assert.Empty(result.Ips);
        Assert.Empty(result.Routes);
        Assert.Empty(result.Interfaces);
        Assert.Empty(dns.Nameservers);
        Assert.True(dns.IsEmpty);
    }
}

public sealed class CniResultParseToleranceTests
{
    [Fact]
    public void An_ips_entry_without_a_version_is_accepted_as_libcni_does()
    {
        var result = CniResultJson.Parse("""{"cniVersion":"0.4.0","ips":[{"address":"10.0.0.2/24"},{"address":"fd00::2/64"}]}"""u8);

        Assert.Equal(["10.0.0.2/24", "fd00::2/64"], result.Ips.Select(i => i.Address.ToString()));
    }
}
