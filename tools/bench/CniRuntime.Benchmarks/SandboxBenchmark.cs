using System.Globalization;
using System.Text;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Sandboxes;

namespace CniRuntime.Benchmarks;

/// <summary>
/// Sandbox setup + teardown with 1, 2 and 4 networks (each bridge + host-local on its own bridge and subnet)
/// through <see cref="SandboxManager"/> (namespace created and deleted by the library), against the plugins' own
/// exec time for the same networks driven by <see cref="ExecDriver"/> in a namespace made beforehand (untimed).
/// Needs root and a throwaway network namespace to run in.
/// </summary>
internal static class SandboxBenchmark
{
    public static async Task<int> RunAsync(int iterations)
    {
        var work = Directory.CreateTempSubdirectory("cnirt-sb-bench-").FullName;
        var configDirectory = Directory.CreateDirectory(Path.Combine(work, "net.d")).FullName;
        var lists = Enumerable.Range(0, 4).Select(k => NetworkConfigList.Parse(Encoding.UTF8.GetBytes($$$"""
            {"cniVersion":"1.0.0","name":"sbnet{{{k}}}","plugins":[{"type":"bridge","bridge":"cnirtsb{{{k}}}","isGateway":true,"ipMasq":false,
              "ipam":{"type":"host-local","dataDir":"{{{Path.Combine(work, "ipam")}}}","ranges":[[{"subnet":"10.252.{{{k}}}.0/24"}]]}}]}
            """))).ToList();
        foreach (var list in lists)
        {
            await File.WriteAllBytesAsync(Path.Combine(configDirectory, list.Name + ".conflist"), list.Bytes.ToArray());
        }

        var manager = new SandboxManager(new SandboxManagerOptions
        {
            Cni = new CniClientOptions { PluginDirectories = [ExecDriver.PluginDirectory], CacheDirectory = Path.Combine(work, "cache") },
            ConfigDirectory = configDirectory,
            NamespacePrefix = "cnirt-bench-",
        });
        try
        {
            foreach (var count in (int[])[1, 2, 4])
            {
                var networks = lists.Take(count).ToList();
                var floor = new List<double>();
                var library = new List<double>();
                var ratios = new List<double>();
                for (var i = -3; i < iterations; i++)
                {
                    // Alternate which side goes first, so drift within a pair favours neither.
                    double floorMs, libraryMs;
                    if (i % 2 == 0)
                    {
                        floorMs = await FloorAsync(networks, i);
                        libraryMs = await LibraryAsync(manager, networks);
                    }
                    else
                    {
                        libraryMs = await LibraryAsync(manager, networks);
                        floorMs = await FloorAsync(networks, i);
                    }

                    if (i >= 0)
                    {
                        floor.Add(floorMs);
                        library.Add(libraryMs);
                        ratios.Add(libraryMs / floorMs);
                    }
                }

                Stats.Header(string.Create(CultureInfo.InvariantCulture, $"sandbox setup+teardown, {count} network(s) of bridge+host-local, {iterations} paired runs:"));
                Stats.Print("plugins' own exec (floor)", floor, "ms");
                Stats.Print("SandboxManager (netns included)", library, "ms");
                Stats.Print("ratio library/floor (paired)", ratios, "x");
                Stats.Print("overhead library-floor", [.. library.Zip(floor, (l, f) => l - f)], "ms");
            }
        }
        finally
        {
            for (var k = 0; k < 4; k++)
            {
                await Shell.Exec("ip", ["link", "del", $"cnirtsb{k}"], allowFailure: true);
            }

            Directory.Delete(work, recursive: true);
        }

        return 0;
    }

    private static async Task<double> FloorAsync(List<NetworkConfigList> networks, int iteration)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"cnirt-bench-floor{iteration + 3}");
        await Shell.Exec("ip", ["netns", "add", name]);
        try
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var results = new List<System.Text.Json.Nodes.JsonNode?>();
            for (var n = 0; n < networks.Count; n++)
            {
                results.Add(await ExecDriver.AddAsync(networks[n], name, "/run/netns/" + name, $"eth{n}"));
            }

            for (var n = networks.Count - 1; n >= 0; n--)
            {
                await ExecDriver.DeleteAsync(networks[n], name, "/run/netns/" + name, $"eth{n}", results[n]);
            }

            return watch.Elapsed.TotalMilliseconds;
        }
        finally
        {
            await Shell.Exec("ip", ["netns", "del", name]);
        }
    }

    private static async Task<double> LibraryAsync(SandboxManager manager, List<NetworkConfigList> networks)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var sandbox = await manager.SetupAsync(new SandboxRequest { Networks = [.. networks.Select(n => new SandboxNetworkRequest(n.Name))] });
        await manager.TeardownAsync(sandbox.Id);
        return watch.Elapsed.TotalMilliseconds;
    }
}
