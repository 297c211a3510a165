using System.Globalization;
using CniRuntime.Ports;

namespace CniRuntime.Testing;

/// <summary>What one run of a program did.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Stdout">What it printed on stdout.</param>
/// <param name="Stderr">What it printed on stderr.</param>
public sealed record ProcessRun(int ExitCode, string Stdout, string Stderr)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
}

/// <summary>Runs a program to completion with its output captured, killing it (and its children) after a timeout.</summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="program"/> and returns how it exited, whatever the exit code.</summary>
    /// <param name="program">The program.</param>
    /// <param name="arguments">Its arguments, passed as they are (no shell).</param>
    /// <param name="timeout">How long it may run.</param>
    /// <param name="environment">Variables to set; a null value removes the variable.</param>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> (it was killed).</exception>
    public static async Task<ProcessRun> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var outcome = await CommandRunner.RunAsync(program, arguments, null, environment, timeout).ConfigureAwait(false);
        return new ProcessRun(outcome.ExitCode, outcome.Stdout, outcome.Stderr);
    }

    /// <summary>Runs a program; returns stdout, or throws with stderr when it exits non-zero.</summary>
    /// <exception cref="InvalidOperationException">It exited non-zero.</exception>
    public static async Task<string> RunCheckedAsync(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var list = arguments.ToList();
        var run = await RunAsync(program, list, timeout).ConfigureAwait(false);
        return run.ExitCode == 0
            ? run.Stdout
            : throw new InvalidOperationException(string.Create(
                CultureInfo.InvariantCulture,
                $"{program} {string.Join(' ', list)} exited with {run.ExitCode}: {run.Stderr.Trim()}"));
    }
}
