using System.ComponentModel;
using System.Diagnostics;

namespace CniRuntime.Ports;

/// <summary>Runs a program without a shell, feeding stdin, with a timeout.</summary>
internal static class CommandRunner
{
    public readonly record struct Outcome(int ExitCode, string Stdout, string Stderr);

    /// <exception cref="Win32Exception">The program cannot be started.</exception>
    /// <exception cref="TimeoutException">It did not finish in time (it is killed).</exception>
    public static async Task<Outcome> RunAsync(string program, IEnumerable<string> arguments, string? stdin, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new Win32Exception($"{program} did not start");
        using var cts = new CancellationTokenSource(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cts.Token).ConfigureAwait(false);
                process.StandardInput.Close();
            }

            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            return new Outcome(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}");
        }
    }
}
