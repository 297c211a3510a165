using System.Threading.Channels;
using CniRuntime.Interop;
using CniRuntime.Protocol;

namespace CniRuntime.Configuration;

/// <summary>
/// Keeps an up-to-date snapshot of a configuration directory (<c>/etc/cni/net.d</c>) and reports when it changes.
/// </summary>
/// <remarks>
/// <para>
/// The directory is watched with inotify (files created, written, deleted, and renamed into or out of place, also
/// in plugin subdirectories), and the nearest existing directory above it is watched for the directory itself
/// appearing, disappearing or being replaced; the watch is re-armed whenever the directory's (device, inode)
/// changes, so deleting and recreating it, or renaming another directory over it, loses nothing. The directory
/// need not exist when the watcher starts.
/// </para>
/// <para>
/// Events are debounced (<see cref="NetworkConfigWatcherOptions.Debounce"/>), rescans never overlap, and the
/// directory is also rescanned (and the watches renewed) every <see cref="NetworkConfigWatcherOptions.PollInterval"/>
/// in case notifications were lost. A watcher error (such as an inotify queue overflow) re-arms the watches and rescans. Nothing thrown
/// by the file system escapes: a directory that cannot be watched or scanned is reported as a diagnostic of the
/// snapshot (a failed scan keeps the networks of the last good one) and is retried every second.
/// </para>
/// <para>
/// A snapshot counts as changed when its file list, any network's content (including plugin files read from
/// subdirectories) or its diagnostics differ; touching a file without changing it is not a change.
/// </para>
/// </remarks>
public sealed class NetworkConfigWatcher : IAsyncDisposable
{
    // A steady stream of events still rescans at least every this many debounce periods.
    private const int MaxDebouncePeriods = 10;

    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private readonly string _directory;
    private readonly string _fullPath;
    private readonly NetworkConfigWatcherOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly AsyncLocal<bool> _dispatching = new();
    private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Channel<NetworkConfigChangedEventArgs> _changes = Channel.CreateUnbounded<NetworkConfigChangedEventArgs>(
        new UnboundedChannelOptions { SingleReader = true });

    private ConfigDirectoryScan _current;
    private TaskCompletionSource<ConfigDirectoryScan> _nextChange = NewChangeSource();
    private int _disposed;
    private int _rearmRequested;
    private Task _loop = Task.CompletedTask;
    private Task _dispatcher = Task.CompletedTask;

    // Guarded by _gate.
    private ConfigDirectoryScan? _lastGoodScan;
    private Exception? _scanError;
    private FileSystemWatcher? _directoryWatcher;
    private (ulong Device, ulong Inode)? _directoryIdentity;
    private Exception? _directoryWatchError;
    private FileSystemWatcher? _ancestorWatcher;
    private string? _ancestorPath;
    private string? _ancestorChild;
    private (ulong Device, ulong Inode)? _ancestorIdentity;
    private Exception? _ancestorWatchError;

    private NetworkConfigWatcher(string directory, NetworkConfigWatcherOptions options)
    {
        _directory = directory;
        _fullPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        _options = options;
        _time = options.TimeProvider;
        _current = new ConfigDirectoryScan(directory, [], [], []);
    }

    /// <summary>
    /// Raised after a rescan found the directory different from the last snapshot, with both snapshots. Handlers
    /// run one at a time, in order of the changes, on a background thread; an exception thrown by a handler is
    /// swallowed and does not stop the watcher or the other handlers. None is raised once disposal has begun.
    /// </summary>
    public event EventHandler<NetworkConfigChangedEventArgs>? Changed;

    /// <summary>The latest snapshot of the directory; replaced as a whole, never modified.</summary>
    public ConfigDirectoryScan Current => Volatile.Read(ref _current);

    /// <summary>
    /// The default network of <see cref="Current"/> (see <see cref="ConfigDirectoryScan.DefaultNetwork"/>): the first valid
    /// configuration by file name whatever its extension, or null. Read <c>Current.DefaultNetwork</c> instead to get
    /// it together with the rest of one snapshot.
    /// </summary>
    public NetworkConfigList? DefaultNetwork => Current.DefaultNetwork;

    /// <summary>Scans <paramref name="directory"/> once and starts watching it; the directory need not exist yet.</summary>
    /// <param name="directory">The configuration directory, such as <c>/etc/cni/net.d</c>.</param>
    /// <param name="options">Debounce, polling and clock; the defaults when null.</param>
    /// <param name="cancellationToken">Cancels the first scan.</param>
    /// <returns>The watcher, whose <see cref="Current"/> holds the first scan.</returns>
    public static async Task<NetworkConfigWatcher> StartAsync(string directory, NetworkConfigWatcherOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new NetworkConfigWatcherOptions();
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Debounce, TimeSpan.Zero, nameof(options));
        if (options.PollInterval is { } poll)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(poll, TimeSpan.Zero, nameof(options));
        }

        var watcher = new NetworkConfigWatcher(directory, options);
        try
        {
            await watcher._gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                watcher.Arm();
                watcher._current = await watcher.ScanAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                watcher._gate.Release();
            }
        }
        catch
        {
            await watcher.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        watcher._loop = Task.Run(watcher.RunAsync, CancellationToken.None);
        watcher._dispatcher = Task.Run(watcher.DispatchAsync, CancellationToken.None);
        return watcher;
    }

    /// <summary>Rescans the directory now (waiting for a rescan in progress) and returns the resulting snapshot.</summary>
    /// <exception cref="ObjectDisposedException">The watcher is disposed.</exception>
    public async Task<ConfigDirectoryScan> RescanAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var stop = _stop.Token;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stop);
        try
        {
            await _gate.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(NetworkConfigWatcher));
        }

        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            Arm();
            return Publish(await ScanAsync(linked.Token).ConfigureAwait(false));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Completes with the next snapshot that differs from the current one. To wait for a condition without missing a
    /// change that happens in between, use <see cref="WaitUntilAsync"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The watcher is (or gets) disposed.</exception>
    public Task<ConfigDirectoryScan> WaitForChangeAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Volatile.Read(ref _nextChange).Task.WaitAsync(cancellationToken);
    }

    /// <summary>Completes with the first snapshot (the current one included) for which <paramref name="condition"/> holds.</summary>
    /// <exception cref="ObjectDisposedException">The watcher is (or gets) disposed first.</exception>
    public async Task<ConfigDirectoryScan> WaitUntilAsync(Func<ConfigDirectoryScan, bool> condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

            // Take the next change before reading the current snapshot, so a change in between is not missed.
            var next = Volatile.Read(ref _nextChange).Task;
            var current = Current;
            if (condition(current))
            {
                return current;
            }

            await next.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops watching. No <see cref="Changed"/> handler starts once this is called, and when it returns none is
    /// running (unless it was called from a handler).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            DisposeDirectoryWatcher();
            DisposeAncestorWatcher();
        }
        finally
        {
            _gate.Release();
        }

        _changes.Writer.TryComplete();
        var pending = Volatile.Read(ref _nextChange);
        pending.TrySetException(new ObjectDisposedException(nameof(NetworkConfigWatcher)));
        _ = pending.Task.Exception; // observed: nobody need be waiting
        if (!_dispatching.Value)
        {
            await _dispatcher.ConfigureAwait(false);
        }

        _stop.Dispose();
        _gate.Dispose();
    }

    /// <summary>Whether two snapshots show the same files, network contents and diagnostics.</summary>
    internal static bool SameSnapshot(ConfigDirectoryScan a, ConfigDirectoryScan b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (!string.Equals(a.Directory, b.Directory, StringComparison.Ordinal)
            || !a.Files.SequenceEqual(b.Files, StringComparer.Ordinal)
            || a.Networks.Count != b.Networks.Count
            || a.Diagnostics.Count != b.Diagnostics.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Networks.Count; i++)
        {
            if (!SameNetwork(a.Networks[i], b.Networks[i]))
            {
                return false;
            }
        }

        for (var i = 0; i < a.Diagnostics.Count; i++)
        {
            var (x, y) = (a.Diagnostics[i], b.Diagnostics[i]);
            if (!string.Equals(x.File, y.File, StringComparison.Ordinal)
                || !string.Equals(x.NetworkName, y.NetworkName, StringComparison.Ordinal)
                || x.Kind != y.Kind
                || !string.Equals(x.Message, y.Message, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reports a watcher error as the file-system watcher would (re-arm, then rescan); for tests.</summary>
    internal void SimulateWatcherError() => OnWatcherError(this, new ErrorEventArgs(new InternalBufferOverflowException()));

    private static bool SameNetwork(NetworkConfigList x, NetworkConfigList y)
    {
        if (!string.Equals(x.Name, y.Name, StringComparison.Ordinal)
            || !string.Equals(x.Source, y.Source, StringComparison.Ordinal)
            || !x.Bytes.Span.SequenceEqual(y.Bytes.Span)
            || x.Plugins.Count != y.Plugins.Count)
        {
            return false;
        }

        for (var i = 0; i < x.Plugins.Count; i++)
        {
            if (!string.Equals(x.Plugins[i].Json.GetRawText(), y.Plugins[i].Json.GetRawText(), StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static TaskCompletionSource<ConfigDirectoryScan> NewChangeSource() =>
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (await WaitForSignalAsync(stop).ConfigureAwait(false))
                {
                    await DebounceAsync(stop).ConfigureAwait(false);
                }
                else
                {
                    // A poll also renews the watches, in case one went stale without a sign (a directory replaced
                    // by one with the same inode number while the events saying so were lost). Nothing is missed:
                    // the scan below runs after the new watches exist.
                    Interlocked.Exchange(ref _rearmRequested, 1);
                }

                await _gate.WaitAsync(stop).ConfigureAwait(false);
                try
                {
                    Arm();
                    Publish(await ScanAsync(stop).ConfigureAwait(false));
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The loop must survive anything; the next pass retries.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                // Retried after RetryInterval (WaitForSignalAsync shortens the wait while _scanError is set).
                _scanError = ex;
                await Task.Delay(RetryInterval, _time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    // True when an event arrived; false when the poll interval (or the retry interval, while something failed) passed.
    private async Task<bool> WaitForSignalAsync(CancellationToken stop)
    {
        if (_signals.Reader.TryRead(out _))
        {
            return true;
        }

        var timeout = _options.PollInterval;
        if (_scanError is not null || _directoryWatchError is not null || _ancestorWatchError is not null)
        {
            timeout = timeout is { } poll && poll < RetryInterval ? poll : RetryInterval;
        }

        if (timeout is null)
        {
            await _signals.Reader.ReadAsync(stop).ConfigureAwait(false);
            return true;
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var signal = _signals.Reader.WaitToReadAsync(cancel.Token).AsTask();
        var delay = Task.Delay(timeout.Value, _time, cancel.Token);
        await Task.WhenAny(signal, delay).ConfigureAwait(false);
        await cancel.CancelAsync().ConfigureAwait(false);
        stop.ThrowIfCancellationRequested();
        return _signals.Reader.TryRead(out _);
    }

    // Waits until no event arrived for one debounce period, or at most MaxDebouncePeriods periods in all.
    private async Task DebounceAsync(CancellationToken stop)
    {
        var started = _time.GetTimestamp();
        var limit = _options.Debounce * MaxDebouncePeriods;
        do
        {
            await Task.Delay(_options.Debounce, _time, stop).ConfigureAwait(false);
        }
        while (_signals.Reader.TryRead(out _) && _time.GetElapsedTime(started) < limit);
    }

    private async Task DispatchAsync()
    {
        _dispatching.Value = true;
        await foreach (var change in _changes.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var handlers = Changed;
            if (handlers is null)
            {
                continue;
            }

            foreach (var handler in handlers.GetInvocationList())
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    break;
                }

                try
                {
                    ((EventHandler<NetworkConfigChangedEventArgs>)handler)(this, change);
                }
#pragma warning disable CA1031 // A subscriber's failure must not stop the watcher or the other subscribers.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }
    }

    // Under _gate. Scans; on failure keeps the networks of the last good scan. Adds the watcher's own diagnostics.
    private async Task<ConfigDirectoryScan> ScanAsync(CancellationToken cancellationToken)
    {
        ConfigDirectoryScan scan;
        try
        {
            scan = await NetworkConfigLoader.ScanDirectoryAsync(_directory, cancellationToken).ConfigureAwait(false);
            _lastGoodScan = scan;
            _scanError = null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            scan = _lastGoodScan ?? new ConfigDirectoryScan(_directory, [], [], []);
            _scanError = ex; // retried after RetryInterval
        }

        var errors = new List<ConfigDiagnostic>(3);
        AddDiagnostic(errors, _scanError, "cannot scan directory (showing the last good scan)");
        AddDiagnostic(errors, _directoryWatchError, "cannot watch directory for changes (polling only)");
        AddDiagnostic(errors, _ancestorWatchError, "cannot watch for the directory being created or replaced (polling only)");
        return errors.Count == 0 ? scan : scan with { Diagnostics = [.. scan.Diagnostics, .. errors] };
    }

    private void AddDiagnostic(List<ConfigDiagnostic> diagnostics, Exception? error, string what)
    {
        if (error is not null)
        {
            diagnostics.Add(new ConfigDiagnostic(_directory, null, ConfigDiagnosticKind.Unreadable, new CniConfigException(
                $"{what}: {error.Message}", _directory, null, CniErrorCode.IoFailure, error)));
        }
    }

    // Under _gate. Makes Current the scan if it differs, queues the Changed event and wakes waiters.
    private ConfigDirectoryScan Publish(ConfigDirectoryScan scan)
    {
        var previous = _current;
        if (SameSnapshot(previous, scan))
        {
            return previous;
        }

        Volatile.Write(ref _current, scan);
        _changes.Writer.TryWrite(new NetworkConfigChangedEventArgs(previous, scan));
        Interlocked.Exchange(ref _nextChange, NewChangeSource()).TrySetResult(scan);
        return scan;
    }

    // Under _gate. Watches the directory if it exists (again, if it was replaced) and the nearest existing directory
    // above it for the next path component appearing, vanishing or being renamed.
    private void Arm()
    {
        var rearm = Interlocked.Exchange(ref _rearmRequested, 0) != 0;

        var identity = Directory.Exists(_fullPath) ? Libc.Identity(_fullPath) : null;
        if (rearm || identity != _directoryIdentity || (identity is not null && _directoryWatcher is null))
        {
            DisposeDirectoryWatcher();
            _directoryWatchError = null;
            if (identity is not null)
            {
                _directoryWatcher = TryWatch(_fullPath, directory: true, out _directoryWatchError);
                _directoryIdentity = _directoryWatcher is null ? null : identity;
            }
        }

        var (ancestor, child) = FindAncestor();
        var ancestorIdentity = ancestor is null ? null : Libc.Identity(ancestor);
        if (rearm || !string.Equals(ancestor, _ancestorPath, StringComparison.Ordinal) || !string.Equals(child, _ancestorChild, StringComparison.Ordinal)
            || ancestorIdentity != _ancestorIdentity || (ancestor is not null && _ancestorWatcher is null))
        {
            DisposeAncestorWatcher();
            _ancestorWatchError = null;
            _ancestorPath = ancestor;
            _ancestorChild = child;
            if (ancestor is not null && ancestorIdentity is not null)
            {
                _ancestorWatcher = TryWatch(ancestor, directory: false, out _ancestorWatchError);
                _ancestorIdentity = _ancestorWatcher is null ? null : ancestorIdentity;
            }
        }
    }

    private (string? Path, string? Child) FindAncestor()
    {
        var child = _fullPath;
        var parent = Path.GetDirectoryName(child);
        while (parent is not null)
        {
            if (Directory.Exists(parent))
            {
                return (parent, Path.GetFileName(child));
            }

            child = parent;
            parent = Path.GetDirectoryName(parent);
        }

        return (null, null);
    }

    private FileSystemWatcher? TryWatch(string path, bool directory, out Exception? error)
    {
        FileSystemWatcher? watcher = null;
        try
        {
            watcher = new FileSystemWatcher(path)
            {
                IncludeSubdirectories = directory,
                NotifyFilter = directory
                    ? NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.Attributes
                    : NotifyFilters.FileName | NotifyFilters.DirectoryName,
                InternalBufferSize = 64 * 1024,
            };
            if (directory)
            {
                watcher.Created += OnDirectoryEvent;
                watcher.Changed += OnDirectoryEvent;
                watcher.Deleted += OnDirectoryEvent;
                watcher.Renamed += OnDirectoryEvent;
            }
            else
            {
                watcher.Created += OnAncestorEvent;
                watcher.Changed += OnAncestorEvent;
                watcher.Deleted += OnAncestorEvent;
                watcher.Renamed += OnAncestorEvent;
            }

            watcher.Error += OnWatcherError;
            watcher.EnableRaisingEvents = true;
            error = null;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or PlatformNotSupportedException or InvalidOperationException)
        {
            watcher?.Dispose();
            error = ex;
            return null;
        }
    }

    private void OnDirectoryEvent(object sender, FileSystemEventArgs e) => Signal();

    private void OnAncestorEvent(object sender, FileSystemEventArgs e)
    {
        var child = Volatile.Read(ref _ancestorChild);
        if (string.Equals(e.Name, child, StringComparison.Ordinal)
            || (e is RenamedEventArgs renamed && string.Equals(renamed.OldName, child, StringComparison.Ordinal)))
        {
            Interlocked.Exchange(ref _rearmRequested, 1);
            Signal();
        }
    }

    private void OnWatcherError(object sender, ErrorEventArgs e)
    {
        Interlocked.Exchange(ref _rearmRequested, 1);
        Signal();
    }

    private void Signal() => _signals.Writer.TryWrite(true);

    private void DisposeDirectoryWatcher()
    {
        _directoryWatcher?.Dispose();
        _directoryWatcher = null;
        _directoryIdentity = null;
    }

    private void DisposeAncestorWatcher()
    {
        _ancestorWatcher?.Dispose();
        _ancestorWatcher = null;
        _ancestorIdentity = null;
    }
}
