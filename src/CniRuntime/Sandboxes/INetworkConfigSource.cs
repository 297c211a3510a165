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
    public async Task<NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default)
    {
        var scan = await NetworkConfigLoader.ScanDirectoryAsync(Directory, cancellationToken).ConfigureAwait(false);
        return scan.Networks.OrderBy(n => Path.GetFileName(n.Source), StringComparer.Ordinal).FirstOrDefault();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default) =>
        (await NetworkConfigLoader.ScanDirectoryAsync(Directory, cancellationToken).ConfigureAwait(false)).Networks;
}
