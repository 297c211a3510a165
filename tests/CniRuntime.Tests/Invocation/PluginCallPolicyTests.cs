using CniRuntime.Invocation;
using CniRuntime.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace CniRuntime.Tests.Invocation;

/// <summary>The per-call timeout and the retries of code 11 (their pauses on a fake clock).</summary>
public sealed class PluginCallPolicyTests
{
    private static readonly CniException TryAgainLater = new(CniErrorCode.TryAgainLater, "try again later");

    [Fact]
    public async Task A_call_that_succeeds_runs_once()
    {
        var policy = new PluginCallPolicy<int>(TimeSpan.FromSeconds(1), 3, TimeSpan.FromMilliseconds(200), TimeProvider.System);
        var calls = 0;

        var result = await policy.ExecuteAsync(_ => Task.FromResult(++calls), CancellationToken.None);

        Assert.Equal(1, result);
    }

    [Fact(Timeout = 10_000)]
    public async Task Code_11_is_retried_after_the_first_pause()
    {
        var clock = new FakeTimeProvider();
        var policy = new PluginCallPolicy<int>(TimeSpan.FromMinutes(1), 3, TimeSpan.FromMilliseconds(200), clock);
        var calls = 0;

        var run = policy.ExecuteAsync(_ => Interlocked.Increment(ref calls) < 2 ? Task.FromException<int>(TryAgainLater) : Task.FromResult(calls), CancellationToken.None);
        clock.Advance(TimeSpan.FromMilliseconds(149));
        await Task.Delay(50);
        Assert.Equal(1, Volatile.Read(ref calls)); // the first pause is at least 200 ms - 25 %
        clock.Advance(TimeSpan.FromMilliseconds(101));

        Assert.Equal(2, await run); // and at most 200 ms + 25 %
    }

    [Fact]
    public async Task Retries_are_bounded_and_the_last_error_is_thrown()
    {
        var policy = new PluginCallPolicy<int>(TimeSpan.FromMinutes(1), 2, TimeSpan.Zero, TimeProvider.System);
        var calls = 0;

        var error = await Assert.ThrowsAsync<CniException>(() => policy.ExecuteAsync(_ => { calls++; throw TryAgainLater; }, CancellationToken.None));

        Assert.Same(TryAgainLater, error);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Other_errors_are_not_retried()
    {
        var policy = new PluginCallPolicy<int>(TimeSpan.FromMinutes(1), 3, TimeSpan.Zero, TimeProvider.System);
        var calls = 0;

        await Assert.ThrowsAsync<CniException>(() => policy.ExecuteAsync(_ => { calls++; throw new CniException(CniErrorCode.IoFailure, "no"); }, CancellationToken.None));

        Assert.Equal(1, calls);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_attempt_that_outlives_the_timeout_is_cancelled_and_reported_as_timed_out()
    {
        var policy = new PluginCallPolicy<int>(TimeSpan.FromMilliseconds(200), 3, TimeSpan.Zero, TimeProvider.System);
        var cancelled = false;

        var error = await Assert.ThrowsAsync<PluginCallTimedOutException>(() => policy.ExecuteAsync(
            async token =>
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, token);
                }
                catch (OperationCanceledException)
                {
                    cancelled = true;
                    throw;
                }

                return 0;
            },
            CancellationToken.None));

        Assert.True(cancelled); // the call's own token fired: the executor kills the plugin on it
        Assert.IsType<Polly.Timeout.TimeoutRejectedException>(error.InnerException);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_callers_cancellation_is_a_cancellation_not_a_timeout()
    {
        using var cancel = new CancellationTokenSource();
        var policy = new PluginCallPolicy<int>(TimeSpan.FromMinutes(1), 3, TimeSpan.Zero, TimeProvider.System);

        var run = policy.ExecuteAsync(static async token => { await Task.Delay(Timeout.Infinite, token); return 0; }, cancel.Token);
        await cancel.CancelAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(cancel.Token, error.CancellationToken);
    }

    [Fact]
    public async Task An_infinite_timeout_passes_the_callers_token_through()
    {
        using var cancel = new CancellationTokenSource();
        var policy = new PluginCallPolicy<CancellationToken>(Timeout.InfiniteTimeSpan, 0, TimeSpan.Zero, TimeProvider.System);

        var token = await policy.ExecuteAsync(Task.FromResult, cancel.Token);

        Assert.Equal(cancel.Token, token);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    public void A_timeout_that_is_not_positive_is_refused(int milliseconds) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PluginCallPolicy<int>(TimeSpan.FromMilliseconds(milliseconds), 0, TimeSpan.Zero, TimeProvider.System));

    [Fact]
    public void Pauses_stay_within_a_quarter_of_the_doubled_first_pause()
    {
        var policy = new PluginCallPolicy<int>(TimeSpan.FromSeconds(1), 5, TimeSpan.FromMilliseconds(100), TimeProvider.System);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            for (var i = 0; i < 100; i++)
            {
                var pause = policy.Pause(attempt).TotalMilliseconds;
                Assert.InRange(pause, 75 * Math.Pow(2, attempt), 125 * Math.Pow(2, attempt));
            }
        }
    }
}
