using System.Diagnostics;
using System.Globalization;
using System.Text;
using CniRuntime.Configuration;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The shipped binary: <c>cnirt version</c> start-up against <c>/bin/true</c>, and <c>cnirt add</c> + <c>cnirt del</c>
/// of bridge + host-local + portmap + firewall + tuning against the same plugin execs with no runtime at all
/// (<see cref="ExecDriver"/>), paired. Needs root, artifacts/cnirt (tools/build.sh) and a throwaway network namespace.
/// </summary>
internal static class CliComparison
{
    public static async Task<int> RunAsync(string cnirt, int iterations)
    {
        var trueMs = new List<double>();
        var versionMs = new List<double>();
        for (var i = -3; i < iterations; i++)
        {
            var t = await TimeProcessAsync("/bin/true", []);
            var v = await TimeProcessAsync(cnirt, ["version"]);
            if (i >= 0)
            {
                trueMs.Add(t);
                versionMs.Add(v);
            }
        }

        Stats.Header(string.Create(CultureInfo.InvariantCulture, $"start-up, {iterations} runs each:"));
        Stats.Print("/bin/true (a process, nothing else)", trueMs, "ms");
        Stats.Print("cnirt version (Native AOT)", versionMs, "ms");

        var work = Directory.CreateTempSubdirectory("cnirt-cli-bench-").FullName;
        var confDir = Directory.CreateDirectory(Path.Combine(work, "net.d")).FullName;
        var list = NetworkConfigList.Parse(Encoding.UTF8.GetBytes($$$"""
            {"cniVersion":"1.0.0","name":"clibench","plugins":[
              {"type":"bridge","bridge":"cnirtcli0","isGateway":true,"ipMasq":false,
               "ipam":{"type":"host-local","ranges":[[{"subnet":"10.253.0.0/16"}]],"dataDir":"{{{Path.Combine(work, "ipam")}}}"}},
              {"type":"portmap","capabilities":{"portMappings":true}},
              {"type":"firewall","backend":"iptables"},
              {"type":"tuning","sysctl":{"net.ipv4.conf.eth0.accept_local":"1"}}]}
            """));
        await File.WriteAllBytesAsync(Path.Combine(confDir, "10-clibench.conflist"), list.Bytes.ToArray());
        var floor = new List<double>();
        var cli = new List<double>();
        var ratios = new List<double>();
        try
        {
            for (var i = -3; i < iterations; i++)
            {
                var iteration = i;
                async Task<double> Floor(string netns)
                {
                    var watch = Stopwatch.StartNew();
                    var result = await ExecDriver.AddAsync(list, "cli-f-" + iteration, netns, "eth0");
                    await ExecDriver.DeleteAsync(list, "cli-f-" + iteration, netns, "eth0", result);
                    return watch.Elapsed.TotalMilliseconds;
                }

                async Task<double> Cli(string netns)
                {
                    var env = new Dictionary<string, string> { ["NETCONFPATH"] = confDir, ["CNI_PATH"] = ExecDriver.PluginDirectory };
                    var watch = Stopwatch.StartNew();
                    await TimeProcessAsync(cnirt, ["--cache-dir", Path.Combine(work, "cache"), "add", "clibench", netns], env);
                    await TimeProcessAsync(cnirt, ["--cache-dir", Path.Combine(work, "cache"), "del", "clibench", netns], env);
                    return watch.Elapsed.TotalMilliseconds;
                }

                var f = await InNamespaceAsync($"cnirt-cli-f{i + 3}", Floor, i % 2 == 0);
                var c = await InNamespaceAsync($"cnirt-cli-c{i + 3}", Cli, i % 2 != 0);
                if (i >= 0)
                {
                    floor.Add(f);
                    cli.Add(c);
                    ratios.Add(c / f);
                }
            }
        }
        finally
        {
            await Shell.Exec("ip", ["link", "del", "cnirtcli0"], allowFailure: true);
            Directory.Delete(work, recursive: true);
        }

        Stats.Header(string.Create(CultureInfo.InvariantCulture, $"cnirt add + cnirt del of bridge+host-local+portmap+firewall+tuning, {iterations} paired runs:"));
        Stats.Print("plugin execs, no runtime (floor)", floor, "ms");
        Stats.Print("cnirt add + cnirt del (2 processes)", cli, "ms");
        Stats.Print("ratio cnirt/floor (paired)", ratios, "x");
        return 0;
    }

    private static async Task<double> InNamespaceAsync(string name, Func<string, Task<double>> body, bool _)
    {
        await Shell.Exec("ip", ["netns", "add", name]);
        try
        {
            return await body("/run/netns/" + name);
        }
        finally
        {
            await Shell.Exec("ip", ["netns", "del", name]);
        }
    }

    private static async Task<double> TimeProcessAsync(string file, string[] arguments, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {await stderr}");
        }

        _ = await stdout;
        return elapsed;
    }
}
