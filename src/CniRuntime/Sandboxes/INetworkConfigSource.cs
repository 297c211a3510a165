using CniRuntime.Configuration;
using CniRuntime.Protocol;

namespace CniRuntime.Sandboxes;

/// <summary>Where sandboxes find network configurations by name.</summary>
public interface INetworkConfigSource
{
    /// <summary>The network called <paramref name="name"/>.</summary>
    /// <exception cref="CniConfigNotFoundException">No such network.</exception>
    /// <exception cref="CniConfigException">Its file is broken.</exception>
    Task<NetworkConfigList> GetNetworkAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The default network: the first valid one by file name, or null when there is none.</summary>
    Task<NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default);

    /// <summary>Every network that loads.</summary>
    Task<IReadOnlyList<NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default);
}

/// <summary>Reads the configuration directory on every request (no watcher; always current, a few ms per read).</summary>
/// <param name="directory">The configuration directory, e.g. <c>/etc/cni/net.d</c>.</param>
public sealed class DirectoryNetworkConfigSource(string directory) : INetworkConfigSource
{
    /// <summary>The configuration directory.</summary>
    public string Directory { get; } = directory;

    /// <inheritdoc />
    public Task<NetworkConfigList> GetNetworkAsync(string name, CancellationToken cancellationToken = default) =>
        NetworkConfigLoader.LoadNetworkAsync(Directory, name, cancellationToken);

    /// <inheritdoc />
    public async Task<NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default) =>
        (await NetworkConfigLoader.ScanDirectoryAsync(Directory, cancellationToken).ConfigureAwait(false)).DefaultNetwork;

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default) =>
        (await NetworkConfigLoader.ScanDirectoryAsync(Directory, cancellationToken).ConfigureAwait(false)).Networks;
}

/// <summary>
/// Serves networks from a <see cref="NetworkConfigWatcher"/>'s latest snapshot: no disk access per request, and
/// changes to the directory (files added, edited, renamed into place, the directory recreated) apply without a restart.
/// </summary>
/// <param name="watcher">The watcher; it stays owned by the caller.</param>
public sealed class WatchedNetworkConfigSource(NetworkConfigWatcher watcher) : INetworkConfigSource
{
    /// <inheritdoc />
    public Task<NetworkConfigList> GetNetworkAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(watcher.Current.GetNetwork(name));

    /// <inheritdoc />
    public Task<NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(watcher.Current.DefaultNetwork);

    /// <inheritdoc />
    public Task<IReadOnlyList<NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(watcher.Current.Networks);
}
