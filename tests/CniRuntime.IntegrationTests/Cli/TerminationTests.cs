using System.Diagnostics;
using CniRuntime.IntegrationTests.Infrastructure;

namespace CniRuntime.IntegrationTests.Cli;

/// <summary>
/// SIGINT and SIGTERM during a cnitool command: the plugin is killed, the ADD rolled back, and cnirt ends with
/// "interrupted" and 130, whether the command line was read by the fast reader or by System.CommandLine.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TerminationTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("cnirt-term-");

    public TerminationTests()
    {
        // A plugin that hangs in ADD (after saying so) and succeeds at once in DEL.
        var plugins = Directory.CreateDirectory(Path.Combine(_work.FullName, "bin"));
        var hang = Path.Combine(plugins.FullName, "hang");
        File.WriteAllText(hang, $"""
            #!/bin/sh
            cat >/dev/null
            echo "$CNI_COMMAND $$" >>{Path.Combine(_work.FullName, "calls")}
            [ "$CNI_COMMAND" = ADD ] && exec sleep 60
            exit 0
            """.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(hang, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var conf = Directory.CreateDirectory(Path.Combine(_work.FullName, "net.d"));
        File.WriteAllText(Path.Combine(conf.FullName, "10-hang.conflist"), """{"cniVersion":"1.0.0","name":"hang","plugins":[{"type":"hang"}]}""");
    }

    public void Dispose() => _work.Delete(recursive: true);

    [IntegrationTheory]
    [InlineData("SIGINT", false)]
    [InlineData("SIGTERM", false)]
    [InlineData("SIGINT", true)]
    [InlineData("SIGTERM", true)]
    public async Task A_signal_kills_the_plugin_rolls_back_and_exits_130(string signal, bool throughCommandTree)
    {
        // Several rounds: a signal that lands while the first plugin starts must find the handlers in place.
        for (var round = 0; round < 5; round++)
        {
            await SignalOnceAsync(signal, throughCommandTree);
        }
    }

    private async Task SignalOnceAsync(string signal, bool throughCommandTree)
    {
        var calls = Path.Combine(_work.FullName, "calls");
        File.Delete(calls);

        // --timeout=5m is read by System.CommandLine only; "--timeout 5m" by the fast reader too.
        string[] timeout = throughCommandTree ? ["--timeout=5m"] : ["--timeout", "5m"];
        var start = new ProcessStartInfo(CnirtBinary.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["--cache-dir", Path.Combine(_work.FullName, "cache"), .. timeout, "add", "hang", "/run/netns/none"])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NETCONFPATH"] = Path.Combine(_work.FullName, "net.d");
        start.Environment["CNI_PATH"] = Path.Combine(_work.FullName, "bin");
        using var cnirt = Process.Start(start)!;
        var stdout = cnirt.StandardOutput.ReadToEndAsync();
        var stderr = cnirt.StandardError.ReadToEndAsync();
        var pluginPid = await WaitForAsync(() => File.Exists(calls) ? File.ReadAllLines(calls).FirstOrDefault(l => l.StartsWith("ADD ", StringComparison.Ordinal))?[4..] : null);

        await NetnsFixture.RunAsync("/bin/kill", "-s", signal[3..], cnirt.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await cnirt.WaitForExitAsync(deadline.Token);

        Assert.Equal((130, string.Empty, "cnirt: interrupted\n"), (cnirt.ExitCode, await stdout, await stderr));
        Assert.Equal(["ADD", "DEL"], File.ReadAllLines(calls).Select(l => l.Split(' ')[0]));
        Assert.False(Directory.Exists("/proc/" + pluginPid), $"plugin {pluginPid} is still running");
    }

    private static async Task<string> WaitForAsync(Func<string?> probe)
    {
        for (var waited = Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(20))
        {
            if (probe() is { } found)
            {
                return found;
            }
        }

        throw new TimeoutException("the plugin never started");
    }
}
