using System.Globalization;
using BenchmarkDotNet.Running;
using CniRuntime.Benchmarks;

// report CNIRT [iterations] [outdir] : the performance table (chain through floor, library and cnirt; throughput at
//                                      1, 2, 4 and 8 at a time; start-up; namespaces) and the figures behind the plots;
//                                      with MINIMAL_CLI set (the published tools/bench/CniRuntime.MinimalCli), the one-at-a-time
//                                      rows have it as a fourth side.
// chain CNIRT [iterations]          : only the table's one-at-a-time rows.
// bdn [BenchmarkDotNet args]         : in-process costs (engine with an instant fake executor; parsing, requests, results, cache).
// netns [iterations]                 : namespace create+delete in-process against `ip netns add` + `ip netns del`.
// portmap [iterations] [outdir]      : add/remove one port mapping with 0 to 10,000 present (nft, iptables, portmap
//                                      plugin); the figures behind the plot go to outdir/portmap.tsv.
// sandbox [iterations]               : sandbox setup, then teardown, of 1, 2 and 4 networks against the plugins' own execs.
// timeline CNIRT [runs]              : where a cnirt process's time goes, from the kernel's tracepoints (perf): exec to the
//                                      first plugin, plugin to plugin, the last plugin to the end; with MINIMAL_CLI, the
//                                      minimal command line's too.
// All but bdn need root and a throwaway network namespace (tools/bench/run.sh provides one).
return args switch
{
    ["report", var cnirt, ..] => await Report.RunAsync(cnirt, MinimalCli(), args.Length > 2 ? Number(args[2]) : 30, args.Length > 3 ? args[3] : "bench-out"),
    ["chain", var cnirt, ..] => await Report.RunChainAsync(cnirt, MinimalCli(), args.Length > 2 ? Number(args[2]) : 30),
    ["portmap", ..] => await PortMappingBenchmark.RunAsync(args.Length > 1 ? Number(args[1]) : 30, args.Length > 2 ? args[2] : null),
    ["sandbox", ..] => await SandboxBenchmark.RunAsync(args.Length > 1 ? Number(args[1]) : 20),
    ["timeline", var cnirt, ..] => await ProcessTimelineBenchmark.RunAsync(cnirt, MinimalCli(), args.Length > 2 ? Number(args[2]) : 100),
    ["netns", ..] => await NamespaceBenchmark.RunAsync(args.Length > 1 ? Number(args[1]) : 200),
    ["bdn", .. var rest] => Run(rest),
    _ => Usage(),
};

static string? MinimalCli() => Environment.GetEnvironmentVariable("MINIMAL_CLI") is { Length: > 0 } path ? path : null;

static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);

static int Run(string[] rest)
{
    BenchmarkSwitcher.FromAssembly(typeof(EngineBenchmarks).Assembly).Run(rest);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: CniRuntime.Benchmarks report CNIRT [iterations] [outdir] | chain CNIRT [iterations] | bdn [--filter *] | netns [iterations] | sandbox [iterations] | timeline CNIRT [runs] | portmap [iterations] [outdir]");
    return 2;
}
