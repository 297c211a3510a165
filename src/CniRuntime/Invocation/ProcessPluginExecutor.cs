using System.Buffers;
using System.ComponentModel;
using System.Text;
using CliWrap;
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

    /// <summary>
    /// A command plugins are started through, the plugin's path appended to it: <c>["/usr/sbin/ip", "netns", "exec",
    /// "node1"]</c> runs them in the network namespace <c>node1</c> instead of the runtime's own (a throwaway node in
    /// tests). The launcher must <c>exec</c> the plugin, so that killing the process tree still reaches it. The
    /// default is none: plugins are started directly.
    /// </summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    /// <summary>
    /// Whether plugins get the runtime's whole environment under the invocation's variables (true, the default) or
    /// only those and <c>PATH</c> (the runtime's, or <c>/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin</c>).
    /// </summary>
    public bool InheritEnvironment { get; init; } = true;
}

/// <summary>
/// Runs plugins as child processes (through CliWrap): the runtime's environment with the CNI variables on top,
/// stdin written and closed, stdout and stderr drained concurrently up to a cap, and on cancellation the whole
/// process tree killed.
/// </summary>
public sealed class ProcessPluginExecutor : IPluginExecutor
{
    private const int TextFileBusyErrno = 26;
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
        var stdout = new CappedBuffer(_options.MaxStdoutBytes);
        var stderr = new CappedBuffer(_options.MaxStderrBytes);
        var command = (_options.Launcher.Count == 0
                ? Cli.Wrap(invocation.PluginPath)
                : Cli.Wrap(_options.Launcher[0]).WithArguments([.. _options.Launcher.Skip(1), invocation.PluginPath]))
            .WithStandardInputPipe(PipeSource.FromBytes(invocation.Stdin))
            .WithStandardOutputPipe(PipeTarget.Create(stdout.DrainAsync))
            .WithStandardErrorPipe(PipeTarget.Create(stderr.DrainAsync))
            .WithEnvironmentVariables(Environment(invocation.Environment, _options.InheritEnvironment))
            .WithValidation(CommandResultValidation.None);

        // Forceful cancellation kills the plugin's whole process tree (an IPAM plugin it delegated to included).
        var execution = command.ExecuteAsync(cancellationToken);

        // In a fresh process (a command line's first plugin) the thread pool has no thread yet, and the plugin's exit
        // is completed on the pool. Its first worker is started now, while the plugin runs, instead of after the
        // plugin has exited, where starting it delayed the next plugin by about 0.4 ms.
        if (ThreadPool.ThreadCount == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static _ => { }, null);
        }

        var result = await execution.ConfigureAwait(false);
        return new PluginProcessResult(result.ExitCode, stdout.ToArray(), stderr.ToText(), stdout.Truncated);
    }

    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static Dictionary<string, string?> Environment(IReadOnlyDictionary<string, string> variables, bool inherit)
    {
        var copy = new Dictionary<string, string?>(variables.Count, StringComparer.Ordinal);
        if (!inherit)
        {
            // The child starts from the runtime's environment: every inherited name is removed (null), PATH kept.
            foreach (var key in System.Environment.GetEnvironmentVariables().Keys.OfType<string>())
            {
                copy[key] = null;
            }

            copy["PATH"] = System.Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } path ? path : DefaultPath;
        }

        foreach (var (key, value) in variables)
        {
            copy[key] = value;
        }

        return copy;
    }

    private static bool IsTextFileBusy(Exception ex) => StartFailure(ex) is { NativeErrorCode: TextFileBusyErrno };

    // CliWrap wraps Process.Start's Win32Exception in one of its own whose error code is whatever the thread saw
    // last; the innermost one carries the real errno.
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
        // Allocated on the first byte: most plugins write nothing on stderr, and DEL nothing on stdout.
        private ArrayBufferWriter<byte>? _buffer;

        public bool Truncated { get; private set; }

        public async Task DrainAsync(Stream source, CancellationToken cancellationToken)
        {
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await source.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    var keep = Math.Min(read, limit - (_buffer?.WrittenCount ?? 0));
                    if (keep > 0)
                    {
                        (_buffer ??= new ArrayBufferWriter<byte>(Math.Min(limit, Math.Max(keep, 4096)))).Write(chunk.AsSpan(0, keep));
                    }

                    Truncated |= keep < read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }

        public byte[] ToArray() => _buffer is null ? [] : _buffer.WrittenSpan.ToArray();

        public string ToText() => _buffer is null ? string.Empty : Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }
}
