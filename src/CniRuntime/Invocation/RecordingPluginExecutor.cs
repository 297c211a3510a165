namespace CniRuntime.Invocation;

/// <summary>One plugin execution seen by a <see cref="RecordingPluginExecutor"/>.</summary>
/// <param name="Command">The <c>CNI_COMMAND</c> it ran with (<c>ADD</c>, <c>DEL</c>, …).</param>
/// <param name="Invocation">What the plugin was given.</param>
/// <param name="Result">How it exited and what it printed; null when it could not be run.</param>
/// <param name="Failure">Why it could not be run (not started, cancelled), or null.</param>
public sealed record PluginCall(string Command, PluginInvocation Invocation, PluginProcessResult? Result, Exception? Failure)
{
    /// <summary>The plugin's file name (its type, unless the binary is a link under another name).</summary>
    public string PluginName => System.IO.Path.GetFileName(Invocation.PluginPath);
}

/// <summary>
/// An executor that runs plugins through another one and remembers every call with its raw output, so tests and
/// conformance checks can look at exactly what each plugin printed (the engine only hands back parsed results).
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class RecordingPluginExecutor(IPluginExecutor inner) : IPluginExecutor
{
    private readonly IPluginExecutor _inner = inner ?? throw new ArgumentNullException(nameof(inner));
    private readonly List<PluginCall> _calls = [];
    private readonly Lock _gate = new();

    /// <summary>Every call so far, oldest first.</summary>
    public IReadOnlyList<PluginCall> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Forgets the calls recorded so far.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _calls.Clear();
        }
    }

    /// <inheritdoc />
    public string FindPlugin(string pluginType, IReadOnlyList<string> directories) => _inner.FindPlugin(pluginType, directories);

    /// <inheritdoc />
    public async Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        var command = invocation.Environment.TryGetValue("CNI_COMMAND", out var value) ? value : string.Empty;
        try
        {
            var result = await _inner.ExecuteAsync(invocation, cancellationToken).ConfigureAwait(false);
            Add(new PluginCall(command, invocation, result, null));
            return result;
        }
        catch (Exception ex)
        {
            Add(new PluginCall(command, invocation, null, ex));
            throw;
        }
    }

    private void Add(PluginCall call)
    {
        lock (_gate)
        {
            _calls.Add(call);
        }
    }
}
