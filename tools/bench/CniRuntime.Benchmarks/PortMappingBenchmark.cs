using System.Diagnostics;
using System.Globalization;
using System.Text;

using System.Text.Json.Nodes;
using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The cost of adding and of removing one port mapping with 0, 100, 1,000 and 10,000 mappings already present (held
/// by another sandbox), for CniRuntime's nftables backend, its iptables backend, and Debian's portmap plugin
/// (iptables), which is driven the way a runtime drives it: ADD and DEL with <c>runtimeConfig.portMappings</c> and a
/// prevResult. Prints each median with its spread and its ratio to the median with none present. Needs root and a
/// throwaway network namespace (it changes the ruleset):
/// <c>unshare --net --mount --propagation private -- dotnet run -c Release -- portmap 30</c>.
/// </summary>
/// <remarks>
/// The portmap plugin adds rules one iptables call at a time, so filling its chains through the plugin takes
/// minutes at 1,000 mappings and hours at 10,000; its filler is therefore made by the plugin for the first 16 ports
/// and extended with rules of exactly the plugin's shape in one <c>iptables-restore</c>, which it then works on.
/// </remarks>
internal static class PortMappingBenchmark
{
    private static readonly int[] Sizes = [0, 100, 1_000, 10_000];
    private static readonly IReadOnlyList<IpPrefix> Filler = [IpPrefix.Parse("10.99.0.2/24")];
    private static readonly IReadOnlyList<IpPrefix> Target = [IpPrefix.Parse("10.99.0.3/24")];

    public static async Task<int> RunAsync(int iterations, string? outputDirectory = null)
    {
        var rows = new List<(string Backend, int Present, List<double> Add, List<double> Remove)>();
        foreach (var backend in new[] { PortMappingBackend.Nftables, PortMappingBackend.Iptables })
        {
            var directory = Directory.CreateTempSubdirectory("cnirt-bench-portmap-").FullName;
            try
            {
                var mapper = new PortMapper(new PortMapperOptions { StateDirectory = directory, Backend = backend });
                await mapper.ReconcileAsync([], default);
                foreach (var present in Sizes)
                {
                    if (present > 0)
                    {
                        await mapper.PublishAsync("filler", PortMappings.Range(20_000, 20_000, present, "tcp", "0.0.0.0"), Filler, default);
                    }

                    var (adds, removes) = await MeasureAsync(
                        iterations,
                        () => mapper.PublishAsync("one", [new PortMapping(40_000, 80, "tcp", "0.0.0.0")], Target, default),
                        () => mapper.UnpublishAsync("one", default));
                    rows.Add(($"cnirt {backend.ToString().ToLowerInvariant()}", present, adds, removes));
                    await mapper.UnpublishAsync("filler", default);
                }

                await mapper.PurgeAsync();
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        // The anchor is slower by orders of magnitude: fewer iterations keep the run in minutes.
        var anchorIterations = Math.Max(5, iterations / 3);
        foreach (var present in Sizes)
        {
            if (present > 0)
            {
                await FillPortmapAsync(present);
            }

            var (adds, removes) = await MeasureAsync(anchorIterations, () => PortmapAsync("ADD", "one", 40_000, 1), () => PortmapAsync("DEL", "one", 40_000, 1));
            rows.Add(("portmap plugin (iptables)", present, adds, removes));
            if (present > 0)
            {
                await PortmapAsync("DEL", "filler", 20_000, 16);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"port mapping: one mapping added and removed with N present ({iterations} iterations; portmap plugin {anchorIterations}); ms, median [p10-p90], and the median's ratio to its own at 0"));
        Console.WriteLine($"  {"backend",-26} {"N",7}  {"add",-24} {"x at 0",7}  {"remove",-24} {"x at 0",7}");
        foreach (var group in rows.GroupBy(r => r.Backend))
        {
            var addAt0 = Median(group.First().Add);
            var removeAt0 = Median(group.First().Remove);
            foreach (var (backend, present, add, remove) in group)
            {
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"  {backend,-26} {present,7:N0}  {Spread(add),-24} {Median(add) / addAt0,6:F2}x  {Spread(remove),-24} {Median(remove) / removeAt0,6:F2}x"));
            }
        }

        if (outputDirectory is not null)
        {
            // For tools/bench/plot.sh: backend, mappings present, then median, p10 and p90 of add and of remove.
            var tsv = new StringBuilder();
            foreach (var (backend, present, add, remove) in rows)
            {
                var a = add.Order().ToList();
                var r = remove.Order().ToList();
                tsv.Append(CultureInfo.InvariantCulture, $"{backend}\t{present}\t{Percentile(a, 0.5):0.00}\t{Percentile(a, 0.1):0.00}\t{Percentile(a, 0.9):0.00}\t{Percentile(r, 0.5):0.00}\t{Percentile(r, 0.1):0.00}\t{Percentile(r, 0.9):0.00}\n");
            }

            Directory.CreateDirectory(outputDirectory);
            await File.WriteAllTextAsync(Path.Combine(outputDirectory, "portmap.tsv"), tsv.ToString());
        }

        return 0;
    }

    private static async Task<(List<double> Adds, List<double> Removes)> MeasureAsync(int iterations, Func<Task> add, Func<Task> remove)
    {
        var adds = new List<double>();
        var removes = new List<double>();
        for (var i = -2; i < iterations; i++)
        {
            var watch = Stopwatch.StartNew();
            await add();
            var added = watch.Elapsed.TotalMilliseconds;
            await remove();
            var removed = watch.Elapsed.TotalMilliseconds - added;
            if (i >= 0)
            {
                adds.Add(added);
                removes.Add(removed);
            }
        }

        return (adds, removes);
    }

    /// <summary>One portmap plugin call for container <paramref name="containerId"/> with <paramref name="count"/> ports from <paramref name="firstPort"/>.</summary>
    private static async Task PortmapAsync(string command, string containerId, int firstPort, int count)
    {
        var mappings = new JsonArray();
        for (var i = 0; i < count; i++)
        {
            mappings.Add(new JsonObject { ["hostPort"] = firstPort + i, ["containerPort"] = 80, ["protocol"] = "tcp" });
        }

        var address = (containerId == "filler" ? Filler : Target)[0].ToString();
        var config = new JsonObject
        {
            ["cniVersion"] = "1.0.0",
            ["name"] = "bench",
            ["type"] = "portmap",
            ["capabilities"] = new JsonObject { ["portMappings"] = true },
            ["runtimeConfig"] = new JsonObject { ["portMappings"] = mappings },
            ["prevResult"] = JsonNode.Parse($$"""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/bench"}],"ips":[{"address":"{{address}}","interface":0}]}"""),
        };
        var start = new ProcessStartInfo(Path.Combine(ExecDriver.PluginDirectory, "portmap"))
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["CNI_COMMAND"] = command;
        start.Environment["CNI_CONTAINERID"] = containerId;
        start.Environment["CNI_NETNS"] = "/run/netns/bench";
        start.Environment["CNI_IFNAME"] = "eth0";
        start.Environment["CNI_PATH"] = ExecDriver.PluginDirectory;
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(config.ToJsonString());
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"portmap {command} failed: {await stdout} {stderr}");
        }
    }

    /// <summary>The plugin's own rules for 16 filler ports, then the rest in the same shape in one restore.</summary>
    private static async Task FillPortmapAsync(int present)
    {
        await PortmapAsync("ADD", "filler", 20_000, 16);
        if (present <= 16)
        {
            return;
        }

        var save = await Output("iptables-save", "-t", "nat");
        var perPort = save.Split('\n').Where(l => l.StartsWith("-A CNI-DN-", StringComparison.Ordinal) && l.Contains("--dport 20000 ", StringComparison.Ordinal)).ToList();
        var jump = save.Split('\n').First(l => l.StartsWith("-A CNI-HOSTPORT-DNAT ", StringComparison.Ordinal) && l.Contains("--dports 20015 ", StringComparison.Ordinal));
        var payload = new StringBuilder("*nat\n");
        var ports = Enumerable.Range(20_016, present - 16).ToList();
        foreach (var port in ports)
        {
            foreach (var line in perPort)
            {
                payload.Append(line.Replace("--dport 20000 ", $"--dport {port} ", StringComparison.Ordinal)).Append('\n');
            }
        }

        foreach (var chunk in ports.Chunk(15))
        {
            payload.Append(jump.Replace("--dports 20015 ", $"--dports {string.Join(',', chunk)} ", StringComparison.Ordinal)).Append('\n');
        }

        payload.Append("COMMIT\n");
        var restore = Process.Start(new ProcessStartInfo("iptables-restore", ["--noflush", "-w"]) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardError = true })!;
        await restore.StandardInput.WriteAsync(payload.ToString());
        restore.StandardInput.Close();
        var error = await restore.StandardError.ReadToEndAsync();
        await restore.WaitForExitAsync();
        if (restore.ExitCode != 0)
        {
            throw new InvalidOperationException("filling the portmap chains failed: " + error);
        }
    }

    private static async Task<string> Output(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    private static double Median(List<double> values) => Percentile(values.Order().ToList(), 0.5);

    private static string Spread(List<double> values)
    {
        var sorted = values.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"{Percentile(sorted, 0.5),7:0.0} [{Percentile(sorted, 0.1):0.0}-{Percentile(sorted, 0.9):0.0}]");
    }

    private static double Percentile(List<double> sorted, double p) => sorted[(int)Math.Round((sorted.Count - 1) * p)];

}
