using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>
/// How one plugin call is guarded: a timeout per attempt (the executor kills the plugin when its token fires) and
/// retries of "try again later" (code 11) after pauses that double each time, with jitter.
/// </summary>
/// <remarks>
/// Written out rather than built as a Polly pipeline: building one validates its options through DataAnnotations
/// reflection, about 2.4 ms of every <c>cnirt</c> start under Native AOT, more than the engine's own work per call.
/// </remarks>
internal sealed class PluginCallPolicy
{
    // A timer runs for at most uint.MaxValue - 1 ms; a longer timeout is no timeout.
    private static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    private readonly TimeSpan _timeout;
    private readonly int _retries;
    private readonly TimeSpan _firstPause;
    private readonly TimeProvider _timeProvider;

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
        _timeout = timeout;
        _retries = retries;
        _firstPause = firstPause;
        _timeProvider = timeProvider;
    }

    /// <summary>Runs <paramref name="call"/>, again after a transient failure, each attempt under the timeout.</summary>
    /// <exception cref="TimedOutException">An attempt outlived the timeout (its token was cancelled).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<TResult> ExecuteAsync<TState, TResult>(Func<TState, CancellationToken, Task<TResult>> call, TState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        for (var attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return await AttemptAsync(call, state, cancellationToken).ConfigureAwait(false);
            }
            catch (CniException ex) when (ex.IsTransient && attempt < _retries)
            {
                await Task.Delay(Pause(attempt), _timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The pause before retry <paramref name="attempt"/> + 1: the first pause doubled per attempt, ±25 %.</summary>
    internal TimeSpan Pause(int attempt)
    {
        var jitter = 0.75 + (Random.Shared.NextDouble() * 0.5);
        var pause = _firstPause.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)) * jitter;
        return TimeSpan.FromMilliseconds(Math.Min(pause, LongestTimer.TotalMilliseconds));
    }

    private async Task<TResult> AttemptAsync<TState, TResult>(Func<TState, CancellationToken, Task<TResult>> call, TState state, CancellationToken cancellationToken)
    {
        if (_timeout == Timeout.InfiniteTimeSpan || _timeout > LongestTimer)
        {
            return await call(state, cancellationToken).ConfigureAwait(false);
        }

        using var timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _timeProvider);
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token) : null;
        try
        {
            var attempt = call(state, linked?.Token ?? timeout.Token);

            // Armed once the call is under way (a process executor has started the plugin by now): the timer
            // thread that the first timer of a process starts then comes up while the plugin runs, not before.
            timeout.CancelAfter(_timeout);
            return await attempt.ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimedOutException(ex);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested && ex.CancellationToken != cancellationToken)
        {
            // The caller cancelled: say so with the caller's token, not the linked one.
            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
    }

    /// <summary>An attempt outlived the timeout; the caller turns it into the error it reports.</summary>
    internal sealed class TimedOutException(OperationCanceledException cancellation)
        : Exception("the plugin call timed out", cancellation);
}
