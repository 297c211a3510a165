using System.Net;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class CniResultConversionTests
{
    private static CniResult Golden(string file) => CniResultJson.Parse(ResultTestData.Read(file));

    [Fact]
    public void Same_version_returns_the_same_object()
    {
        var result = Golden("1.1.0/every-field.json");

        Assert.Same(result, result.ConvertTo(CniVersion.V110));
    }

    [Theory]
    [InlineData(0, 5, 0)]
    [InlineData(2, 0, 0)]
    [InlineData(1, 0, 1)]
    public void Unknown_target_is_incompatible(int major, int minor, int patch)
    {
        var result = Golden("1.1.0/every-field.json");

        var error = Assert.Throws<CniException>(() => result.ConvertTo(new CniVersion(major, minor, patch)));

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal($"no converter for CNI result version 1.1.0 to {major}.{minor}.{patch}", error.Message);
    }

    [Fact]
    public void Unknown_source_version_is_incompatible()
    {
        var result = CniResult.Empty(new CniVersion(9, 9, 9));

        var error = Assert.Throws<CniException>(() => result.ConvertTo(CniVersion.V100));

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal("unsupported CNI result version \"9.9.9\"", error.Message);
    }

    [Fact]
    public void Down_and_up_again_loses_what_the_middle_version_cannot_hold()
    {
        var original = Golden("1.1.0/every-field.json");

        var roundTripped = original.ConvertTo(CniVersion.V040).ConvertTo(CniVersion.V110);

        Assert.Equal(CniVersion.V110, roundTripped.CniVersion);
        Assert.All(roundTripped.Interfaces, i => Assert.Null(i.Mtu));
        Assert.All(roundTripped.Interfaces, i => Assert.Null(i.SocketPath));
        Assert.All(roundTripped.Interfaces, i => Assert.Null(i.PciId));
        Assert.Equal(original.Interfaces.Select(i => (i.Name, i.Mac, i.Sandbox)), roundTripped.Interfaces.Select(i => (i.Name, i.Mac, i.Sandbox)));
        Assert.Equal<CniIpConfig>(original.Ips, roundTripped.Ips);
        Assert.Equal<CniRoute>(original.Routes, roundTripped.Routes);
        Assert.Equal(original.Dns, roundTripped.Dns);
    }

    [Fact]
    public void Through_0_2_0_keeps_one_address_per_family_and_no_interfaces()
    {
        var original = Golden("1.1.0/every-field.json");

        var roundTripped = original.ConvertTo(CniVersion.V020).ConvertTo(CniVersion.V110);

        Assert.Empty(roundTripped.Interfaces);
        Assert.Equal<CniIpConfig>(
            [
                new CniIpConfig { Address = IpPrefix.Parse("172.17.0.2/16"), Gateway = IPAddress.Parse("172.17.0.1") },
                new CniIpConfig { Address = IpPrefix.Parse("2001:db8:17::2/64"), Gateway = IPAddress.Parse("2001:db8:17::1") },
            ],
            roundTripped.Ips);
        Assert.Equal(["0.0.0.0/0", "192.168.60.0/24", "169.254.0.0/16", "2001:db8::/32"], roundTripped.Routes.Select(r => r.Dst.ToString()));
        Assert.All(roundTripped.Routes, r => Assert.Null(r.Mtu ?? r.AdvMss ?? r.Priority ?? r.Table ?? r.Scope));
    }

    [Fact]
    public void Among_1_x_versions_only_the_version_changes()
    {
        var original = Golden("1.0.0/every-field.json");

        Assert.Equal(original with { CniVersion = CniVersion.V110 }, original.ConvertTo(CniVersion.V110));
    }

    [Fact]
    public void Among_chained_versions_only_the_version_changes()
    {
        var original = Golden("0.3.0/every-field.json");

        Assert.Equal(original with { CniVersion = CniVersion.V040 }, original.ConvertTo(CniVersion.V040));
        Assert.Equal(original with { CniVersion = CniVersion.V031 }, original.ConvertTo(CniVersion.V031));
    }

    [Theory]
    [InlineData("1.1.0/empty.json", "0.2.0")]
    [InlineData("1.0.0/empty.json", "0.1.0")]
    public void Result_without_addresses_cannot_become_0_2_0(string file, string target)
    {
        var result = Golden(file);

        var error = Assert.Throws<CniException>(() => result.ConvertTo(CniVersion.Parse(target)));

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal("cannot convert: no valid IP addresses", error.Message);
    }

    [Fact]
    public void Empty_legacy_result_converts_upward_and_sideways()
    {
        var empty = CniResult.Empty(CniVersion.V010);

        Assert.Equal(CniResult.Empty(CniVersion.V020), empty.ConvertTo(CniVersion.V020));
        Assert.Equal(CniResult.Empty(CniVersion.V110), empty.ConvertTo(CniVersion.V110));
    }

    [Fact]
    public void Conversion_never_modifies_the_source()
    {
        var original = Golden("1.1.0/every-field.json");
        var copy = Golden("1.1.0/every-field.json");

        _ = original.ConvertTo(CniVersion.V010);
        _ = original.ConvertTo(CniVersion.V031);

        Assert.Equal(copy, original);
    }

    [Fact]
    public void Legacy_result_built_in_code_is_reduced_to_its_shape_on_conversion()
    {
        // A 0.2.0 result can only carry what ip4/ip6 hold, so converting it up must not carry more.
        var built = new CniResult
        {
            CniVersion = CniVersion.V020,
            Interfaces = [new CniInterface { Name = "eth0" }],
            Ips =
            [
                new CniIpConfig { Address = IpPrefix.Parse("fd00::2/64"), Interface = 0 },
                new CniIpConfig { Address = IpPrefix.Parse("10.0.0.2/24") },
                new CniIpConfig { Address = IpPrefix.Parse("10.0.0.3/24") },
            ],
            Routes = [new CniRoute { Dst = IpPrefix.Parse("::/0"), Mtu = 1400 }, new CniRoute { Dst = IpPrefix.Parse("0.0.0.0/0") }],
        };

        var converted = built.ConvertTo(CniVersion.V100);

        Assert.Empty(converted.Interfaces);
        Assert.Equal(["10.0.0.2/24", "fd00::2/64"], converted.Ips.Select(ip => ip.Address.ToString()));
        Assert.All(converted.Ips, ip => Assert.Null(ip.Interface));
        Assert.Equal<CniRoute>(
            [new CniRoute { Dst = IpPrefix.Parse("0.0.0.0/0") }, new CniRoute { Dst = IpPrefix.Parse("::/0") }],
            converted.Routes);
        ResultTestData.AssertJsonEquivalent(CniResultJson.ToUtf8Bytes(built), CniResultJson.ToUtf8Bytes(converted.ConvertTo(CniVersion.V020)));
    }
}
