using System.Globalization;
using System.Text;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The performance table: the chain ADD+DEL through the floor, the library and cnirt; throughput with 1, 2, 4
/// and 8 sandboxes at a time; cnirt's start-up; namespaces against iproute2; sandboxes of 1, 2 and 4 networks. Every figure is a median with its
/// spread (p10–p90), every comparison the median of the ratios of paired runs, each against its goal. Also writes
/// the figures behind the plots (tab-separated) to <c>outDirectory</c>. Needs root and a throwaway network namespace.
/// </summary>
internal static class Report
{
    private const string Header = """
        | measure | floor (plugins alone) / reference | library, in-process | cnirt, two processes | library / floor | cnirt / floor | minimal .NET CLI, two processes | minimal / floor; cnirt / minimal | goal |
        | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |

        """;

    private static readonly int[] Concurrencies = [1, 2, 4, 8];

    /// <summary>Sandboxes per batch of a throughput round, whatever the concurrency.</summary>
    private const int SandboxesPerRound = 8;

    public static async Task<int> RunAsync(string cnirt, string? minimalCli, int iterations, string outDirectory)
    {
        Directory.CreateDirectory(outDirectory);
        var rows = new List<string>();
        var latencyPlot = new StringBuilder("# concurrency\tdriver\tmedian_ms\tp10_ms\tp90_ms\n");
        var throughputPlot = new StringBuilder("# concurrency\tdriver\tmedian_per_s\tp10_per_s\tp90_per_s\n");

        rows.AddRange(await LatencyRowsAsync(cnirt, minimalCli, iterations));
        await using (var chain = await ChainBenchmark.CreateAsync(cnirt, ChainBenchmark.Workload.Chain))
        {

            // Two thirds of the one-at-a-time rounds: each round is eight sandboxes per driver.
            var rounds = Math.Max(3, iterations * 2 / 3);
            foreach (var concurrency in Concurrencies)
            {
                Progress($"throughput, {concurrency} at a time, {rounds} rounds of {SandboxesPerRound}");
                var throughput = await chain.MeasureThroughputAsync(concurrency, rounds, SandboxesPerRound / concurrency);
                var perSecond = throughput.PerSecond;
                var libraryRatio = Spread.OfRatios(perSecond[1], perSecond[0]);
                rows.Add(Row(
                    $"sandboxes per second, {concurrency} at a time, {rounds} rounds of {SandboxesPerRound}",
                    Spread.Of(perSecond[0]).Format("0.0"),
                    Spread.Of(perSecond[1]).Format("0.0"),
                    Spread.Of(perSecond[2]).Format("0.0"),
                    libraryRatio.Format("0.000") + "×",
                    Spread.OfRatios(perSecond[2], perSecond[0]).Format("0.000") + "×",
                    concurrency == 8 ? $"library ≥ floor: {libraryRatio.Verdict(1, "0.000", atLeast: true)}" : string.Empty));
                for (var d = 0; d < chain.Drivers.Count; d++)
                {
                    latencyPlot.Append(Tsv(concurrency, chain.Drivers[d].Name, Spread.Of(throughput.Latencies[d])));
                    throughputPlot.Append(Tsv(concurrency, chain.Drivers[d].Name, Spread.Of(perSecond[d])));
                }
            }
        }

        Progress($"start-up, {iterations} pairs");
        var (trueMs, versionMs) = await StartupBenchmark.MeasureAsync(cnirt, iterations);
        var version = Spread.Of(versionMs);
        rows.Add(Row(
            $"start-up: /bin/true, cnirt version, {iterations} pairs (ms)",
            Spread.Of(trueMs).Format("0.00"),
            string.Empty,
            version.Format("0.00"),
            string.Empty,
            Spread.OfRatios(versionMs, trueMs).Format("0.00") + "×",
            $"cnirt version < 5 ms: {version.Verdict(5, "0.00")}"));

        var namespaceRuns = iterations * 5;
        Progress($"namespaces, {namespaceRuns} pairs");
        var namespaces = await NamespaceBenchmark.MeasureAsync(namespaceRuns);
        rows.Add(Row(
            $"namespace create + delete: ip netns add + del, library, {namespaceRuns} pairs (ms)",
            Spread.Of(namespaces.Iproute2).Format("0.00"),
            Spread.Of(namespaces.Library).Format("0.00"),
            string.Empty,
            Spread.OfRatios(namespaces.Library, namespaces.Iproute2).Format("0.000") + "×",
            string.Empty,
            string.Empty));

        Progress($"sandboxes of 1, 2 and 4 networks, {iterations} pairs");
        foreach (var figures in await SandboxBenchmark.MeasureAsync(iterations))
        {
            foreach (var (what, floor, library) in new[] { ("setup", figures.FloorSetup, figures.LibrarySetup), ("teardown", figures.FloorTeardown, figures.LibraryTeardown) })
            {
                rows.Add(Row(
                    $"sandbox {what}, {figures.Networks} network(s) of bridge + host-local, namespace given, {iterations} pairs (ms)",
                    Spread.Of(floor).Format("0.0"),
                    Spread.Of(library).Format("0.0"),
                    string.Empty,
                    $"{Spread.OfRatios(library, floor).Format("0.000")}×; {Spread.OfDifferences(library, floor).Format("+0.00;-0.00")} ms",
                    string.Empty,
                    string.Empty));
            }
        }

        var table = new StringBuilder(Header);
        rows.ForEach(r => table.AppendLine(r));
        Console.Write(table);
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "table.md"), table.ToString());
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "latency.tsv"), latencyPlot.ToString());
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "throughput.tsv"), throughputPlot.ToString());
        return 0;
    }

    /// <summary>The table's one-at-a-time rows alone.</summary>
    public static async Task<int> RunChainAsync(string cnirt, string? minimalCli, int iterations)
    {
        Console.WriteLine(Header + string.Join('\n', await LatencyRowsAsync(cnirt, minimalCli, iterations)));
        return 0;
    }

    // The one-at-a-time rows; with the minimal .NET command line as a fourth side when it is given.
    private static async Task<List<string>> LatencyRowsAsync(string cnirt, string? minimalCli, int iterations)
    {
        await using var instant = await ChainBenchmark.CreateAsync(cnirt, ChainBenchmark.Workload.InstantPlugins, minimalCli);
        List<string> rows = [await InstantRowAsync(instant, iterations)];
        await using var chain = await ChainBenchmark.CreateAsync(cnirt, ChainBenchmark.Workload.Chain, minimalCli);
        rows.Add(await LatencyRowAsync(chain, iterations, "ADD+DEL of the chain"));
        await using var published = await ChainBenchmark.CreateAsync(cnirt, ChainBenchmark.Workload.ChainWithPortMapping, minimalCli);
        rows.Add(await LatencyRowAsync(published, iterations, "the same, publishing one port"));
        return rows;
    }

    private static async Task<string> LatencyRowAsync(ChainBenchmark chain, int iterations, string what)
    {
        Progress($"{what}, one at a time, {iterations} rounds");
        var latency = await chain.MeasureLatencyAsync(iterations);
        var (floor, library, cli) = (latency.Times[0], latency.Times[1], latency.Times[2]);
        var overhead = Spread.OfDifferences(library, floor);
        var cliRatio = Spread.OfRatios(cli, floor);
        var minimal = latency.Minimal;
        return Row(
            $"{what}, one at a time, {iterations} rounds (ms)",
            Spread.Of(floor).Format("0.0"),
            Spread.Of(library).Format("0.0"),
            Spread.Of(cli).Format("0.0"),
            $"{Spread.OfRatios(library, floor).Format("0.000")}×; {overhead.Format("+0.00;-0.00")} ms",
            cliRatio.Format("0.000") + "×",
            $"library ≤ floor + 0.5 ms: {overhead.Verdict(0.5, "+0.00;-0.00")}; cnirt ≤ 1.05×: {cliRatio.Verdict(1.05, "0.000")}",
            minimal is null ? string.Empty : Spread.Of(minimal).Format("0.0"),
            minimal is null ? string.Empty : $"{Spread.OfRatios(minimal, floor).Format("0.000")}×; {Spread.OfRatios(cli, minimal).Format("0.000")}×");
    }

    // What each driver adds to the same eight execs when the plugins do nothing. The pairs vary far less than the
    // chain's (no plugin work), so this row takes ten times the rounds in a fraction of the time, and it is the one
    // that resolves the library's 0.5 ms.
    private static async Task<string> InstantRowAsync(ChainBenchmark chain, int iterations)
    {
        var rounds = iterations * 10;
        Progress($"ADD+DEL of four instant plugins, one at a time, {rounds} rounds");
        var latency = await chain.MeasureLatencyAsync(rounds);
        var (floor, library, cli) = (latency.Times[0], latency.Times[1], latency.Times[2]);
        var overhead = Spread.OfDifferences(library, floor);
        var minimal = latency.Minimal;
        return Row(
            $"ADD+DEL of four plugins that answer at once (sh), {rounds} rounds (ms)",
            Spread.Of(floor).Format("0.00"),
            Spread.Of(library).Format("0.00"),
            Spread.Of(cli).Format("0.00"),
            overhead.Format("+0.00;-0.00") + " ms",
            Spread.OfDifferences(cli, floor).Format("+0.00;-0.00") + " ms",
            $"what each adds to the execs (difference of pairs); library ≤ floor + 0.5 ms: {overhead.Verdict(0.5, "+0.00;-0.00")}",
            minimal is null ? string.Empty : Spread.Of(minimal).Format("0.00"),
            minimal is null ? string.Empty : $"{Spread.OfDifferences(minimal, floor).Format("+0.00;-0.00")} ms; {Spread.OfDifferences(cli, minimal).Format("+0.00;-0.00")} ms");
    }

    // The cells in the header's order: the minimal .NET command line's two columns come before the goal.
    private static string Row(string measure, string floor, string library, string cli, string libraryRatio, string cliRatio, string goal, string minimal = "", string minimalRatios = "") =>
        "| " + string.Join(" | ", measure, floor, library, cli, libraryRatio, cliRatio, minimal, minimalRatios, goal) + " |";

    private static string Tsv(int concurrency, string driver, Spread spread) =>
        string.Create(CultureInfo.InvariantCulture, $"{concurrency}\t{driver}\t{spread.Median:0.000}\t{spread.P10:0.000}\t{spread.P90:0.000}\n");

    // Progress goes to stderr, so stdout is the table alone.
    private static void Progress(string what) => Console.Error.WriteLine("report: " + what);
}
