using System.Diagnostics;
using CniRuntime.Networks;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>The caller's cancellation kills the running plugin, surfaces unwrapped, and still lets rollback run.</summary>
public sealed class PluginCancellationTests : IDisposable
{
    private static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0" };

    private readonly TestPluginFixture _fixture = new("noop", "noop2");

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task Cancelling_mid_ADD_throws_OperationCanceledException_kills_the_plugin_and_rolls_back()
    {
        var hanging = _fixture.WriteScript("hang.json", """{"commands":{"ADD":{"delayMs":60000}}}""");
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop"), _fixture.Plugin("noop2", hanging));
        var client = _fixture.CreateClient();
        using var cancellation = new CancellationTokenSource();

        var add = client.AddNetworkListAsync(list, Runtime, cancellation.Token);
        var hangingCall = (await _fixture.WaitForCallsAsync(2))[1];
        Assert.Equal("ADD", (string?)hangingCall["command"]);
        var watch = Stopwatch.StartNew();
        await cancellation.CancelAsync();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => add);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.Equal(cancellation.Token, error.CancellationToken);
        Assert.True(await TestPluginFixture.WaitUntilDeadAsync((int)hangingCall["pid"]!), "the cancelled plugin is still running");
        Assert.Equal(["ADD noop", "ADD noop2", "DEL noop2", "DEL noop"], _fixture.ReadCalls());
        Assert.False(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancelling_mid_DEL_throws_OperationCanceledException_and_kills_the_plugin()
    {
        var hanging = _fixture.WriteScript("hang.json", """{"commands":{"DEL":{"delayMs":60000}}}""");
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", hanging));
        var client = _fixture.CreateClient();
        using var cancellation = new CancellationTokenSource();

        var delete = client.DeleteNetworkListAsync(list, Runtime, cancellation.Token);
        var hangingCall = (await _fixture.WaitForCallsAsync(1))[0];
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => delete);
        Assert.True(await TestPluginFixture.WaitUntilDeadAsync((int)hangingCall["pid"]!), "the cancelled plugin is still running");
    }

    // Cancels once the plugin has recorded its call, and checks the cancellation surfaced with the caller's token
    // within a few seconds and the plugin was killed.
    private async Task AssertCancelledAsync(Func<CancellationToken, Task> operation)
    {
        using var cancellation = new CancellationTokenSource();
        var running = operation(cancellation.Token);
        var hangingCall = (await _fixture.WaitForCallsAsync(1))[0];
        var watch = Stopwatch.StartNew();
        await cancellation.CancelAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.Equal(cancellation.Token, error.CancellationToken);
        Assert.True(await TestPluginFixture.WaitUntilDeadAsync((int)hangingCall["pid"]!), "the cancelled plugin is still running");
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancelling_mid_CHECK_throws_OperationCanceledException_and_kills_the_plugin()
    {
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", _fixture.WriteScript("hang.json", """{"commands":{"CHECK":{"delayMs":60000}}}""")));
        var client = _fixture.CreateClient();

        await AssertCancelledAsync(token => client.CheckNetworkListAsync(list, Runtime, token));
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancelling_mid_STATUS_throws_OperationCanceledException_and_kills_the_plugin()
    {
        var list = TestPluginFixture.List("net", "1.1.0", _fixture.Plugin("noop", _fixture.WriteScript("hang.json", """{"commands":{"STATUS":{"delayMs":60000}}}""")));
        var client = _fixture.CreateClient();

        await AssertCancelledAsync(token => client.GetStatusNetworkListAsync(list, token));
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancelling_mid_GC_throws_OperationCanceledException_rather_than_collecting_it_as_an_error()
    {
        var list = TestPluginFixture.List("net", "1.1.0", _fixture.Plugin("noop", _fixture.WriteScript("hang.json", """{"commands":{"GC":{"delayMs":60000}}}""")));
        var client = _fixture.CreateClient();

        await AssertCancelledAsync(token => client.GcNetworkListAsync(list, new GcArgs([]), token));
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancelling_mid_VERSION_throws_OperationCanceledException_and_kills_the_plugin()
    {
        _fixture.AddScriptedPlugin("old", _fixture.WriteScript("hang.json", """{"commands":{"VERSION":{"delayMs":60000}}}"""));
        var client = _fixture.CreateClient();

        await AssertCancelledAsync(token => client.GetVersionInfoAsync("old", token));
    }
}
