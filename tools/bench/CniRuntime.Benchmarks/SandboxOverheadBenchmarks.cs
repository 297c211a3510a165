using System.Text;
using BenchmarkDotNet.Attributes;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Namespaces;
using CniRuntime.Networks;
using CniRuntime.Sandboxes;

namespace CniRuntime.Benchmarks;

/// <summary>
/// The sandbox layer's own cost per setup + teardown of 1, 2 and 4 networks (one plugin each), with plugins that
/// answer instantly and namespaces that cost nothing: records, locks, cache files, result aggregation.
/// State on tmpfs, so the figure is CPU, not fsync.
/// </summary>
[MemoryDiagnoser]
public class SandboxOverheadBenchmarks
{
    private SandboxManager _manager = null!;
    private SandboxRequest _request = null!;
    private string _cacheDirectory = null!;

    [Params(1, 2, 4)]
    public int Networks { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cacheDirectory = Path.Combine("/dev/shm", "cnirt-sb-bench-" + Guid.NewGuid().ToString("N"));
        var configs = new Configs(Networks);
        var cni = new CniClientOptions { CacheDirectory = _cacheDirectory, PluginDirectories = ["/nowhere"] };
        _manager = new SandboxManager(new SandboxManagerOptions { Cni = cni }, new FreeNamespaces(), new CniClient(cni, new InstantBridge()), configs);
        _request = new SandboxRequest { Networks = [.. configs.Lists.Select(l => new SandboxNetworkRequest(l.Name))] };
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_cacheDirectory, recursive: true);

    [Benchmark(Description = "sandbox setup + teardown")]
    public async Task SetupAndTeardown()
    {
        var sandbox = await _manager.SetupAsync(_request);
        await _manager.TeardownAsync(sandbox.Id);
    }

    private sealed class Configs(int count) : INetworkConfigSource
    {
        public List<NetworkConfigList> Lists { get; } = [.. Enumerable.Range(0, count).Select(i => NetworkConfigList.Parse(Encoding.UTF8.GetBytes(
            $$$"""{"cniVersion":"1.0.0","name":"net{{{i}}}","plugins":[{"type":"bridge","bridge":"cni{{{i}}}","ipam":{"type":"host-local","ranges":[[{"subnet":"10.{{{i}}}.0.0/16"}]]}}]}""")))];

        public Task<NetworkConfigList> GetNetworkAsync(string name, CancellationToken cancellationToken = default) => Task.FromResult(Lists.First(l => l.Name == name));

        public Task<NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default) => Task.FromResult<NetworkConfigList?>(Lists[0]);

        public Task<IReadOnlyList<NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<NetworkConfigList>>(Lists);
    }

    private sealed class FreeNamespaces : INetworkNamespaces
    {
        public Task<string> CreateAsync(string name, CancellationToken cancellationToken = default) => Task.FromResult("/run/netns/" + name);

        public Task DeleteAsync(string nameOrPath, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public bool Exists(string nameOrPath) => true;

        public IReadOnlyList<string> List() => [];

        public string GetPath(string nameOrPath) => nameOrPath.Contains('/', StringComparison.Ordinal) ? nameOrPath : "/run/netns/" + nameOrPath;
    }

    private sealed class InstantBridge : IPluginExecutor
    {
        private static readonly PluginProcessResult Empty = new(0, ReadOnlyMemory<byte>.Empty, string.Empty);

        public string FindPlugin(string pluginType, IReadOnlyList<string> directories) => "/nowhere/" + pluginType;

        public Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken)
        {
            if (invocation.Environment["CNI_COMMAND"] != CniCommand.Add)
            {
                return Task.FromResult(Empty);
            }

            var netns = invocation.Environment["CNI_NETNS"];
            var ifName = invocation.Environment["CNI_IFNAME"];
            var result = $$"""{"cniVersion":"1.0.0","interfaces":[{"name":"cni0"},{"name":"{{ifName}}","sandbox":"{{netns}}"}],"ips":[{"address":"10.0.0.5/16","gateway":"10.0.0.1","interface":1}]}""";
            return Task.FromResult(new PluginProcessResult(0, Encoding.UTF8.GetBytes(result), string.Empty));
        }
    }
}
