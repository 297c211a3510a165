using System.Globalization;
using System.Text.RegularExpressions;
using CniRuntime.Namespaces;
using CniRuntime.Ports;

namespace CniRuntime.Benchmarks;

/// <summary>
/// Where a command-line process's time goes between its exec and its end, from the kernel's tracepoints (<c>perf
/// record</c> of exec, fork, vfork, exit_group and exit): for <c>cnirt add</c> and <c>cnirt del</c> of the four instant
/// plugins, and for the minimal .NET command line doing the same when given. Per process: exec to the first plugin's
/// fork (start-up and the work before the first exec), each plugin's exit to the next plugin's fork (the exit
/// reaching the process, and the work between two execs), the last plugin's exit to exit_group (the last exit
/// reaching it, the work after the last exec, the runtime's shutdown) and exit_group to the last thread's end. The
/// tracepoints cost a little on every event, so the spans are longer than untraced ones; compare sides in one run.
/// Needs root, perf (linux-perf) and a throwaway network namespace.
/// </summary>
internal static partial class ProcessTimelineBenchmark
{
    private const string NetworkName = "benchnet";

    public static async Task<int> RunAsync(string cnirt, string? minimalCli, int runs)
    {
        var work = Directory.CreateTempSubdirectory("cnirt-timeline-").FullName;
        var namespaces = new NetworkNamespaces();
        var netns = await namespaces.CreateAsync(string.Create(CultureInfo.InvariantCulture, $"cnirt-timeline-{Environment.ProcessId}"));
        try
        {
            var plugins = ChainBenchmark.WriteInstantPlugins(Path.Combine(work, "bin"));
            var configDirectory = Directory.CreateDirectory(Path.Combine(work, "net.d")).FullName;
            var conflist = Path.Combine(configDirectory, "10-benchnet.conflist");
            await File.WriteAllTextAsync(conflist, ChainBenchmark.InstantListJson);
            var environment = $"NETCONFPATH={configDirectory} CNI_PATH={plugins}";
            var cache = Path.Combine(work, "cache");
            await PrintAsync(work, "cnirt", Path.GetFullPath(cnirt), runs, $"{environment} \"$0\" --cache-dir {cache} add {NetworkName} {netns} >/dev/null && {environment} \"$0\" --cache-dir {cache} del {NetworkName} {netns}");
            if (minimalCli is not null)
            {
                var call = $"{conflist} {netns} timeline {Path.Combine(work, "timeline.json")}";
                await PrintAsync(work, "minimal .NET CLI", Path.GetFullPath(minimalCli), runs, $"{environment} \"$0\" add {call} && {environment} \"$0\" del {call}");
            }

            return 0;
        }
        finally
        {
            await namespaces.DeleteAsync(netns);
            Directory.Delete(work, recursive: true);
        }
    }

    // Records `runs` ADD+DEL pairs of one side under perf, then prints the medians of each span, ADD and DEL apart.
    private static async Task PrintAsync(string work, string side, string program, int runs, string pair)
    {
        var data = Path.Combine(work, "perf.data");
        var loop = $"i=0; while [ $i -lt {runs + 3} ]; do {{ {pair}; }} || exit 1; i=$((i+1)); done";
        await Shell.Exec("perf", [
            "record", "-q", "-o", data,
            "-e", "sched:sched_process_exec", "-e", "sched:sched_process_fork", "-e", "sched:sched_process_exit",
            "-e", "syscalls:sys_enter_vfork", "-e", "syscalls:sys_enter_exit_group",
            "--", "/bin/sh", "-c", loop, program]);
        var script = await CommandRunner.RunAsync("perf", ["script", "-i", data, "-F", "tid,time,event,trace"], null, TimeSpan.FromMinutes(5));
        if (script.ExitCode != 0)
        {
            throw new InvalidOperationException($"perf script -i {data}: {script.Stderr}");
        }

        var processes = Timeline.Parse(script.Stdout.Split('\n'), program);

        // The first three pairs warm the page cache and the plugins' first execs; processes alternate ADD, DEL.
        foreach (var (command, parity) in new[] { ("ADD", 0), ("DEL", 1) })
        {
            var these = processes.Skip(6).Where((p, i) => i % 2 == parity && p.Complete).ToList();
            Stats.Header(string.Create(CultureInfo.InvariantCulture, $"{side} {command}, {these.Count} processes (ms, traced)"));
            Stats.Print("exec to the first plugin's fork", [.. these.Select(p => p.Forks[0] - p.Exec)], "ms");
            for (var i = 1; i < these.Min(p => p.Forks.Count); i++)
            {
                Stats.Print(string.Create(CultureInfo.InvariantCulture, $"plugin {i}'s exit to plugin {i + 1}'s fork"), [.. these.Select(p => p.Forks[i] - p.PluginExits[i - 1])], "ms");
            }

            Stats.Print("the last plugin's exit to exit_group", [.. these.Select(p => p.ExitGroup - p.PluginExits[^1])], "ms");
            Stats.Print("exit_group to the last thread's end", [.. these.Select(p => p.End - p.ExitGroup)], "ms");
            Stats.Print("exec to the end", [.. these.Select(p => p.End - p.Exec)], "ms");
        }
    }

    /// <summary>
    /// One traced process, in milliseconds of the trace's clock: its exec, its plugins' forks and exits, its
    /// exit_group and its end (NaN where the trace lacks it).
    /// </summary>
    internal sealed record Timeline(double Exec, IReadOnlyList<double> Forks, IReadOnlyList<double> PluginExits, double ExitGroup, double End)
    {
        /// <summary>Whether every span can be taken: a plugin at least, each one's exit, the exit_group and the end.</summary>
        public bool Complete => Forks.Count > 0 && PluginExits.Count == Forks.Count && !double.IsNaN(ExitGroup) && !double.IsNaN(End);

        /// <summary>
        /// Every process that exec'd <paramref name="program"/>, in exec order, from <c>perf script -F
        /// tid,time,event,trace</c> lines.
        /// </summary>
        public static List<Timeline> Parse(IEnumerable<string> lines, string program)
        {
            var events = new List<(int Tid, double Ms, string Name, string Trace)>();
            foreach (var line in lines)
            {
                if (EventLine().Match(line) is { Success: true } m)
                {
                    events.Add((int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) * 1000, m.Groups[3].Value, m.Groups[4].Value));
                }
            }

            // A fork's child that later execs is a plugin; any other child is one of the process's threads.
            var execs = events.Where(e => e.Name == "sched:sched_process_exec").Select(e => e.Tid).ToHashSet();
            var owner = new Dictionary<int, Builder>();
            var pluginOwner = new Dictionary<int, Builder>();
            var all = new List<Builder>();
            foreach (var (tid, ms, name, trace) in events)
            {
                switch (name)
                {
                    case "sched:sched_process_exec" when trace.StartsWith($"filename={program} ", StringComparison.Ordinal):
                        var process = new Builder(ms);
                        owner[tid] = process;
                        all.Add(process);
                        break;
                    case "sched:sched_process_fork" when owner.TryGetValue(tid, out var parent):
                        var child = int.Parse(ChildPid().Match(trace).Groups[1].Value, CultureInfo.InvariantCulture);
                        if (execs.Contains(child))
                        {
                            pluginOwner[child] = parent;
                        }
                        else
                        {
                            owner[child] = parent;
                        }

                        break;
                    case "syscalls:sys_enter_vfork" when owner.TryGetValue(tid, out var forking):
                        forking.Forks.Add(ms);
                        break;
                    case "syscalls:sys_enter_exit_group" when owner.TryGetValue(tid, out var exiting):
                        exiting.ExitGroup ??= ms;
                        break;
                    case "sched:sched_process_exit" when trace.Contains("group_dead=true", StringComparison.Ordinal):
                        if (owner.TryGetValue(tid, out var ended))
                        {
                            ended.End ??= ms;
                        }
                        else if (pluginOwner.TryGetValue(tid, out var waiting))
                        {
                            waiting.PluginExits.Add(ms);
                        }

                        break;
                }
            }

            return [.. all.Select(b => new Timeline(b.Exec, b.Forks, b.PluginExits, b.ExitGroup ?? double.NaN, b.End ?? double.NaN))];
        }

        private sealed class Builder(double exec)
        {
            public double Exec { get; } = exec;

            public List<double> Forks { get; } = [];

            public List<double> PluginExits { get; } = [];

            public double? ExitGroup { get; set; }

            public double? End { get; set; }
        }
    }

    [GeneratedRegex(@"^\s*(\d+)\s+(\d+\.\d+):\s+(\S+):\s?(.*)$")]
    private static partial Regex EventLine();

    [GeneratedRegex(@"child_pid=(\d+)")]
    private static partial Regex ChildPid();
}
