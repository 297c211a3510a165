using System.Diagnostics;
using System.Globalization;
using System.Text;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Sandboxes;

namespace CniRuntime.Benchmarks;

/// <summary>
/// Sandbox setup, and then teardown, with 1, 2 and 4 networks (each bridge + host-local on its own bridge and
/// subnet) through <see cref="SandboxManager"/>, against the plugins' own exec time for the same networks driven by
/// <see cref="ExecDriver"/>. Both sides get a namespace made beforehand, untimed, so the comparison is the CNI
/// work alone (namespace cost has a row of its own). Needs root and a throwaway network namespace to run in.
/// </summary>
internal static class SandboxBenchmark
{
    /// <summary>Per network count: setup and teardown times of the floor and the library, paired.</summary>
    public sealed record Figures(int Networks, List<double> FloorSetup, List<double> LibrarySetup, List<double> FloorTeardown, List<double> LibraryTeardown);

    public static async Task<int> RunAsync(int iterations)
    {
        foreach (var figures in await MeasureAsync(iterations))
        {
            Stats.Header(string.Create(CultureInfo.InvariantCulture, $"sandbox with {figures.Networks} network(s) of bridge+host-local, {iterations} paired runs:"));
            Stats.Print("setup: plugins' own exec (floor)", figures.FloorSetup, "ms");
            Stats.Print("setup: SandboxManager", figures.LibrarySetup, "ms");
            Stats.Print("setup: ratio library/floor (paired)", [.. figures.LibrarySetup.Zip(figures.FloorSetup, (l, f) => l / f)], "x");
            Stats.Print("teardown: plugins' own exec (floor)", figures.FloorTeardown, "ms");
            Stats.Print("teardown: SandboxManager", figures.LibraryTeardown, "ms");
        }

        return 0;
    }

    public static async Task<List<Figures>> MeasureAsync(int iterations)
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
        var all = new List<Figures>();
        try
        {
            foreach (var count in (int[])[1, 2, 4])
            {
                var networks = lists.Take(count).ToList();
                var figures = new Figures(count, [], [], [], []);
                for (var i = -3; i < iterations; i++)
                {
                    // Alternate which side goes first, so drift within a pair favours neither.
                    (double Setup, double Teardown) floor, library;
                    if (i % 2 == 0)
                    {
                        floor = await FloorAsync(networks);
                        library = await LibraryAsync(manager, networks);
                    }
                    else
                    {
                        library = await LibraryAsync(manager, networks);
                        floor = await FloorAsync(networks);
                    }

                    if (i >= 0)
                    {
                        figures.FloorSetup.Add(floor.Setup);
                        figures.LibrarySetup.Add(library.Setup);
                        figures.FloorTeardown.Add(floor.Teardown);
                        figures.LibraryTeardown.Add(library.Teardown);
                    }
                }

                all.Add(figures);
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

        return all;
    }

    private static async Task<T> InNamespaceAsync<T>(Func<string, Task<T>> body)
    {
        var name = "cnirt-bench-" + Guid.NewGuid().ToString("N")[..12];
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

    private static Task<(double, double)> FloorAsync(List<NetworkConfigList> networks) => InNamespaceAsync(async netns =>
    {
        var id = Path.GetFileName(netns);
        var watch = Stopwatch.StartNew();
        var results = new List<System.Text.Json.Nodes.JsonNode?>();
        for (var n = 0; n < networks.Count; n++)
        {
            results.Add(await ExecDriver.AddAsync(networks[n], id, netns, $"eth{n}"));
        }

        var setup = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        for (var n = networks.Count - 1; n >= 0; n--)
        {
            await ExecDriver.DeleteAsync(networks[n], id, netns, $"eth{n}", results[n]);
        }

        return (setup, watch.Elapsed.TotalMilliseconds);
    });

    private static Task<(double, double)> LibraryAsync(SandboxManager manager, List<NetworkConfigList> networks) => InNamespaceAsync(async netns =>
    {
        var watch = Stopwatch.StartNew();
        var sandbox = await manager.SetupAsync(new SandboxRequest { NetworkNamespace = netns, Networks = [.. networks.Select(n => new SandboxNetworkRequest(n.Name))] });
        var setup = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        await manager.TeardownAsync(sandbox.Id);
        return (setup, watch.Elapsed.TotalMilliseconds);
    });
}
