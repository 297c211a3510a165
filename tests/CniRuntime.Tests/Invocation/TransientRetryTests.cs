using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>Code 11 ("try again later") is retried; other failures are not.</summary>
public sealed class TransientRetryTests : IDisposable
{
    private static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0" };

    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    private NetworkConfigList TwoTransientFailures() =>
        TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", _fixture.WriteScript("script.json", """{"commands":{"ADD":{"transientFailures":2}}}""")));

    [Fact(Timeout = 10_000)]
    public async Task An_ADD_failing_twice_with_code_11_succeeds_on_the_third_call()
    {
        var client = _fixture.CreateClient(o => o with { TransientRetries = 3 });

        var result = await client.AddNetworkListAsync(TwoTransientFailures(), Runtime);

        Assert.Equal("1.0.0", result.CniVersion.ToString());
        Assert.Equal(["ADD noop", "ADD noop", "ADD noop"], _fixture.ReadCalls());
        Assert.True(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
    }

    [Fact(Timeout = 10_000)]
    public async Task With_too_few_retries_the_code_11_error_is_returned_and_rolled_back()
    {
        var client = _fixture.CreateClient(o => o with { TransientRetries = 1 });

        var error = await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkListAsync(TwoTransientFailures(), Runtime));

        Assert.Equal(CniErrorCode.TryAgainLater, error.Code);
        Assert.True(error.IsTransient);
        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): try again later", error.Message);
        Assert.Equal(["ADD noop", "ADD noop", "DEL noop"], _fixture.ReadCalls());
    }

    [Fact(Timeout = 10_000)]
    public async Task Other_error_codes_are_not_retried()
    {
        var script = _fixture.WriteScript("script.json", """{"commands":{"ADD":{"error":"no","errorCode":7}}}""");
        var client = _fixture.CreateClient(o => o with { TransientRetries = 3 });

        await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkListAsync(TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", script)), Runtime));

        Assert.Equal(["ADD noop", "DEL noop"], _fixture.ReadCalls());
    }
}
