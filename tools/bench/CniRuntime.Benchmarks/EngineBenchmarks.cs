using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The engine's own cost per ADD and per DEL of a 4-plugin list, with plugins that answer instantly: everything
/// CniRuntime adds on top of the plugins (request building, result parsing and chaining, cache write and read,
/// locks, the resilience pipeline).
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private const string ListJson = """
        {"cniVersion":"1.0.0","name":"bench","plugins":[
          {"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
          {"type":"portmap","capabilities":{"portMappings":true},"snat":true},
          {"type":"firewall","backend":"iptables"},
          {"type":"tuning","sysctl":{"net.core.somaxconn":"512"}}]}
        """;

    private const string BridgeResult = """
        {"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"aa:bb:cc:00:00:01"},{"name":"veth1234","mac":"aa:bb:cc:00:00:02"},{"name":"eth0","mac":"aa:bb:cc:00:00:03","sandbox":"/run/netns/bench"}],
         "ips":[{"interface":2,"address":"10.88.0.5/16","gateway":"10.88.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}
        """;

    private NetworkConfigList _list = null!;
    private CniClient _client = null!;
    private RuntimeConfig _runtime = null!;
    private string _cacheDirectory = null!;
    private byte[] _listBytes = null!;
    private byte[] _result = null!;

    /// <summary>Where the cache lives: tmpfs isolates the engine's CPU cost, a disk adds the fsync of the atomic write.</summary>
    [Params("tmpfs", "disk")]
    public string CacheOn { get; set; } = "tmpfs";

    [GlobalSetup]
    public void Setup()
    {
        _listBytes = Encoding.UTF8.GetBytes(ListJson);
        _result = Encoding.UTF8.GetBytes(BridgeResult);
        _list = NetworkConfigList.Parse(_listBytes);
        var root = CacheOn == "tmpfs" ? "/dev/shm" : Path.GetTempPath();
        _cacheDirectory = Path.Combine(root, "cnirt-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_cacheDirectory);
        _client = new CniClient(new CniClientOptions { CacheDirectory = _cacheDirectory, PluginDirectories = ["/nowhere"] }, new InstantExecutor(_result));
        _runtime = new RuntimeConfig
        {
            ContainerId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            NetworkNamespace = "/run/netns/bench",
            InterfaceName = "eth0",
            Args = [new("IgnoreUnknown", "1"), new("K8S_POD_NAMESPACE", "default"), new("K8S_POD_NAME", "web-0")],
            CapabilityArgs = new Dictionary<string, JsonElement>
            {
                ["portMappings"] = JsonDocument.Parse("""[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]""").RootElement.Clone(),
            },
        };
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_cacheDirectory, recursive: true);

    [Benchmark(Description = "ADD, 4 plugins")]
    public Task<CniResult> Add() => _client.AddNetworkListAsync(_list, _runtime);

    /// <summary>A whole attachment lifecycle; DEL's own cost is this minus ADD's.</summary>
    [Benchmark(Description = "ADD then DEL, 4 plugins")]
    public async Task AddThenDelete()
    {
        await _client.AddNetworkListAsync(_list, _runtime);
        await _client.DeleteNetworkListAsync(_list, _runtime);
    }

    [Benchmark(Description = "parse a 4-plugin conflist")]
    public NetworkConfigList Parse() => NetworkConfigList.Parse(_listBytes);

    [Benchmark(Description = "parse + convert a result 1.0.0 -> 0.4.0")]
    public CniResult ConvertResult() => CniResultJson.Parse(_result).ConvertTo(CniVersion.V040);

    /// <summary>Answers every call at once: ADD with a bridge-like result, everything else with nothing.</summary>
    private sealed class InstantExecutor(byte[] result) : IPluginExecutor
    {
        private static readonly PluginProcessResult Empty = new(0, ReadOnlyMemory<byte>.Empty, string.Empty);
        private readonly PluginProcessResult _add = new(0, result, string.Empty);

        public string FindPlugin(string pluginType, IReadOnlyList<string> directories) => "/nowhere/" + pluginType;

        public Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken) =>
            Task.FromResult(invocation.Environment["CNI_COMMAND"] == CniCommand.Add ? _add : Empty);
    }
}
