using System.Collections.Concurrent;
using CniRuntime.Namespaces;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Support;

/// <summary>Namespaces as names in a set: what the sandbox layer asked for, without the kernel.</summary>
public sealed class FakeNetworkNamespaces : INetworkNamespaces
{
    private readonly ConcurrentDictionary<string, bool> _existing = new(StringComparer.Ordinal);

    public ConcurrentQueue<string> Created { get; } = new();

    public ConcurrentQueue<string> Deleted { get; } = new();

    public IEnumerable<string> Existing => _existing.Keys;

    public Task<string> CreateAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = "/run/netns/" + name;
        if (!_existing.TryAdd(path, true))
        {
            throw new NetworkNamespaceException(NetworkNamespaceError.AlreadyExists, path, $"network namespace {path} already exists");
        }

        Created.Enqueue(path);
        return Task.FromResult(path);
    }

    public Task DeleteAsync(string nameOrPath, CancellationToken cancellationToken = default)
    {
        var path = GetPath(nameOrPath);
        _existing.TryRemove(path, out _);
        Deleted.Enqueue(path);
        return Task.CompletedTask;
    }

    public bool Exists(string nameOrPath) => _existing.ContainsKey(GetPath(nameOrPath));

    public IReadOnlyList<string> List() => [.. _existing.Keys.Where(p => p.StartsWith("/run/netns/", StringComparison.Ordinal)).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    public string GetPath(string nameOrPath) => nameOrPath.Contains('/', StringComparison.Ordinal) ? nameOrPath : "/run/netns/" + nameOrPath;

    /// <summary>Simulates a namespace made by someone else (passed in by the runtime).</summary>
    public void Add(string path) => _existing[path] = true;

    /// <summary>Simulates a namespace that vanished behind the runtime's back.</summary>
    public void Vanish(string path) => _existing.TryRemove(path, out _);
}

/// <summary>Networks held in memory, changeable during a test.</summary>
public sealed class InMemoryNetworkConfigSource : CniRuntime.Sandboxes.INetworkConfigSource
{
    private readonly ConcurrentDictionary<string, CniRuntime.Configuration.NetworkConfigList> _networks = new(StringComparer.Ordinal);

    public void Add(string json)
    {
        var list = CniRuntime.Configuration.NetworkConfigList.Parse(System.Text.Encoding.UTF8.GetBytes(json));
        _networks[list.Name] = list;
    }

    public void Remove(string name) => _networks.TryRemove(name, out _);

    public Task<CniRuntime.Configuration.NetworkConfigList> GetNetworkAsync(string name, CancellationToken cancellationToken = default) =>
        _networks.TryGetValue(name, out var list) ? Task.FromResult(list) : throw new CniConfigNotFoundException("(memory)", name);

    public Task<CniRuntime.Configuration.NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_networks.Values.OrderBy(n => n.Name, StringComparer.Ordinal).FirstOrDefault());

    public Task<IReadOnlyList<CniRuntime.Configuration.NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<CniRuntime.Configuration.NetworkConfigList>>([.. _networks.Values]);
}
