using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;

namespace CniRuntime.Benchmarks;

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

    private static double Percentile(List<double> sorted, double p) => sorted[(int)Math.Round((sorted.Count - 1) * p)];
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
}

/// <summary>
/// The floor any runtime pays: inject name, version, prevResult and runtimeConfig into each plugin's configuration
/// and exec the plugins (ADD in order, DEL in reverse) with plain <see cref="Process"/>. Nothing else: no cache, no
/// locks, no timeouts, no validation.
/// </summary>
internal static class ExecDriver
{
    public const string PluginDirectory = "/usr/lib/cni";

    public static async Task<JsonNode?> AddAsync(NetworkConfigList list, string containerId, string netns, string ifName, IReadOnlyDictionary<string, JsonElement>? capabilityArgs = null)
    {
        JsonNode? result = null;
        foreach (var plugin in list.Plugins)
        {
            result = JsonNode.Parse(await ExecPlugin(plugin.Type, "ADD", containerId, netns, ifName, Stdin(list, plugin, result, capabilityArgs)));
        }

        return result;
    }

    public static async Task DeleteAsync(NetworkConfigList list, string containerId, string netns, string ifName, JsonNode? result, IReadOnlyDictionary<string, JsonElement>? capabilityArgs = null)
    {
        for (var i = list.Plugins.Count - 1; i >= 0; i--)
        {
            await ExecPlugin(list.Plugins[i].Type, "DEL", containerId, netns, ifName, Stdin(list, list.Plugins[i], result, capabilityArgs));
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

    private static async Task<string> ExecPlugin(string type, string command, string containerId, string netns, string ifName, string stdin)
    {
        var start = new ProcessStartInfo(Path.Combine(PluginDirectory, type))
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
        start.Environment["CNI_PATH"] = PluginDirectory;
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
