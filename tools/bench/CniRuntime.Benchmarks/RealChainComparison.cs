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
        var client = new CniClient(new CniClientOptions { PluginDirectories = [ExecDriver.PluginDirectory], CacheDirectory = Path.Combine(work, "cache") });
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
                Task<double> Floor() => TimeAsync(iteration, "f", async netns =>
                {
                    var capabilityArgs = new Dictionary<string, JsonElement> { ["portMappings"] = portMappings };
                    var result = await ExecDriver.AddAsync(list, $"bench-f-{iteration + 3}", netns, "eth0", capabilityArgs);
                    await ExecDriver.DeleteAsync(list, $"bench-f-{iteration + 3}", netns, "eth0", result, capabilityArgs);
                });
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
            await Shell.Exec("ip", ["link", "del", "cnirtbench0"], allowFailure: true);
            Directory.Delete(work, recursive: true);
        }

        Stats.Header(string.Create(CultureInfo.InvariantCulture, $"ADD+DEL of bridge+host-local+portmap+firewall+tuning, {iterations} paired runs, fresh namespace each:"));
        Stats.Print("floor (exec only)", floor, "ms");
        Stats.Print("CniClient (library)", library, "ms");
        Stats.Print("ratio library/floor (paired)", ratios, "x");
        Stats.Print("overhead library-floor", [.. library.Zip(floor, (l, f) => l - f)], "ms");
        return 0;
    }

    private static async Task<double> TimeAsync(int iteration, string side, Func<string, Task> body)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"cnirt-bench-{side}{iteration + 3}");
        await Shell.Exec("ip", ["netns", "add", name]);
        try
        {
            var watch = Stopwatch.StartNew();
            await body("/run/netns/" + name);
            return watch.Elapsed.TotalMilliseconds;
        }
        finally
        {
            await Shell.Exec("ip", ["netns", "del", name]);
        }
    }
}
