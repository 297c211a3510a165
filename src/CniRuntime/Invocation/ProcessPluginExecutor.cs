using System.Buffers;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>Limits for <see cref="ProcessPluginExecutor"/>.</summary>
public sealed record ProcessPluginExecutorOptions
{
    /// <summary>The most stdout kept from one plugin; the rest is read and discarded. The default is 4 MiB.</summary>
    public int MaxStdoutBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>The most stderr kept from one plugin. The default is 64 KiB.</summary>
    public int MaxStderrBytes { get; init; } = 64 * 1024;

    /// <summary>How often a start that fails with "text file busy" (a binary being replaced) is retried. The default is 5.</summary>
    public int TextFileBusyRetries { get; init; } = 5;

    /// <summary>The pause before each such retry. The default is 200 ms.</summary>
    public TimeSpan TextFileBusyDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The clock for retry pauses.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>
/// Runs plugins as child processes: the runtime's environment with the CNI variables on top, stdin written and
/// closed, stdout and stderr drained concurrently up to a cap, and on cancellation the whole process tree killed.
/// </summary>
/// <remarks>
/// <see cref="Process"/> directly rather than through CliWrap: the same pipes and waits, without CliWrap's extra
/// tasks, cancellation sources and start/exit time lookups, which cost about 0.15 ms of every exec.
/// </remarks>
public sealed class ProcessPluginExecutor : IPluginExecutor
{
    private const int TextFileBusyErrno = 26;

    // How long a killed plugin is waited for before its cancellation is reported anyway.
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(3);
    private readonly ProcessPluginExecutorOptions _options;

    /// <summary>Creates an executor with the given limits, or the defaults.</summary>
    public ProcessPluginExecutor(ProcessPluginExecutorOptions? options = null)
    {
        _options = options ?? new ProcessPluginExecutorOptions();
    }

    /// <inheritdoc />
    public string FindPlugin(string pluginType, IReadOnlyList<string> directories) => PluginLocator.Find(pluginType, directories);

    /// <inheritdoc />
    public async Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await RunOnceAsync(invocation, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTextFileBusy(ex) && attempt < _options.TextFileBusyRetries)
            {
                await Task.Delay(_options.TextFileBusyDelay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTextFileBusy(ex))
            {
                // libcni falls through here and reports success with empty output; a busy binary is a failure.
                throw new CniPluginExecutionException(
                    $"failed to start plugin {invocation.PluginPath}: text file busy (still after {attempt} retries)",
                    invocation.PluginPath,
                    null,
                    string.Empty,
                    ex);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && StartFailure(ex) is { } cause)
            {
                throw new CniPluginExecutionException(
                    $"failed to start plugin {invocation.PluginPath}: {cause.Message}",
                    invocation.PluginPath,
                    null,
                    string.Empty,
                    ex);
            }
        }
    }

    private async Task<PluginProcessResult> RunOnceAsync(PluginInvocation invocation, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var start = new ProcessStartInfo(invocation.PluginPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in invocation.Environment)
        {
            start.Environment[key] = value;
        }

        using var process = new Process { StartInfo = start };
        process.Start();

        // From here a cancellation (the caller's, or the call's timeout) kills the plugin's whole process tree
        // (an IPAM plugin it delegated to included); the pipes then close and the reads below end.
        using var kill = cancellationToken.UnsafeRegister(static state => KillTree((Process)state!), process);
        var stdout = new CappedBuffer(_options.MaxStdoutBytes);
        var stderr = new CappedBuffer(_options.MaxStderrBytes);
        var draining = Task.WhenAll(
            stdout.DrainAsync(process.StandardOutput.BaseStream, cancellationToken),
            stderr.DrainAsync(process.StandardError.BaseStream, cancellationToken));
        try
        {
            await FeedAsync(process.StandardInput.BaseStream, invocation.Stdin, cancellationToken).ConfigureAwait(false);
            await draining.ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Reap the killed plugin before reporting; a tree that will not die is left to the operating system.
            using var grace = new CancellationTokenSource(KillGrace);
            await process.WaitForExitAsync(grace.Token).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            throw new OperationCanceledException($"plugin {invocation.PluginPath} was cancelled and killed", cancellationToken);
        }

        return new PluginProcessResult(process.ExitCode, stdout.ToArray(), stderr.ToText(), stdout.Truncated);
    }

    // Writes stdin and closes it. A plugin that exits without reading all of it is not an error (EPIPE).
    private static async Task FeedAsync(Stream stdin, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            await using (stdin.ConfigureAwait(false))
            {
                await stdin.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IOException ex) when (ex.GetType() == typeof(IOException))
        {
        }
    }

    // Runs inside the token's Cancel(), so it must not throw: a process of the tree that is already gone makes
    // Kill report an AggregateException, and the tree is dead all the same.
    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception or NotSupportedException or AggregateException)
        {
        }
    }

    private static bool IsTextFileBusy(Exception ex) => StartFailure(ex) is { NativeErrorCode: TextFileBusyErrno };

    // The innermost Win32Exception carries the real errno (wrappers may carry whatever the thread saw last).
    private static Win32Exception? StartFailure(Exception ex)
    {
        Win32Exception? innermost = null;
        for (Exception? current = ex; current is not null; current = current.InnerException)
        {
            if (current is Win32Exception win32)
            {
                innermost = win32;
            }
        }

        return innermost;
    }

    /// <summary>Keeps the first <c>limit</c> bytes of a stream and reads the rest to the end, so the writer never blocks.</summary>
    private sealed class CappedBuffer(int limit)
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(Math.Min(limit, 4096));

        public bool Truncated { get; private set; }

        public async Task DrainAsync(Stream source, CancellationToken cancellationToken)
        {
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await source.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    var keep = Math.Min(read, limit - _buffer.WrittenCount);
                    if (keep > 0)
                    {
                        _buffer.Write(chunk.AsSpan(0, keep));
                    }

                    Truncated |= keep < read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

        public string ToText() => Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }
}
