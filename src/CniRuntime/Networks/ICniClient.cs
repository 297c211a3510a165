using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Protocol;

namespace CniRuntime.Networks;

/// <summary>The CNI operations a runtime performs on a network (libcni's <c>CNI</c> interface).</summary>
public interface ICniClient
{
    /// <summary>
    /// Runs ADD on every plugin of the list in order, chaining results, and caches the final result. A list
    /// without plugins caches the attachment with no result, as libcni does, and returns an empty result of the
    /// list's version (libcni returns none).
    /// </summary>
    Task<CniResult> AddNetworkListAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>Runs CHECK on every plugin of the list in order, with the cached result.</summary>
    Task CheckNetworkListAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>Runs DEL on every plugin of the list in reverse order, with the cached result, then drops the cache.</summary>
    Task DeleteNetworkListAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>Runs STATUS on every plugin of the list in order (1.1.0 lists; others are assumed ready).</summary>
    Task GetStatusNetworkListAsync(NetworkConfigList list, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes stale cached attachments of the network and sends GC to its plugins (1.1.0). Every failure is
    /// reported in one <see cref="CniAggregateException"/>, among them each cache file of the network that cannot be
    /// read as an attachment (named in its error and left in place).
    /// </summary>
    Task GcNetworkListAsync(NetworkConfigList list, GcArgs? args, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks that every plugin exists and supports the list version; returns the enabled capabilities. Every
    /// problem is collected in one <see cref="CniAggregateException"/> (libcni formats them as <c>[e1 e2]</c>).
    /// </summary>
    Task<IReadOnlyList<string>> ValidateNetworkListAsync(NetworkConfigList list, CancellationToken cancellationToken = default);

    /// <summary>Asks a plugin which versions it supports.</summary>
    Task<PluginVersionInfo> GetVersionInfoAsync(string pluginType, CancellationToken cancellationToken = default);

    /// <summary>The cached result of an attachment, converted to the list's version, or null.</summary>
    Task<CniResult?> GetCachedResultAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>The configuration and arguments an attachment was added with, or null.</summary>
    Task<CachedNetworkConfig?> GetCachedConfigAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs ADD on one plugin configuration (libcni's <c>AddNetwork</c>): its own <c>name</c> and <c>cniVersion</c>
    /// go on the wire, and the attachment is cached with the plugin's own configuration object as written. A plugin's
    /// error is reported as the plugin gave it (libcni does not prefix it here); the plugin, command and network stay
    /// in the exception's properties. A failed ADD is rolled back as a list's is.
    /// </summary>
    Task<CniResult> AddNetworkAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>Runs CHECK on one plugin configuration with the cached result (libcni's <c>CheckNetwork</c>); errors as with <see cref="AddNetworkAsync"/>.</summary>
    Task CheckNetworkAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>Runs DEL on one plugin configuration with the cached result, then drops the cache (libcni's <c>DelNetwork</c>); errors as with <see cref="AddNetworkAsync"/>.</summary>
    Task DeleteNetworkAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks that the plugin exists and supports its configuration's version (libcni's <c>ValidateNetwork</c>);
    /// returns its enabled capabilities. The one problem found is thrown as it is, not aggregated.
    /// </summary>
    Task<IReadOnlyList<string>> ValidateNetworkAsync(PluginConfig plugin, CancellationToken cancellationToken = default);

    /// <summary>The cached result of an attachment of one plugin configuration, converted to its version, or null (libcni's <c>GetNetworkCachedResult</c>).</summary>
    Task<CniResult?> GetCachedResultAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>The configuration and arguments an attachment of one plugin configuration was added with, or null (libcni's <c>GetNetworkCachedConfig</c>).</summary>
    Task<CachedNetworkConfig?> GetCachedConfigAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default);

    /// <summary>The cached attachments, of every container or of one.</summary>
    Task<IReadOnlyList<NetworkAttachment>> GetCachedAttachmentsAsync(string? containerId = null, CancellationToken cancellationToken = default);

    /// <summary>Undoes the ADDs that a killed runtime left half done (see <see cref="CniClient.RecoverAsync"/>).</summary>
    Task<IReadOnlyList<NetworkAttachment>> RecoverAsync(CancellationToken cancellationToken = default);
}
