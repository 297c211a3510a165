using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;
using CniRuntime.Networks;

namespace CniRuntime.Benchmarks;

/// <summary>
/// ADD then DEL of a real chain (bridge + host-local + portmap + firewall + tuning), alternately through a minimal
/// driver that only builds stdin and execs the plugins (the floor) and through <see cref="CniClient"/>, each time
/// in a fresh container namespace. Prints medians with their spread and the median of the paired ratios.
/// Needs root, the reference plugins in /usr/lib/cni, and a throwaway network namespace to run in.
/// </summary>
internal static class RealChainComparison
{
    private const string PluginDirectory = "/usr/lib/cni";

    private static readonly string ListJson = """
        {"cniVersion":"1.0.0","name":"benchnet","plugins":[
          {"type":"bridge","bridge":"cnirtbench0","isGateway":true,"ipMasq":false,
           "ipam":{"type":"host-local","ranges":[[{"subnet":"10.250.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"DATADIR"}},
          {"type":"portmap","capabilities":{"portMappings":true}},
          {"type":"firewall","backend":"iptables"},
          {"type":"tuning","sysctl":{"net.ipv4.conf.IFNAME.accept_local":"1"}}]}
        """;

    public static async Task<int> RunAsync(int iterations)
    {
        var work = Directory.CreateTempSubdirectory("cnirt-chain-").FullName;
        var list = NetworkConfigList.Parse(Encoding.UTF8.GetBytes(ListJson.Replace("DATADIR", Path.Combine(work, "ipam"), StringComparison.Ordinal).Replace("IFNAME", "eth0", StringComparison.Ordinal)));
        var client = new CniClient(new CniClientOptions { PluginDirectories = [PluginDirectory], CacheDirectory = Path.Combine(work, "cache") });
        var portMappings = JsonDocument.Parse("""[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]""").RootElement.Clone();
        var floor = new List<double>();
        var library = new List<double>();
        var ratios = new List<double>();
        try
        {
            // Warm-up: the first exec of each plugin pays page-cache and JIT costs on both sides.
            for (var i = -3; i < iterations; i++)
            {
                var iteration = i;
                Task<double> Floor() => TimeAsync(iteration, "f", netns => FloorAddDelAsync(list, netns, portMappings));
                Task<double> Library() => TimeAsync(iteration, "l", async netns =>
                {
                    var runtime = new RuntimeConfig
                    {
                        ContainerId = $"bench-l-{iteration + 3}",
                        NetworkNamespace = netns,
                        CapabilityArgs = new Dictionary<string, JsonElement> { ["portMappings"] = portMappings },
                    };
                    await client.AddNetworkListAsync(list, runtime);
                    await client.DeleteNetworkListAsync(list, runtime);
                });

                // Alternate which side goes first, so drift within a pair favours neither.
                double floorMs, libraryMs;
                if (i % 2 == 0)
                {
                    floorMs = await Floor();
                    libraryMs = await Library();
                }
                else
                {
                    libraryMs = await Library();
                    floorMs = await Floor();
                }
                if (i >= 0)
                {
                    floor.Add(floorMs);
                    library.Add(libraryMs);
                    ratios.Add(libraryMs / floorMs);
                }
            }
        }
        finally
        {
            await Exec("ip", ["link", "del", "cnirtbench0"], allowFailure: true);
            Directory.Delete(work, recursive: true);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ADD+DEL of bridge+host-local+portmap+firewall+tuning, {iterations} paired runs, fresh namespace each:"));
        Console.WriteLine($"  {"",-30} {"median",9} {"p10",9} {"p90",9}");
        Print("floor (exec only)", floor, "ms");
        Print("CniClient (library)", library, "ms");
        Print("ratio library/floor (paired)", ratios, "x");
        Print("overhead library-floor", [.. library.Zip(floor, (l, f) => l - f)], "ms");
        return 0;
    }

    private static void Print(string label, List<double> values, string unit)
    {
        values.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label,-30} {Percentile(values, 0.5),9:0.000} {Percentile(values, 0.1),9:0.000} {Percentile(values, 0.9),9:0.000} {unit}"));
    }

    private static double Percentile(List<double> sorted, double p) => sorted[(int)Math.Round((sorted.Count - 1) * p)];

    private static async Task<double> TimeAsync(int iteration, string side, Func<string, Task> body)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"cnirt-bench-{side}{iteration + 3}");
        await Exec("ip", ["netns", "add", name]);
        try
        {
            var watch = Stopwatch.StartNew();
            await body("/run/netns/" + name);
            return watch.Elapsed.TotalMilliseconds;
        }
        finally
        {
            await Exec("ip", ["netns", "del", name]);
        }
    }

    /// <summary>What any runtime must do at the least: inject name, version, prevResult, runtimeConfig; exec each plugin.</summary>
    private static async Task FloorAddDelAsync(NetworkConfigList list, string netns, JsonElement portMappings)
    {
        var containerId = "bench-f-" + Path.GetFileName(netns);
        JsonNode? result = null;
        foreach (var plugin in list.Plugins)
        {
            var stdin = Stdin(list, plugin, result, portMappings);
            result = JsonNode.Parse(await ExecPlugin(plugin.Type, "ADD", containerId, netns, stdin));
        }

        for (var i = list.Plugins.Count - 1; i >= 0; i--)
        {
            await ExecPlugin(list.Plugins[i].Type, "DEL", containerId, netns, Stdin(list, list.Plugins[i], result, portMappings));
        }
    }

    private static string Stdin(NetworkConfigList list, PluginConfig plugin, JsonNode? prevResult, JsonElement portMappings)
    {
        var config = JsonNode.Parse(plugin.Json.GetRawText())!.AsObject();
        config["name"] = list.Name;
        config["cniVersion"] = list.CniVersion;
        if (prevResult is not null)
        {
            config["prevResult"] = prevResult.DeepClone();
        }

        if (plugin.Capabilities.ContainsKey("portMappings"))
        {
            config["runtimeConfig"] = new JsonObject { ["portMappings"] = JsonNode.Parse(portMappings.GetRawText()) };
        }

        return config.ToJsonString();
    }

    private static async Task<string> ExecPlugin(string type, string command, string containerId, string netns, string stdin)
    {
        var start = new ProcessStartInfo(Path.Combine(PluginDirectory, type))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CNI_COMMAND"] = command;
        start.Environment["CNI_CONTAINERID"] = containerId;
        start.Environment["CNI_NETNS"] = netns;
        start.Environment["CNI_IFNAME"] = "eth0";
        start.Environment["CNI_ARGS"] = string.Empty;
        start.Environment["CNI_PATH"] = PluginDirectory;
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{type} {command} failed: {await stdout} {await stderr}");
        }

        return await stdout;
    }

    private static async Task Exec(string file, string[] arguments, bool allowFailure = false)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardError = true })!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)}: {stderr}");
        }
    }
}
