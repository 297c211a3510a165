using System.Diagnostics;
using System.Globalization;

namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>What one run of a program did.</summary>
public sealed record ProcessRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
}

/// <summary>Runs a program to completion with its output captured, killing it (and its children) after a timeout.</summary>
public static class ProcessRunner
{
    /// <param name="program">The program.</param>
    /// <param name="arguments">Its arguments, passed as they are (no shell).</param>
    /// <param name="timeout">How long it may run.</param>
    /// <param name="environment">Variables to set; a null value removes the variable.</param>
    public static async Task<ProcessRun> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        using var deadline = new CancellationTokenSource(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}");
        }

        return new ProcessRun(process.ExitCode, await stdout, await stderr);
    }
}
