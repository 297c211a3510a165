using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The engine's own cost per ADD and per DEL of a 4-plugin list, with plugins that answer instantly: everything
/// CniRuntime adds on top of the plugins (request building, result parsing and chaining, cache write and read,
/// locks, timeouts); and the cache's write and read alone.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private NetworkConfigList _list = null!;
    private CniClient _client = null!;
    private RuntimeConfig _runtime = null!;
    private string _cacheDirectory = null!;
    private byte[] _result = null!;
    private ResultCache _cache = null!;
    private NetworkAttachment _attachment = null!;

    /// <summary>
    /// Where the cache lives: tmpfs isolates the engine's CPU cost; a disk adds its file system's cost of the temp
    /// file, the rename and the unlink (writes are not fsynced unless <see cref="CniClientOptions.DurableWrites"/>).
    /// </summary>
    [Params("tmpfs", "disk")]
    public string CacheOn { get; set; } = "tmpfs";

    [GlobalSetup]
    public void Setup()
    {
        _result = Encoding.UTF8.GetBytes(BenchData.BridgeResult);
        _list = NetworkConfigList.Parse(Encoding.UTF8.GetBytes(BenchData.ListJson));
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
        _cache = _client.Cache;
        _attachment = new NetworkAttachment
        {
            ContainerId = "cached-" + _runtime.ContainerId,
            NetworkName = _list.Name,
            InterfaceName = _runtime.InterfaceName,
            NetworkNamespace = _runtime.NetworkNamespace,
            Config = _list.Bytes,
            CniArgs = _runtime.Args,
            CapabilityArgs = _runtime.CapabilityArgs,
            Result = JsonDocument.Parse(_result).RootElement.Clone(),
        };
        _cache.WriteAsync(_attachment).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_cacheDirectory, recursive: true);

    [Benchmark(Description = "ADD, 4 plugins")]
    public Task<CniResult> Add() => _client.AddNetworkListAsync(_list, _runtime);

    /// <summary>A whole attachment lifecycle (<see cref="EngineDeleteBenchmarks"/> measures DEL alone).</summary>
    [Benchmark(Description = "ADD then DEL, 4 plugins")]
    public async Task AddThenDelete()
    {
        await _client.AddNetworkListAsync(_list, _runtime);
        await _client.DeleteNetworkListAsync(_list, _runtime);
    }

    /// <summary>One cache file written (temp file, rename), as ADD leaves it.</summary>
    [Benchmark(Description = "cache write")]
    public Task CacheWrite() => _cache.WriteAsync(_attachment);

    /// <summary>One cache file read and parsed back, as DEL and CHECK do (the file written in setup).</summary>
    [Benchmark(Description = "cache read")]
    public Task<NetworkAttachment?> CacheRead() => _cache.ReadAsync(_attachment.NetworkName, _attachment.ContainerId, _attachment.InterfaceName);

    /// <summary>Answers every call at once: ADD with a bridge-like result, everything else with nothing.</summary>
    internal sealed class InstantExecutor(byte[] result) : IPluginExecutor
    {
        private static readonly PluginProcessResult Empty = new(0, ReadOnlyMemory<byte>.Empty, string.Empty);
        private readonly PluginProcessResult _add = new(0, result, string.Empty);

        public string FindPlugin(string pluginType, IReadOnlyList<string> directories) => "/nowhere/" + pluginType;

        public Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken) =>
            Task.FromResult(invocation.Environment["CNI_COMMAND"] == CniCommand.Add ? _add : Empty);
    }
}

/// <summary>
/// DEL alone of a 4-plugin list: each iteration's setup ADDs <see cref="Attachments"/> attachments (one per
/// container), and each invocation DELs the next one, with its cached result read, converted and passed on.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Attachments)]
public class EngineDeleteBenchmarks
{
    private const int Attachments = 256;
    private NetworkConfigList _list = null!;
    private CniClient _client = null!;
    private RuntimeConfig[] _runtimes = null!;
    private string _cacheDirectory = null!;
    private int _next;

    /// <summary>Where the cache lives, as in <see cref="EngineBenchmarks.CacheOn"/>.</summary>
    [Params("tmpfs", "disk")]
    public string CacheOn { get; set; } = "tmpfs";

    [GlobalSetup]
    public void Setup()
    {
        _list = NetworkConfigList.Parse(Encoding.UTF8.GetBytes(BenchData.ListJson));
        _cacheDirectory = Path.Combine(CacheOn == "tmpfs" ? "/dev/shm" : Path.GetTempPath(), "cnirt-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_cacheDirectory);
        var executor = new EngineBenchmarks.InstantExecutor(Encoding.UTF8.GetBytes(BenchData.BridgeResult));
        _client = new CniClient(new CniClientOptions { CacheDirectory = _cacheDirectory, PluginDirectories = ["/nowhere"] }, executor);
        var portMappings = JsonDocument.Parse("""[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]""").RootElement.Clone();
        _runtimes = [.. Enumerable.Range(0, Attachments).Select(i => new RuntimeConfig
        {
            ContainerId = $"{i:x8}89abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            NetworkNamespace = "/run/netns/bench",
            InterfaceName = "eth0",
            Args = [new("IgnoreUnknown", "1"), new("K8S_POD_NAMESPACE", "default"), new("K8S_POD_NAME", "web-0")],
            CapabilityArgs = new Dictionary<string, JsonElement> { ["portMappings"] = portMappings },
        })];
    }

    [IterationSetup]
    public void AddAll()
    {
        foreach (var runtime in _runtimes)
        {
            _client.AddNetworkListAsync(_list, runtime).GetAwaiter().GetResult();
        }

        _next = 0;
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_cacheDirectory, recursive: true);

    [Benchmark(Description = "DEL, 4 plugins")]
    public Task Delete() => _client.DeleteNetworkListAsync(_list, _runtimes[_next++ % Attachments]);
}
