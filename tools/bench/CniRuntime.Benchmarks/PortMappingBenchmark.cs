using System.Diagnostics;
using System.Globalization;
using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Benchmarks;

/// <summary>
/// Publish and unpublish of one port mapping through the nftables port mapper with 0, 100, 1,000 and 10,000
/// mappings already present (held by another sandbox), to show that the cost does not grow with the number present
/// (maps, one element per mapping, one <c>nft -f -</c> batch per operation). Prints medians with their spread and the
/// ratio of each median to the one at 0. Needs root and a throwaway network namespace (it changes the ruleset):
/// <c>unshare --net --mount --propagation private -- dotnet run -c Release -- portmap 50</c>.
/// </summary>
internal static class PortMappingBenchmark
{
    public static async Task<int> RunAsync(int iterations)
    {
        IReadOnlyList<IpPrefix> filler = [IpPrefix.Parse("10.99.0.2/24")];
        IReadOnlyList<IpPrefix> target = [IpPrefix.Parse("10.99.0.3/24")];
        var baseline = 0.0;
        Stats.Header($"port mapping, nftables backend: one mapping added and removed, {iterations} iterations per size");
        foreach (var present in new[] { 0, 100, 1_000, 10_000 })
        {
            var directory = Directory.CreateTempSubdirectory("cnirt-bench-portmap-").FullName;
            try
            {
                var mapper = new NftablesPortMapper(new PortMapperOptions { StateDirectory = directory });
                await mapper.ReconcileAsync([], default);
                if (present > 0)
                {
                    await mapper.PublishAsync("filler", PortMappings.Range(20_000, 20_000, present, "tcp", "0.0.0.0"), filler, default);
                }

                var adds = new List<double>();
                var removes = new List<double>();
                for (var i = -3; i < iterations; i++)
                {
                    var watch = Stopwatch.StartNew();
                    await mapper.PublishAsync("one", [new PortMapping(40_000, 80, "tcp", "0.0.0.0")], target, default);
                    var added = watch.Elapsed.TotalMilliseconds;
                    await mapper.UnpublishAsync("one", default);
                    var removed = watch.Elapsed.TotalMilliseconds - added;
                    if (i >= 0)
                    {
                        adds.Add(added);
                        removes.Add(removed);
                    }
                }

                var label = present.ToString("N0", CultureInfo.InvariantCulture).PadLeft(6);
                Stats.Print($"add    with {label} present", adds, "ms");
                Stats.Print($"remove with {label} present", removes, "ms");
                var sorted = adds.Order().ToList();
                var median = sorted[(int)Math.Round((sorted.Count - 1) * 0.5)];
                if (present == 0)
                {
                    baseline = median;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  add median / add median at 0: {median / baseline:F2}x"));
                await mapper.ReconcileAsync([], default);
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        await Shell.Exec("nft", ["delete", "table", "ip", "cnirt"], allowFailure: true);
        await Shell.Exec("nft", ["delete", "table", "ip6", "cnirt"], allowFailure: true);
        return 0;
    }
}
