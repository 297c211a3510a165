namespace CniRuntime.Invocation;

/// <summary>
/// The seam between the CNI engine and the operating system: finds plugin binaries and runs them. The engine
/// interprets what comes back (results, error objects, crashes), so an implementation only moves bytes.
/// </summary>
/// <remarks>
/// Tests substitute a fake that answers per plugin type; <see cref="ProcessPluginExecutor"/> is the real one.
/// </remarks>
public interface IPluginExecutor
{
    /// <summary>Finds the binary of a plugin type in the plugin directories, in order.</summary>
    /// <exception cref="Protocol.CniPluginNotFoundException">No usable binary exists, or the type is not a plain file name.</exception>
    string FindPlugin(string pluginType, IReadOnlyList<string> directories);

    /// <summary>
    /// Runs a plugin to completion: environment set, stdin written then closed, stdout and stderr drained together.
    /// Any exit code is returned, not thrown.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled; the plugin's process tree has been killed.</exception>
    /// <exception cref="Protocol.CniPluginExecutionException">The plugin could not be started.</exception>
    Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken);
}

/// <summary>One plugin execution.</summary>
/// <param name="PluginPath">The binary to run.</param>
/// <param name="Stdin">The request (configuration JSON).</param>
/// <param name="Environment">Variables set on top of the runtime's own environment (they win over inherited ones).</param>
public sealed record PluginInvocation(string PluginPath, ReadOnlyMemory<byte> Stdin, IReadOnlyDictionary<string, string> Environment);

/// <summary>How a plugin exited and what it printed.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Stdout">Standard output, up to the executor's cap.</param>
/// <param name="Stderr">Standard error as text, up to the executor's cap.</param>
/// <param name="StdoutTruncated">True when the plugin printed more than the cap and the rest was discarded.</param>
public sealed record PluginProcessResult(int ExitCode, ReadOnlyMemory<byte> Stdout, string Stderr, bool StdoutTruncated = false);
