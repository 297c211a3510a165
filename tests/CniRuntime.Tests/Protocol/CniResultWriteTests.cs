using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class CniResultWriteTests
{
    private static string Compact(CniResult result) => Encoding.UTF8.GetString(CniResultJson.ToUtf8Bytes(result));

    [Fact]
    public void Empty_result_writes_only_the_version()
    {
        foreach (var version in CniVersion.All)
        {
            Assert.Equal($"{{\"cniVersion\":\"{version}\"}}", Compact(CniResult.Empty(version)));
        }
    }

    [Fact]
    public void Empty_dns_is_left_out()
    {
        var result = CniResult.Empty(CniVersion.V110) with { Dns = new CniDns() };

        Assert.Equal("{\"cniVersion\":\"1.1.0\"}", Compact(result));
    }

    [Fact]
    public void Writes_1_x_shape_in_spec_order_and_omits_absent_fields()
    {
        var result = new CniResult
        {
            CniVersion = CniVersion.V100,
            Dns = new CniDns { Nameservers = ["10.0.0.1"] },
            Routes = [new CniRoute { Dst = IpPrefix.Parse("0.0.0.0/0"), Scope = 0 }],
            Ips = [new CniIpConfig { Address = IpPrefix.Parse("10.0.0.2/24"), Interface = 0 }],
            Interfaces = [new CniInterface { Name = "eth0", Mtu = 1500 }],
        };

        Assert.Equal(
            """{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mtu":1500}],"ips":[{"interface":0,"address":"10.0.0.2/24"}],"routes":[{"dst":"0.0.0.0/0","scope":0}],"dns":{"nameservers":["10.0.0.1"]}}""",
            Compact(result));
    }

    [Fact]
    public void Writes_chained_shape_with_version_derived_from_the_address()
    {
        var result = new CniResult
        {
            CniVersion = CniVersion.V031,
            Interfaces = [new CniInterface { Name = "eth0", Mac = "aa:bb:cc:dd:ee:ff", Mtu = 1500, SocketPath = "/s", PciId = "0000:00:01.0" }],
            Ips =
            [
                new CniIpConfig { Address = IpPrefix.Parse("fd00::2/64"), Gateway = IPAddress.Parse("fd00::1") },
                new CniIpConfig { Address = IpPrefix.Parse("10.0.0.2/24") },
            ],
        };

        Assert.Equal(
            """{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff"}],"ips":[{"version":"6","address":"fd00::2/64","gateway":"fd00::1"},{"version":"4","address":"10.0.0.2/24"}]}""",
            Compact(result));
    }

    [Fact]
    public void Writes_legacy_shape_with_routes_under_their_family()
    {
        var result = new CniResult
        {
            CniVersion = CniVersion.V020,
            Ips =
            [
                new CniIpConfig { Address = IpPrefix.Parse("10.0.0.2/24"), Gateway = IPAddress.Parse("10.0.0.1") },
                new CniIpConfig { Address = IpPrefix.Parse("fd00::2/64") },
            ],
            Routes = [new CniRoute { Dst = IpPrefix.Parse("::/0") }, new CniRoute { Dst = IpPrefix.Parse("0.0.0.0/0"), Gw = IPAddress.Parse("10.0.0.1"), Mtu = 1400 }],
        };

        Assert.Equal(
            """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24","gateway":"10.0.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"}]},"ip6":{"ip":"fd00::2/64","routes":[{"dst":"::/0"}]}}""",
            Compact(result));
    }

    [Fact]
    public void Indented_output_uses_four_spaces()
    {
        var result = CniResult.Empty(CniVersion.V100) with { Ips = [new CniIpConfig { Address = IpPrefix.Parse("10.0.0.2/24") }] };

        var text = Encoding.UTF8.GetString(CniResultJson.ToUtf8Bytes(result, indented: true)).ReplaceLineEndings("\n");

        Assert.Equal(
            """
            {
                "cniVersion": "1.0.0",
                "ips": [
                    {
                        "address": "10.0.0.2/24"
                    }
                ]
            }
            """.ReplaceLineEndings("\n"),
            text);
    }

    [Fact]
    public void Write_uses_the_callers_writer()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            CniResultJson.Write(writer, CniResult.Empty(CniVersion.V040));
            writer.WriteEndArray();
        }

        Assert.Equal("[{\"cniVersion\":\"0.4.0\"}]", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void Strings_needing_escapes_round_trip()
    {
        var result = CniResult.Empty(CniVersion.V110) with
        {
            Interfaces = [new CniInterface { Name = "eth\"0\\", Sandbox = "/run/netns/ünïcode <&>" }],
        };

        Assert.Equal(result, CniResultJson.Parse(CniResultJson.ToUtf8Bytes(result)));
    }

    [Fact]
    public void Unknown_version_cannot_be_written()
    {
        var error = Assert.Throws<CniException>(() => CniResultJson.ToUtf8Bytes(CniResult.Empty(new CniVersion(3, 0, 0))));

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal("unsupported CNI result version \"3.0.0\"", error.Message);
    }
}
