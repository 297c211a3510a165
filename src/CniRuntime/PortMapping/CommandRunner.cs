using System.ComponentModel;
using System.Diagnostics;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>Runs a program without a shell, feeding stdin, with a timeout (the test kit's <c>ProcessRunner</c> too).</summary>
internal static class CommandRunner
{
    public readonly record struct Outcome(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the program with this process's environment.</summary>
    /// <exception cref="Win32Exception">The program cannot be started.</exception>
    /// <exception cref="TimeoutException">It did not finish in time (it is killed).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired (it is killed).</exception>
    public static Task<Outcome> RunAsync(string program, IEnumerable<string> arguments, string? stdin, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        RunAsync(program, arguments, stdin, null, timeout, cancellationToken);

    /// <summary>Runs the program with <paramref name="environment"/> set on top of this process's environment (a null value removes the variable).</summary>
    /// <exception cref="Win32Exception">The program cannot be started.</exception>
    /// <exception cref="TimeoutException">It did not finish in time (it is killed).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired (it is killed).</exception>
    public static async Task<Outcome> RunAsync(
        string program,
        IEnumerable<string> arguments,
        string? stdin,
        IReadOnlyDictionary<string, string?>? environment,
        TimeSpan timeout,
        CancellationToken cancellationToken = default)
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

        using var process = Process.Start(start) ?? throw new Win32Exception($"{program} did not start");
        using var timer = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
        var stdout = process.StandardOutput.ReadToEndAsync(linked.Token);
        var stderr = process.StandardError.ReadToEndAsync(linked.Token);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), linked.Token).ConfigureAwait(false);
                process.StandardInput.Close();
            }

            await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
            return new Outcome(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}");
        }
    }

    /// <summary>Runs a firewall tool; a tool that cannot run or hangs is a <see cref="CniException"/> naming it.</summary>
    /// <exception cref="CniException">The program cannot be started or did not finish in time.</exception>
    public static async Task<Outcome> RunToolAsync(string program, IEnumerable<string> arguments, string? stdin, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await RunAsync(program, arguments, stdin, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Win32Exception or TimeoutException or IOException)
        {
            throw new CniException(CniErrorCode.PluginNotAvailable, $"running {program} failed: {ex.Message}", null, ex);
        }
    }
}
