using CniRuntime.Networks;
using CniRuntime.Tests.Support;
using static CniRuntime.Tests.Networks.CniClientFixture;

namespace CniRuntime.Tests.Networks;

/// <summary>The defaults the README and the option docs promise, and what the plugin timeout bounds.</summary>
public sealed class CniClientOptionsTests
{
    [Fact]
    public void The_defaults_are_the_documented_ones()
    {
        var options = new CniClientOptions();

        Assert.Equal(TimeSpan.FromMinutes(1), options.PluginTimeout);
        Assert.Equal(3, options.TransientRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.TransientRetryDelay);
        Assert.True(options.RollbackFailedAdd);
        Assert.Equal(["/opt/cni/bin"], options.PluginDirectories);
        Assert.Equal("/var/lib/cni", options.CacheDirectory);
        Assert.False(options.DurableWrites);
    }

    [Fact]
    public async Task The_timeout_bounds_each_attempt_not_the_whole_call()
    {
        // Three attempts of 300 ms each, under a 500 ms timeout: together longer than it, each within it.
        using var f = new CniClientFixture(o => o with { PluginTimeout = TimeSpan.FromMilliseconds(500) });
        f.Executor.Delay = TimeSpan.FromMilliseconds(300);
        var attempts = 0;
        f.Executor.On("noop", call => Interlocked.Increment(ref attempts) <= 2 ? FakePluginExecutor.Error(11, "try again later") : FakePluginExecutor.Default(call));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        await f.Client.AddNetworkListAsync(List("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}"""), Runtime());

        Assert.Equal(3, attempts);
        Assert.True(watch.Elapsed > TimeSpan.FromMilliseconds(500), $"took {watch.Elapsed}");
    }
}
