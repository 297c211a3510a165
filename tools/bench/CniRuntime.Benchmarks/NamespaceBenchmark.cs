using System.Diagnostics;
using System.Globalization;
using CniRuntime.Namespaces;

namespace CniRuntime.Benchmarks;

/// <summary>
/// Create + delete of a named network namespace, alternately in-process through <see cref="NetworkNamespaces"/> and
/// through iproute2 (<c>ip netns add X</c> then <c>ip netns del X</c>, two process runs: the lower bound a runtime that
/// shells out pays). Prints medians with their spread and the median of the paired ratios, plus the library's create,
/// delete and enter (Run of a no-op) alone, the last beside a bare thread start+join. Needs root and a throwaway mount and network namespace:
/// <c>unshare --net --mount --propagation private -- dotnet run -c Release -- netns 200</c>.
/// </summary>
internal static class NamespaceBenchmark
{
    public static async Task<int> RunAsync(int iterations)
    {
        var result = await MeasureAsync(iterations);
        Stats.Header(string.Create(CultureInfo.InvariantCulture, $"create+delete of a named network namespace, {iterations} paired runs:"));
        Stats.Print("ip netns add && ip netns del", result.Iproute2, "ms");
        Stats.Print("NetworkNamespaces create+delete", result.Library, "ms");
        Stats.Print("ratio library/iproute2 (paired)", [.. result.Library.Zip(result.Iproute2, (l, i) => l / i)], "x");
        Stats.Print("  library CreateAsync", result.Creates, "ms");
        Stats.Print("  library DeleteAsync", result.Deletes, "ms");
        Stats.Print("  library Run (enter, no-op, restore)", result.Runs, "ms");
        Stats.Print("  new Thread start+join (Run's floor)", result.Threads, "ms");
        return 0;
    }

    /// <summary>The paired create+delete runs, and the library's create, delete and enter alone.</summary>
    public static async Task<Result> MeasureAsync(int iterations)
    {
        var namespaces = new NetworkNamespaces();
        var iproute2 = new List<double>();
        var library = new List<double>();
        var creates = new List<double>();
        var deletes = new List<double>();
        var runs = new List<double>();
        var threads = new List<double>();
        var prefix = "cnirt-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-";

        // Warm-up: JIT, page cache of ip, the first shared-mount setup of /run/netns.
        for (var i = -5; i < iterations; i++)
        {
            var name = prefix + (i + 5).ToString(CultureInfo.InvariantCulture);

            async Task<double> Library()
            {
                var watch = Stopwatch.StartNew();
                await namespaces.CreateAsync(name + "l");
                var created = watch.Elapsed.TotalMilliseconds;
                await namespaces.DeleteAsync(name + "l");
                var total = watch.Elapsed.TotalMilliseconds;
                if (i >= 0)
                {
                    creates.Add(created);
                    deletes.Add(total - created);
                }

                return total;
            }

            async Task<double> Iproute2()
            {
                var watch = Stopwatch.StartNew();
                await Shell.Exec("ip", ["netns", "add", name + "i"]);
                await Shell.Exec("ip", ["netns", "del", name + "i"]);
                return watch.Elapsed.TotalMilliseconds;
            }

            // Alternate which side goes first, so drift within a pair favours neither.
            double libraryMs, iproute2Ms;
            if (i % 2 == 0)
            {
                libraryMs = await Library();
                iproute2Ms = await Iproute2();
            }
            else
            {
                iproute2Ms = await Iproute2();
                libraryMs = await Library();
            }

            if (i >= 0)
            {
                library.Add(libraryMs);
                iproute2.Add(iproute2Ms);
            }
        }

        // Let the kernel finish tearing down the namespaces deleted above (cleanup_net runs asynchronously).
        await Task.Delay(TimeSpan.FromSeconds(2));
        var path = await namespaces.CreateAsync(prefix + "run");
        try
        {
            using var handle = namespaces.Open(path);
            for (var i = -5; i < iterations; i++)
            {
                var watch = Stopwatch.StartNew();
                _ = NetworkNamespaces.Run(handle, static () => 0);
                var run = watch.Elapsed.TotalMilliseconds;

                // The floor of Run: a fresh thread started and joined, no namespace change.
                watch.Restart();
                var thread = new Thread(static () => { });
                thread.Start();
                thread.Join();
                if (i >= 0)
                {
                    runs.Add(run);
                    threads.Add(watch.Elapsed.TotalMilliseconds);
                }
            }
        }
        finally
        {
            await namespaces.DeleteAsync(path);
        }

        return new Result(iproute2, library, creates, deletes, runs, threads);
    }

    /// <summary>Milliseconds of each run: the pairs (iproute2, library), then the library's parts alone.</summary>
    public sealed record Result(List<double> Iproute2, List<double> Library, List<double> Creates, List<double> Deletes, List<double> Runs, List<double> Threads);
}
