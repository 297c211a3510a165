using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Namespaces;
using CniRuntime.Networks;

namespace CniRuntime.Benchmarks;

/// <summary>
/// ADD then DEL of the chain bridge + host-local + portmap + firewall + tuning, each time in a fresh container
/// namespace (made and removed outside the timed region), driven three ways with the same plugin execs, stdin,
/// environment and container ID: the floor (<see cref="ExecDriver"/>: builds stdin, execs the plugins, nothing
/// else), the library in-process (<see cref="CniClient"/>), and the shipped binary (<c>cnirt add</c> then
/// <c>cnirt del</c>, two processes), and optionally the least a .NET command line can do in cnirt's place
/// (<c>tools/bench/CniRuntime.MinimalCli</c>: two Native AOT processes that only build stdin, exec the plugins through CliWrap
/// and keep ADD's result for DEL). Needs root, the reference plugins and a throwaway network namespace.
/// The chain runs without port mappings (portmap then has nothing to do) or with one (<c>-p 18080:80</c>, given
/// to all three the same way); four plugins that answer at once (a shell script) isolate what each driver adds.
/// </summary>
internal sealed class ChainBenchmark : IAsyncDisposable
{
    private const string BridgeName = "cnirtbench0";

    /// <summary>Four plugins that answer at once (<see cref="WriteInstantPlugins"/>), the second asking for port mappings.</summary>
    internal const string InstantListJson = """
        {"cniVersion":"1.0.0","name":"benchnet","plugins":[
          {"type":"instant1"},{"type":"instant2","capabilities":{"portMappings":true}},{"type":"instant3"},{"type":"instant4"}]}
        """;

    private const string PortMappingsJson = """[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]""";

    private readonly string _work;
    private readonly string _cnirt;
    private readonly string? _minimalCli;
    private readonly string _pluginDirectory;
    private readonly NetworkConfigList _list;
    private readonly CniClient _client;
    private readonly Dictionary<string, JsonElement> _capabilityArgs;
    private readonly NetworkNamespaces _namespaces = new();

    // Untimed rounds of every side before a row's timed ones; the instant plugins' are cheap, so they get more.
    private readonly int _warmUpRounds;
    private int _namespaceCount;

    private ChainBenchmark(string cnirt, Workload workload, string? minimalCli)
    {
        var instant = workload == Workload.InstantPlugins;
        _cnirt = cnirt;
        _minimalCli = minimalCli;
        _warmUpRounds = instant ? 30 : 3;
        _work = Directory.CreateTempSubdirectory("cnirt-chain-").FullName;
        _pluginDirectory = instant ? WriteInstantPlugins(Path.Combine(_work, "bin")) : ExecDriver.PluginDirectory;
        _list = NetworkConfigList.Parse(Encoding.UTF8.GetBytes(instant
            ? InstantListJson
            : $$$"""
              {"cniVersion":"1.0.0","name":"benchnet","plugins":[
                {"type":"bridge","bridge":"{{{BridgeName}}}","isGateway":true,"ipMasq":false,
                 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.250.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"{{{Path.Combine(_work, "ipam")}}}"}},
                {"type":"portmap","capabilities":{"portMappings":true}},
                {"type":"firewall","backend":"iptables"},
                {"type":"tuning","sysctl":{"net.ipv4.conf.eth0.accept_local":"1"}}]}
              """));
        _client = new CniClient(new CniClientOptions { PluginDirectories = [_pluginDirectory], CacheDirectory = Path.Combine(_work, "cache") });
        _capabilityArgs = workload == Workload.ChainWithPortMapping
            ? new Dictionary<string, JsonElement> { ["portMappings"] = JsonDocument.Parse(PortMappingsJson).RootElement.Clone() }
            : [];
        Drivers =
        [
            new Driver("floor", FloorAsync),
            new Driver("library", LibraryAsync),
            new Driver("cnirt", CliAsync),
            .. minimalCli is null ? (Driver[])[] : [new Driver("minimal .NET CLI", MinimalCliAsync)],
        ];
    }

    /// <summary>The ways, floor first: floor, library, cnirt, and the minimal .NET command line when given.</summary>
    public IReadOnlyList<Driver> Drivers { get; }

    /// <summary>Sets up the configuration directory the CLI reads; <paramref name="cnirt"/> is the shipped binary.</summary>
    /// <param name="cnirt">The shipped binary.</param>
    /// <param name="workload">The plugins and what they are asked to do.</param>
    /// <param name="minimalCli">The published <c>minimal-cni</c>, as a fourth driver; null for three.</param>
    public static async Task<ChainBenchmark> CreateAsync(string cnirt, Workload workload, string? minimalCli = null)
    {
        await (s_engineWarmUp ??= WarmUpEngineAsync());
        var benchmark = new ChainBenchmark(cnirt, workload, minimalCli);
        var configDirectory = Directory.CreateDirectory(Path.Combine(benchmark._work, "net.d")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(configDirectory, "10-benchnet.conflist"), benchmark._list.Bytes.ToArray());
        return benchmark;
    }

    private static Task? s_engineWarmUp;

    /// <summary>
    /// Brings the engine's code to the JIT's steady state, once per process, before any side is timed: a runtime that
    /// embeds the library runs for days, and the few warm-up rounds of real execs call each engine method tens of
    /// times, while tiered compilation reaches its optimised code only after thousands of calls (measured: an ADD+DEL
    /// of four plugins with an instant executor takes 0.8 ms at first, 0.4 ms after 5,000 calls and 0.2 ms after 10,000).
    /// The same client code runs here with an in-memory executor on a cache of its own; the executor's and the
    /// floor's code warm up in each row's first rounds.
    /// </summary>
    private static async Task WarmUpEngineAsync()
    {
        var cache = Directory.CreateTempSubdirectory("cnirt-warm-").FullName;
        try
        {
            var list = NetworkConfigList.Parse(Encoding.UTF8.GetBytes(InstantListJson));
            var client = new CniClient(
                new CniClientOptions { CacheDirectory = cache, PluginDirectories = ["/nowhere"] },
                new EngineBenchmarks.InstantExecutor(Encoding.UTF8.GetBytes(BenchData.BridgeResult)));
            for (var i = 0; i < 20_000; i++)
            {
                var runtime = new RuntimeConfig { ContainerId = string.Create(CultureInfo.InvariantCulture, $"warm-{i}"), NetworkNamespace = "/run/netns/warm" };
                await client.AddNetworkListAsync(list, runtime);
                await client.DeleteNetworkListAsync(list, runtime);
            }

            // The last methods to reach their call counts are compiled in the background; let that finish.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    /// <summary>
    /// One ADD+DEL at a time through each driver, the drivers' order rotating through every permutation so that
    /// drift favours none; the ratios are those of each round's pair.
    /// </summary>
    public async Task<Latency> MeasureLatencyAsync(int iterations)
    {
        var times = Drivers.Select(_ => new List<double>()).ToArray();
        for (var i = -_warmUpRounds; i < iterations; i++)
        {
            var row = new double[Drivers.Count];
            foreach (var d in Order(i))
            {
                var netns = await NewNamespaceAsync();
                try
                {
                    var watch = Stopwatch.StartNew();
                    await Drivers[d].AddThenDeleteAsync(netns);
                    row[d] = watch.Elapsed.TotalMilliseconds;
                }
                finally
                {
                    await _namespaces.DeleteAsync(netns);
                }
            }

            // The first rounds warm the page cache, the JIT and the plugins' first execs on every side.
            if (i >= 0)
            {
                for (var d = 0; d < Drivers.Count; d++)
                {
                    times[d].Add(row[d]);
                }
            }
        }

        return new Latency(times);
    }

    /// <summary>
    /// <paramref name="concurrency"/> workers, each running <paramref name="perWorker"/> ADD+DELs one after the
    /// other, per driver and round (drivers rotating): sandboxes per second of each round, and every sandbox's own latency.
    /// </summary>
    public async Task<Throughput> MeasureThroughputAsync(int concurrency, int rounds, int perWorker)
    {
        var perSecond = Drivers.Select(_ => new List<double>()).ToArray();
        var latencies = Drivers.Select(_ => new List<double>()).ToArray();
        for (var i = -1; i < rounds; i++)
        {
            var row = new double[Drivers.Count];
            foreach (var d in Order(i))
            {
                var namespaces = new List<string>();
                for (var n = 0; n < concurrency * perWorker; n++)
                {
                    namespaces.Add(await NewNamespaceAsync());
                }

                var each = new List<double>[concurrency];
                var watch = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
                {
                    each[w] = [];
                    for (var k = 0; k < perWorker; k++)
                    {
                        var started = watch.Elapsed.TotalMilliseconds;
                        await Drivers[d].AddThenDeleteAsync(namespaces[(w * perWorker) + k]);
                        each[w].Add(watch.Elapsed.TotalMilliseconds - started);
                    }
                })));
                row[d] = concurrency * perWorker / watch.Elapsed.TotalSeconds;
                foreach (var netns in namespaces)
                {
                    await _namespaces.DeleteAsync(netns);
                }

                if (i >= 0)
                {
                    latencies[d].AddRange(each.SelectMany(l => l));
                }
            }

            if (i >= 0)
            {
                for (var d = 0; d < Drivers.Count; d++)
                {
                    perSecond[d].Add(row[d]);
                }
            }
        }

        return new Throughput(concurrency, perSecond, latencies);
    }

    public async ValueTask DisposeAsync()
    {
        await Shell.Exec("ip", ["link", "del", BridgeName], allowFailure: true);
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>
    /// Writes instant1 to instant4 into <paramref name="directory"/>: a plugin that reads its stdin and answers ADD with
    /// a one-interface result, which isolates what every driver adds to an exec from the plugins' own work. It reads
    /// with the shell's own <c>read</c>, so that each call is one process, not a shell and a <c>cat</c>.
    /// </summary>
    internal static string WriteInstantPlugins(string directory)
    {
        Directory.CreateDirectory(directory);
        const string Script = """
            #!/bin/sh
            while read -r _; do :; done
            [ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'"$CNI_NETNS"'"}],"ips":[{"address":"10.250.0.2/16","interface":0}]}'
            exit 0

            """;
        for (var i = 1; i <= 4; i++)
        {
            var path = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"instant{i}"));
            File.WriteAllText(path, Script);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return directory;
    }

    // Every permutation of the drivers in turn.
    private int[] Order(int round)
    {
        var permutations = Permutations([.. Enumerable.Range(0, Drivers.Count)]).ToList();
        return permutations[((round % permutations.Count) + permutations.Count) % permutations.Count];
    }

    private static IEnumerable<int[]> Permutations(int[] items) =>
        items.Length <= 1 ? [items] : items.SelectMany((item, i) => Permutations([.. items[..i], .. items[(i + 1)..]]).Select(rest => (int[])[item, .. rest]));

    private async Task<string> NewNamespaceAsync() =>
        await _namespaces.CreateAsync(string.Create(CultureInfo.InvariantCulture, $"cnirt-bench-{Environment.ProcessId}-{Interlocked.Increment(ref _namespaceCount)}"));

    // cnirt derives the container ID from the namespace path, as cnitool does; the other two use the same ID.
    private static string ContainerIdFor(string netns) =>
        "cnitool-" + Convert.ToHexStringLower(SHA512.HashData(Encoding.UTF8.GetBytes(netns)).AsSpan(0, 10));

    private async Task FloorAsync(string netns)
    {
        var containerId = ContainerIdFor(netns);
        var result = await ExecDriver.AddAsync(_list, containerId, netns, "eth0", _capabilityArgs, _pluginDirectory);
        await ExecDriver.DeleteAsync(_list, containerId, netns, "eth0", result, _capabilityArgs, _pluginDirectory);
    }

    private async Task LibraryAsync(string netns)
    {
        var runtime = new RuntimeConfig { ContainerId = ContainerIdFor(netns), NetworkNamespace = netns, CapabilityArgs = _capabilityArgs };
        await _client.AddNetworkListAsync(_list, runtime);
        await _client.DeleteNetworkListAsync(_list, runtime);
    }

    private async Task CliAsync(string netns)
    {
        var environment = CliEnvironment();
        await Shell.TimeAsync(_cnirt, ["--cache-dir", Path.Combine(_work, "cache"), "add", _list.Name, netns], environment);
        await Shell.TimeAsync(_cnirt, ["--cache-dir", Path.Combine(_work, "cache"), "del", _list.Name, netns], environment);
    }

    // The same two calls as cnirt's, with the same list, plugins, environment and container ID.
    private async Task MinimalCliAsync(string netns)
    {
        var environment = CliEnvironment();
        var containerId = ContainerIdFor(netns);
        string[] call = [Path.Combine(_work, "net.d", "10-benchnet.conflist"), netns, containerId, Path.Combine(_work, containerId + ".json")];
        await Shell.TimeAsync(_minimalCli!, ["add", .. call], environment);
        await Shell.TimeAsync(_minimalCli!, ["del", .. call], environment);
    }

    private Dictionary<string, string> CliEnvironment()
    {
        var environment = new Dictionary<string, string>
        {
            ["NETCONFPATH"] = Path.Combine(_work, "net.d"),
            ["CNI_PATH"] = _pluginDirectory,
        };
        if (_capabilityArgs.Count > 0)
        {
            environment["CAP_ARGS"] = $$"""{"portMappings":{{PortMappingsJson}}}""";
        }

        return environment;
    }

    /// <summary>The plugins and what they are asked to do.</summary>
    public enum Workload
    {
        /// <summary>bridge + host-local, portmap, firewall, tuning; no port mappings.</summary>
        Chain,

        /// <summary>The same chain publishing one port (portmap's capability argument).</summary>
        ChainWithPortMapping,

        /// <summary>Four plugins that answer at once.</summary>
        InstantPlugins,
    }

    /// <summary>One way of running the chain.</summary>
    public sealed record Driver(string Name, Func<string, Task> AddThenDeleteAsync);

    /// <summary>Milliseconds per ADD+DEL of each driver, round by round (index 0 is the floor).</summary>
    public sealed record Latency(IReadOnlyList<double>[] Times)
    {
        /// <summary>The minimal .NET command line's times, when it was a side.</summary>
        public IReadOnlyList<double>? Minimal => Times.Length > 3 ? Times[3] : null;
    }

    /// <summary>Sandboxes per second of each round, and each sandbox's milliseconds, per driver (index 0 is the floor).</summary>
    public sealed record Throughput(int Concurrency, IReadOnlyList<double>[] PerSecond, IReadOnlyList<double>[] Latencies);
}
