using CniRuntime.Invocation;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Invocation;

/// <summary>CNI_ARGS has no escaping: what it cannot carry is refused, with a message naming the pair.</summary>
public sealed class CniArgsTests
{
    [Fact]
    public void Pairs_are_joined_in_order()
    {
        Assert.Equal("IgnoreUnknown=1;K8S_POD_NAME=web", CniArgs.Format([new("IgnoreUnknown", "1"), new("K8S_POD_NAME", "web")]));
        Assert.Equal(string.Empty, CniArgs.Format([]));
    }

    [Fact]
    public void An_empty_value_is_allowed()
    {
        Assert.Equal("K=", CniArgs.Format([new("K", string.Empty)]));
    }

    [Theory]
    [InlineData("", "invalid CNI_ARGS key \"\": must be non-empty without ';' or '='")]
    [InlineData("A;B", "invalid CNI_ARGS key \"A;B\": must be non-empty without ';' or '='")]
    [InlineData("A=B", "invalid CNI_ARGS key \"A=B\": must be non-empty without ';' or '='")]
    [InlineData(";", "invalid CNI_ARGS key \";\": must be non-empty without ';' or '='")]
    public void A_key_that_is_empty_or_holds_a_separator_is_refused(string key, string message)
    {
        var error = Assert.Throws<CniException>(() => CniArgs.Format([new("GOOD", "1"), new(key, "value")]));

        Assert.Equal((CniErrorCode.InvalidEnvironmentVariables, message), (error.Code, error.Message));
    }

    [Theory]
    [InlineData("a=b", "invalid CNI_ARGS value \"a=b\" for key \"K\": must not contain ';' or '='")]
    [InlineData("a;b", "invalid CNI_ARGS value \"a;b\" for key \"K\": must not contain ';' or '='")]
    [InlineData("=", "invalid CNI_ARGS value \"=\" for key \"K\": must not contain ';' or '='")]
    [InlineData("x;Y=z", "invalid CNI_ARGS value \"x;Y=z\" for key \"K\": must not contain ';' or '='")]
    public void A_value_that_holds_a_separator_is_refused(string value, string message)
    {
        var error = Assert.Throws<CniException>(() => CniArgs.Format([new("K", value)]));

        Assert.Equal((CniErrorCode.InvalidEnvironmentVariables, message), (error.Code, error.Message));
    }
}
