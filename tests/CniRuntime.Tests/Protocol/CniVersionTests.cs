using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class CniVersionTests
{
    [Theory]
    [InlineData("", 0, 1, 0)]
    [InlineData("1", 1, 0, 0)]
    [InlineData("0.4", 0, 4, 0)]
    [InlineData("0.3.1", 0, 3, 1)]
    [InlineData("1.1.0", 1, 1, 0)]
    [InlineData("99.0.0", 99, 0, 0)]
    public void Parses_like_libcni(string text, int major, int minor, int patch)
    {
        Assert.Equal(new CniVersion(major, minor, patch), CniVersion.Parse(text));
    }

    [Theory]
    [InlineData("1.0.f")]
    [InlineData("1.2.3.4")]
    [InlineData("broken")]
    [InlineData("1..0")]
    [InlineData("-1.0.0")]
    [InlineData(" 1.0.0")]
    [InlineData("0.-42.0")]
    public void Rejects_what_is_not_a_version(string text)
    {
        Assert.False(CniVersion.TryParse(text, out _));
        var error = Assert.Throws<CniException>(() => CniVersion.Parse(text));
        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
    }

    [Fact]
    public void Orders_numerically()
    {
        Assert.True(CniVersion.Parse("0.10.0") > CniVersion.Parse("0.9.0"));
        Assert.True(CniVersion.Parse("0.4") >= CniVersion.V040);
        Assert.True(CniVersion.V031 < CniVersion.V040);
        Assert.Equal("1.1.0", CniVersion.Current.ToString());
        Assert.Equal(7, CniVersion.All.Count);
        Assert.False(new CniVersion(1, 2, 0).IsKnown);
    }
}
