using CniRuntime.Protocol;
using Polly;
using Polly.Timeout;

namespace CniRuntime.Invocation;

/// <summary>
/// How one plugin call is guarded, with Polly: a timeout per attempt (optimistic: the token the call gets fires,
/// and the executor kills the plugin's process tree on it) inside retries of "try again later" (code 11) after
/// pauses that double each time, with jitter.
/// </summary>
/// <typeparam name="TResult">What a call returns.</typeparam>
/// <remarks>
/// Polly's policy API rather than a v8 resilience pipeline: building a pipeline validates its options through
/// DataAnnotations reflection, about 3 ms of every <c>cnirt</c> start under Native AOT (more than the engine's own
/// work per call), where the policies cost a small fraction of that. The policies are typed by the result: an
/// untyped policy's generic virtual methods are resolved at run time under Native AOT, ~50 us on each process's first
/// call. The pauses run on the given clock; the timeout runs on the system's.
/// </remarks>
internal sealed class PluginCallPolicy<TResult>
{
    // A timer runs for at most uint.MaxValue - 1 ms; a longer timeout is no timeout.
    private static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);
    private const string TokenKey = "cnirt.token";

    private readonly TimeSpan _firstPause;
    private readonly IAsyncPolicy<TResult> _policy;

    /// <exception cref="ArgumentOutOfRangeException">The timeout is not positive (nor infinite), or a count or pause is negative.</exception>
    public PluginCallPolicy(TimeSpan timeout, int retries, TimeSpan firstPause, TimeProvider timeProvider)
    {
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the plugin timeout must be positive");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(retries);
        ArgumentOutOfRangeException.ThrowIfLessThan(firstPause, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _firstPause = firstPause;
        // Each policy is named: an unnamed one names itself on its first call after its type, by reflection.
        IAsyncPolicy<TResult> attempt = timeout == Timeout.InfiniteTimeSpan || timeout > LongestTimer
            ? Policy.NoOpAsync<TResult>().WithPolicyKey("cnirt-no-timeout")
            : Policy.TimeoutAsync<TResult>(timeout, TimeoutStrategy.Optimistic).WithPolicyKey("cnirt-timeout");
        _policy = retries == 0
            ? attempt
            : Policy<TResult>.Handle<CniException>(static e => e.IsTransient)
                .RetryAsync(retries, (_, retry, context) => Task.Delay(Pause(retry - 1), timeProvider, (CancellationToken)context[TokenKey]))
                .WithPolicyKey("cnirt-retry")
                .WrapAsync(attempt)
                .WithPolicyKey("cnirt-plugin-call");
    }

    /// <summary>Runs <paramref name="call"/>, again after a transient failure, each attempt under the timeout.</summary>
    /// <exception cref="PluginCallTimedOutException">An attempt outlived the timeout (its token was cancelled).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<TResult> ExecuteAsync(Func<CancellationToken, Task<TResult>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        cancellationToken.ThrowIfCancellationRequested();
        var context = new Context { [TokenKey] = cancellationToken };
        try
        {
            return await _policy.ExecuteAsync((_, token) => call(token), context, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException ex)
        {
            throw new PluginCallTimedOutException(ex);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested && ex.CancellationToken != cancellationToken)
        {
            // The caller cancelled: say so with the caller's token, not the linked one.
            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
    }

    /// <summary>The pause before retry <paramref name="attempt"/> + 1: the first pause doubled per attempt, ±25 %.</summary>
    internal TimeSpan Pause(int attempt)
    {
        var jitter = 0.75 + (Random.Shared.NextDouble() * 0.5);
        var pause = _firstPause.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)) * jitter;
        return TimeSpan.FromMilliseconds(Math.Min(pause, LongestTimer.TotalMilliseconds));
    }
}

/// <summary>An attempt outlived the timeout; the caller turns it into the error it reports.</summary>
internal sealed class PluginCallTimedOutException(Exception timeout) : Exception("the plugin call timed out", timeout);
