using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Protocol;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The pure in-process steps of a plugin call, without files or processes: reading a configuration list,
/// building a plugin's stdin and environment, reading a plugin's result and converting it to another version.
/// </summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private readonly byte[] _listBytes = Encoding.UTF8.GetBytes(BenchData.ListJson);
    private readonly byte[] _resultBytes = Encoding.UTF8.GetBytes(BenchData.BridgeResult);
    private readonly Dictionary<string, JsonElement> _capabilityArgs = new()
    {
        ["portMappings"] = JsonDocument.Parse("""[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]""").RootElement.Clone(),
    };

    private readonly string[] _pluginDirectories = ["/opt/cni/bin"];
    private NetworkConfigList _list = null!;
    private CniResult _result = null!;

    [GlobalSetup]
    public void Setup()
    {
        _list = NetworkConfigList.Parse(_listBytes);
        _result = CniResultJson.Parse(_resultBytes);
    }

    [Benchmark(Description = "parse a 4-plugin conflist")]
    public NetworkConfigList ParseList() => NetworkConfigList.Parse(_listBytes);

    /// <summary>What the portmap plugin receives on ADD: its configuration, name, version, capability arguments and prevResult.</summary>
    [Benchmark(Description = "build a plugin's stdin (prevResult, runtimeConfig) and environment")]
    public int BuildRequest()
    {
        var plugin = _list.Plugins[1];
        var stdin = PluginRequest.BuildStdin(plugin, _list.Name, _list.CniVersion, _result, PluginRequest.SelectCapabilityArgs(plugin, _capabilityArgs));
        var environment = PluginRequest.BuildEnvironment(CniCommand.Add, "0123456789abcdef", "/run/netns/bench", "eth0", "IgnoreUnknown=1", _pluginDirectories);
        return stdin.Length + environment.Count;
    }

    [Benchmark(Description = "parse a plugin's 1.0.0 result")]
    public CniResult ParseResult() => CniResultJson.Parse(_resultBytes);

    [Benchmark(Description = "convert a result 1.0.0 -> 0.4.0")]
    public CniResult ConvertResult() => _result.ConvertTo(CniVersion.V040);
}
