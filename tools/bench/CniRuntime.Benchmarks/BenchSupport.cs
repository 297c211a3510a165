using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;

namespace CniRuntime.Benchmarks;

/// <summary>A figure as its median and the spread around it (10th and 90th percentiles).</summary>
internal readonly record struct Spread(double Median, double P10, double P90, double MedianLow, double MedianHigh)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        // A distribution-free 95% confidence interval of the median: the order statistics n/2 ± 1.96·√n/2 apart.
        var halfWidth = 0.98 * Math.Sqrt(sorted.Count);
        var low = sorted[Math.Clamp((int)Math.Floor((sorted.Count / 2.0) - halfWidth), 0, sorted.Count - 1)];
        var high = sorted[Math.Clamp((int)Math.Ceiling((sorted.Count / 2.0) + halfWidth), 0, sorted.Count - 1)];
        return new Spread(Stats.Percentile(sorted, 0.5), Stats.Percentile(sorted, 0.1), Stats.Percentile(sorted, 0.9), low, high);
    }

    /// <summary>
    /// Whether the median is at most (or, with <paramref name="atLeast"/>, at least) <paramref name="goal"/>: "met" or
    /// "missed" when the median's 95% confidence interval lies wholly on one side, else what the median says and
    /// that the samples cannot tell, with the interval (a noisy figure decides nothing).
    /// </summary>
    public string Verdict(double goal, string format, bool atLeast = false)
    {
        bool Meets(double value) => atLeast ? value >= goal : value <= goal;
        if (Meets(MedianLow) && Meets(MedianHigh))
        {
            return "met";
        }

        if (!Meets(MedianLow) && !Meets(MedianHigh))
        {
            return "**missed**";
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"{(Meets(Median) ? "met" : "**missed**")} by the median, not resolved (95% CI of the median {MedianLow.ToString(format, CultureInfo.InvariantCulture)} to {MedianHigh.ToString(format, CultureInfo.InvariantCulture)})");
    }

    /// <summary>The median of the ratios <c>a[i] / b[i]</c> of paired runs, with their spread.</summary>
    public static Spread OfRatios(IReadOnlyList<double> a, IReadOnlyList<double> b) => Of(a.Zip(b, (x, y) => x / y));

    /// <summary>The median of the differences <c>a[i] - b[i]</c> of paired runs, with their spread.</summary>
    public static Spread OfDifferences(IReadOnlyList<double> a, IReadOnlyList<double> b) => Of(a.Zip(b, (x, y) => x - y));

    /// <summary>"median (p10–p90)".</summary>
    public string Format(string format) => string.Create(
        CultureInfo.InvariantCulture, $"{Median.ToString(format, CultureInfo.InvariantCulture)} ({P10.ToString(format, CultureInfo.InvariantCulture)}–{P90.ToString(format, CultureInfo.InvariantCulture)})");
}

/// <summary>The configuration and plugin result the in-process benchmarks use.</summary>
internal static class BenchData
{
    /// <summary>bridge + host-local, portmap, firewall, tuning.</summary>
    public const string ListJson = """
        {"cniVersion":"1.0.0","name":"bench","plugins":[
          {"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
          {"type":"portmap","capabilities":{"portMappings":true},"snat":true},
          {"type":"firewall","backend":"iptables"},
          {"type":"tuning","sysctl":{"net.core.somaxconn":"512"}}]}
        """;

    /// <summary>What bridge answers: three interfaces, one address, a default route.</summary>
    public const string BridgeResult = """
        {"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"aa:bb:cc:00:00:01"},{"name":"veth1234","mac":"aa:bb:cc:00:00:02"},{"name":"eth0","mac":"aa:bb:cc:00:00:03","sandbox":"/run/netns/bench"}],
         "ips":[{"interface":2,"address":"10.88.0.5/16","gateway":"10.88.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}
        """;
}

/// <summary>Medians with their spread, printed as one table row per figure.</summary>
internal static class Stats
{
    public static void Header(string title)
    {
        Console.WriteLine(title);
        Console.WriteLine($"  {"",-38} {"median",9} {"p10",9} {"p90",9}");
    }

    public static void Print(string label, List<double> values, string unit)
    {
        var sorted = values.Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label,-38} {Percentile(sorted, 0.5),9:0.000} {Percentile(sorted, 0.1),9:0.000} {Percentile(sorted, 0.9),9:0.000} {unit}"));
    }

    public static double Percentile(List<double> sorted, double p) => sorted[(int)Math.Round((sorted.Count - 1) * p)];
}

/// <summary>Runs commands for setup and teardown around the measured regions.</summary>
internal static class Shell
{
    public static async Task Exec(string file, string[] arguments, bool allowFailure = false)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardError = true })!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)}: {stderr}");
        }
    }

    /// <summary>Runs a program to its end, output captured, and returns how long that took in milliseconds.</summary>
    public static async Task<double> TimeAsync(string file, string[] arguments, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {await stderr}");
        }

        _ = await stdout;
        return elapsed;
    }
}

/// <summary>
/// The floor any runtime pays: inject name, version, prevResult and runtimeConfig into each plugin's configuration
/// and exec the plugins (ADD in order, DEL in reverse) with plain <see cref="Process"/>. Nothing else: no cache, no
/// locks, no timeouts, no validation.
/// </summary>
internal static class ExecDriver
{
    public const string PluginDirectory = "/usr/lib/cni";

    public static async Task<JsonNode?> AddAsync(NetworkConfigList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonElement>? capabilityArgs = null, string pluginDirectory = PluginDirectory)
    {
        JsonNode? result = null;
        foreach (var plugin in list.Plugins)
        {
            result = JsonNode.Parse(await ExecPlugin(pluginDirectory, plugin.Type, "ADD", containerId, netns, ifName, Stdin(list, plugin, result, capabilityArgs)));
        }

        return result;
    }

    public static async Task DeleteAsync(NetworkConfigList list, string containerId, string netns, string ifName, JsonNode? result, IReadOnlyDictionary<string, JsonElement>? capabilityArgs = null, string pluginDirectory = PluginDirectory)
    {
        for (var i = list.Plugins.Count - 1; i >= 0; i--)
        {
            await ExecPlugin(pluginDirectory, list.Plugins[i].Type, "DEL", containerId, netns, ifName, Stdin(list, list.Plugins[i], result, capabilityArgs));
        }
    }

    private static string Stdin(NetworkConfigList list, PluginConfig plugin, JsonNode? prevResult, IReadOnlyDictionary<string, JsonElement>? capabilityArgs)
    {
        var config = JsonNode.Parse(plugin.Json.GetRawText())!.AsObject();
        config["name"] = list.Name;
        config["cniVersion"] = list.CniVersion;
        if (prevResult is not null)
        {
            config["prevResult"] = prevResult.DeepClone();
        }

        var runtimeConfig = new JsonObject();
        foreach (var (key, value) in capabilityArgs ?? new Dictionary<string, JsonElement>())
        {
            if (plugin.Capabilities.TryGetValue(key, out var enabled) && enabled)
            {
                runtimeConfig[key] = JsonNode.Parse(value.GetRawText());
            }
        }

        if (runtimeConfig.Count > 0)
        {
            config["runtimeConfig"] = runtimeConfig;
        }

        return config.ToJsonString();
    }

    private static async Task<string> ExecPlugin(string pluginDirectory, string type, string command, string containerId, string netns, string ifName, string stdin)
    {
        var start = new ProcessStartInfo(Path.Combine(pluginDirectory, type))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CNI_COMMAND"] = command;
        start.Environment["CNI_CONTAINERID"] = containerId;
        start.Environment["CNI_NETNS"] = netns;
        start.Environment["CNI_IFNAME"] = ifName;
        start.Environment["CNI_ARGS"] = string.Empty;
        start.Environment["CNI_PATH"] = pluginDirectory;
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{type} {command} failed: {await stdout} {await stderr}");
        }

        return await stdout;
    }
}
