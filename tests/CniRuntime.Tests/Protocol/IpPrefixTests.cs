using System.Net;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class IpPrefixTests
{
    [Theory]
    [InlineData("10.1.0.5/24", "10.1.0.5", 24, true)]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0, true)]
    [InlineData("255.255.255.255/32", "255.255.255.255", 32, true)]
    [InlineData("fd00:22::5/64", "fd00:22::5", 64, false)]
    [InlineData("::/0", "::", 0, false)]
    [InlineData("2001:db8::1/128", "2001:db8::1", 128, false)]
    [InlineData("::ffff:10.0.0.1/120", "::ffff:10.0.0.1", 120, false)]
    public void Parses_address_and_prefix_length_keeping_host_bits(string text, string address, int length, bool ipv4)
    {
        var prefix = IpPrefix.Parse(text);

        Assert.Equal(IPAddress.Parse(address), prefix.Address);
        Assert.Equal(length, prefix.PrefixLength);
        Assert.Equal(ipv4, prefix.IsIPv4);
        Assert.Equal(text, prefix.ToString());
    }

    [Theory]
    [InlineData("FD00:0022:0000::0005/64", "fd00:22::5/64")]
    [InlineData("2001:db8:0:0:0:0:0:1/64", "2001:db8::1/64")]
    [InlineData("10.0.0.1/08", "10.0.0.1/8")]
    public void Formats_in_canonical_form(string text, string expected)
    {
        Assert.Equal(expected, IpPrefix.Parse(text).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("/24")]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.1/")]
    [InlineData("10.0.0/24")]
    [InlineData("10/8")]
    [InlineData("10.0.0.01/24")]
    [InlineData("10.0.0.256/24")]
    [InlineData("0x0a.0.0.1/24")]
    [InlineData("10.0.0.1/33")]
    [InlineData("10.0.0.1/-1")]
    [InlineData("10.0.0.1/+8")]
    [InlineData("10.0.0.1/ 8")]
    [InlineData(" 10.0.0.1/8")]
    [InlineData("10.0.0.1/8/8")]
    [InlineData("fd00::1/129")]
    [InlineData("fd00::1%eth0/64")]
    [InlineData("[fd00::1]/64")]
    [InlineData("fd00:::1/64")]
    [InlineData("fd00::g/64")]
    [InlineData("::ffff:10.0.0/96")]
    [InlineData("10.0.0.1/1000")]
    public void Rejects_invalid_text(string text)
    {
        Assert.False(IpPrefix.TryParse(text, out _));
        Assert.Throws<FormatException>(() => IpPrefix.Parse(text));
    }

    [Fact]
    public void Null_text_does_not_parse()
    {
        Assert.False(IpPrefix.TryParse((string?)null, out _));
    }

    [Fact]
    public void Equal_prefixes_compare_equal()
    {
        Assert.Equal(IpPrefix.Parse("fd00::5/64"), new IpPrefix(IPAddress.Parse("fd00::5"), 64));
        Assert.NotEqual(IpPrefix.Parse("fd00::5/64"), IpPrefix.Parse("fd00::5/65"));
        Assert.NotEqual(IpPrefix.Parse("10.0.0.5/24"), IpPrefix.Parse("10.0.0.6/24"));
    }

    [Fact]
    public void Deconstructs()
    {
        var (address, length) = IpPrefix.Parse("10.0.0.5/24");

        Assert.Equal(IPAddress.Parse("10.0.0.5"), address);
        Assert.Equal(24, length);
    }

    [Fact]
    public void Constructor_validates()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new IpPrefix(IPAddress.Parse("10.0.0.1"), 33));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IpPrefix(IPAddress.Parse("fd00::1"), -1));
        Assert.Throws<ArgumentException>(() => new IpPrefix(IPAddress.Parse("fe80::1%2"), 64));
        Assert.Throws<ArgumentNullException>(() => new IpPrefix(null!, 8));
    }
}
