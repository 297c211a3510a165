using BenchmarkDotNet.Running;
using CniRuntime.Benchmarks;

// bdn [BenchmarkDotNet args]  : in-process costs (engine with an instant fake executor).
// netns [iterations]          : namespace create+delete in-process against `ip netns add` + `ip netns del`.
// cli CNIRT [iterations]      : the shipped binary: start-up, and cnirt add + del against the plugin execs.
// portmap [iterations]        : add/remove one port mapping with 0 to 10,000 present (nft, iptables, portmap plugin).
// sandbox [iterations]        : sandbox setup+teardown of 1, 2 and 4 networks against the plugins' own exec time.
// chain [iterations]          : whole chain of real plugins, the library against a minimal exec driver (needs root
//                               and a throwaway network namespace: tools/bench/engine.sh).
return args switch
{
    ["chain", ..] => await RealChainComparison.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30),
    ["cli", var cnirt, ..] => await CliComparison.RunAsync(cnirt, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 30),
    ["portmap", ..] => await PortMappingBenchmark.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 50),
    ["sandbox", ..] => await SandboxBenchmark.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20),
    ["netns", ..] => await NamespaceBenchmark.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200),
    ["bdn", .. var rest] => Run(rest),
    _ => Usage(),
};

static int Run(string[] rest)
{
    BenchmarkSwitcher.FromAssembly(typeof(EngineBenchmarks).Assembly).Run(rest);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: CniRuntime.Benchmarks bdn [--filter *] | chain [iterations] | netns [iterations] | sandbox [iterations] | portmap [iterations] | cli CNIRT [iterations]");
    return 2;
}
