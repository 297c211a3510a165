namespace CniRuntime.Configuration;

/// <summary>How a <see cref="NetworkConfigWatcher"/> notices changes.</summary>
public sealed record NetworkConfigWatcherOptions
{
    /// <summary>
    /// How long the directory must stay quiet after a file-system event before it is rescanned, so that a burst of
    /// writes costs one rescan. A steady stream of events still rescans at least every ten debounce periods.
    /// The default is 100 ms; zero rescans at once.
    /// </summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How often the directory is rescanned even without events, a safety net for lost notifications (inotify
    /// queues overflow, network file systems send none). The default is 30 s; null disables polling.
    /// </summary>
    public TimeSpan? PollInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock for debouncing, polling and retries.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
