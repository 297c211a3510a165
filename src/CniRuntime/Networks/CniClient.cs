using System.Diagnostics;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Diagnostics;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CniRuntime.Networks;

/// <summary>
/// The CNI engine: everything libcni does for a runtime (ADD, CHECK, DEL, STATUS, GC, VERSION, the result cache),
/// plus what runtimes had to add themselves: per-call timeouts that kill the plugin's process tree, retries of
/// "try again later", rollback of a failed ADD, atomic cache writes and per-attachment locks.
/// </summary>
/// <remarks>Thread-safe; one instance serves every network and container.</remarks>
public sealed partial class CniClient : ICniClient
{
    private static readonly byte[] VersionRequest = """{"cniVersion":"1.1.0"}"""u8.ToArray();
    private readonly IPluginExecutor _executor;
    private readonly PluginCallPolicy<ReadOnlyMemory<byte>> _policy;
    private readonly ILogger _logger;

    /// <summary>Creates a client.</summary>
    /// <param name="options">Plugin directories, cache directory, timeouts; the defaults when null.</param>
    /// <param name="executor">How plugins run; real child processes when null.</param>
    public CniClient(CniClientOptions? options = null, IPluginExecutor? executor = null)
    {
        Options = options ?? new CniClientOptions();
        // Without a factory, no category name is built (that takes reflection over the type's name).
        _logger = Options.LoggerFactory is { } factory ? factory.CreateLogger<CniClient>() : NullLogger.Instance;
        _executor = executor ?? new ProcessPluginExecutor(new ProcessPluginExecutorOptions
        {
            TimeProvider = Options.TimeProvider,
            InheritEnvironment = Options.PluginEnvironment == PluginEnvironment.Inherit,
        });
        Cache = new ResultCache(Options.CacheDirectory, Options.TimeProvider, Options.DurableWrites);
        _policy = new PluginCallPolicy<ReadOnlyMemory<byte>>(Options.PluginTimeout, Math.Max(0, Options.TransientRetries), Options.TransientRetryDelay, Options.TimeProvider);
    }

    /// <summary>The options in force.</summary>
    public CniClientOptions Options { get; }

    /// <summary>The result cache.</summary>
    public ResultCache Cache { get; }

    /// <inheritdoc />
    public Task<CniResult> AddNetworkListAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Add, list?.Name, runtimeConfig?.ContainerId, () => AddCoreAsync(list!, runtimeConfig!, cancellationToken));

    /// <inheritdoc />
    public Task DeleteNetworkListAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Del, list?.Name, runtimeConfig?.ContainerId, () => DeleteCoreAsync(list!, runtimeConfig!, cancellationToken));

    /// <inheritdoc />
    public Task CheckNetworkListAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Check, list?.Name, runtimeConfig?.ContainerId, () => CheckCoreAsync(list!, runtimeConfig!, cancellationToken));

    /// <inheritdoc />
    public Task GetStatusNetworkListAsync(NetworkConfigList list, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Status, list?.Name, null, () => StatusCoreAsync(list!, cancellationToken));

    /// <inheritdoc />
    public Task GcNetworkListAsync(NetworkConfigList list, GcArgs? args, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Gc, list?.Name, null, () => GcCoreAsync(list!, args, cancellationToken));

    /// <inheritdoc />
    public Task<CniResult> AddNetworkAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Add, plugin?.Name, runtimeConfig?.ContainerId, () => AsPluginErrorsAsync(AddCoreAsync(AsList(plugin!), runtimeConfig!, cancellationToken, singlePlugin: true)));

    /// <inheritdoc />
    public Task DeleteNetworkAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Del, plugin?.Name, runtimeConfig?.ContainerId, () => AsPluginErrorsAsync(DeleteCoreAsync(AsList(plugin!), runtimeConfig!, cancellationToken)));

    /// <inheritdoc />
    public Task CheckNetworkAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        TrackAsync(CniCommand.Check, plugin?.Name, runtimeConfig?.ContainerId, () => AsPluginErrorsAsync(CheckCoreAsync(AsList(plugin!), runtimeConfig!, cancellationToken)));

    // libcni's single-plugin operations run one plugin configuration as a list of one: its own name and version on
    // the wire, and its own bytes cached as the attachment's configuration (what AddNetwork caches, so that Go
    // runtimes that use it, such as CRI-O for the loopback, read the same file).
    private static NetworkConfigList AsList(PluginConfig plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        return new NetworkConfigList
        {
            Name = plugin.Name ?? string.Empty,
            CniVersion = plugin.CniVersion ?? string.Empty,
            Plugins = [plugin],
            Bytes = plugin.ToUtf8Bytes(),
        };
    }

    // The single-plugin operations report a plugin's error as the plugin gave it, as libcni's do.
    private static async Task<T> AsPluginErrorsAsync<T>(Task<T> operation)
    {
        try
        {
            return await operation.ConfigureAwait(false);
        }
        catch (CniException ex)
        {
            ex.WithoutCallInMessage();
            throw;
        }
    }

    private async Task<T> TrackAsync<T>(string command, string? networkName, string? containerId, Func<Task<T>> operation)
    {
        using var activity = CniTelemetry.Source.StartActivity($"CNI {command} {networkName}");
        activity?.SetTag(CniTelemetry.CommandTag, command);
        activity?.SetTag(CniTelemetry.NetworkTag, networkName);
        activity?.SetTag(CniTelemetry.ContainerIdTag, containerId);
        var started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (ex is not OperationCanceledException)
            {
                Log.OperationFailed(_logger, command, networkName, containerId, ex);
            }

            throw;
        }
        finally
        {
            var tags = new TagList
            {
                { CniTelemetry.CommandTag, command },
                { CniTelemetry.NetworkTag, networkName },
                { CniTelemetry.OutcomeTag, CniTelemetry.Outcome(failure) },
            };
            CniTelemetry.Operations.Add(1, tags);
            CniTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    private async Task<CniResult> AddCoreAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken, bool singlePlugin = false)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(runtimeConfig);
        CniNames.ValidateContainerId(runtimeConfig.ContainerId);
        CniNames.ValidateNetworkName(list.Name);
        CniNames.ValidateInterfaceName(runtimeConfig.InterfaceName);
        var version = list.GetVersion();
        var cniArgs = CniArgs.Format(runtimeConfig.Args);

        using var attachmentLock = await Cache.LockAsync(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName, cancellationToken).ConfigureAwait(false);

        // The intent goes to disk before the first plugin runs, so that whatever a killed runtime leaves half done
        // can be found and undone (RecoverAsync, GC, DEL); a disk that cannot take it fails ADD before any change.
        await Cache.WriteAsync(ToAttachment(list, runtimeConfig, null) with { Pending = CniCommand.Add }, cancellationToken).ConfigureAwait(false);
        CniResult? result = null;
        var started = 0;
        try
        {
            foreach (var plugin in list.Plugins)
            {
                var path = Locate(plugin, list.Name, CniCommand.Add);
                var stdin = PluginRequest.BuildStdin(
                    plugin,
                    list.Name,
                    list.CniVersion,
                    result is null ? null : ForChaining(result, version),
                    PluginRequest.SelectCapabilityArgs(plugin, runtimeConfig.CapabilityArgs));
                var environment = PluginRequest.BuildEnvironment(CniCommand.Add, runtimeConfig.ContainerId, runtimeConfig.NetworkNamespace, runtimeConfig.InterfaceName, cniArgs, Options.PluginDirectories);
                started++;
                var output = await InvokeAsync(plugin, path, list.Name, CniCommand.Add, stdin, environment, cancellationToken).ConfigureAwait(false);
                result = ParseResult(output, version, plugin, list.Name);
            }

            // A list without plugins caches no result, as libcni does; the caller still gets an empty one.
            await Cache.WriteAsync(ToAttachment(list, runtimeConfig, result), cancellationToken).ConfigureAwait(false);
            return result ?? CniResult.Empty(version);
        }
        catch (Exception ex) when (ex is CniException or OperationCanceledException)
        {
            if (Options.RollbackFailedAdd)
            {
                // A plugin that refused the version (code 1) has done nothing; one that was not found never counted.
                var ran = ex is CniPluginException { Code: CniErrorCode.IncompatibleCniVersion } ? started - 1 : started;
                // Deletes the intent when the rollback succeeds, and keeps it for a later DEL when it fails.
                await RollbackAsync(list, ran, runtimeConfig, result, version, cniArgs, ex, singlePlugin).ConfigureAwait(false);
            }
            else
            {
                // Without rollback the caller owns the cleanup, as with libcni, which leaves no cache file.
                Cache.Delete(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName);
            }

            // Nothing of the attachment is left; neither should its lock file be (removal is safe for waiters).
            attachmentLock.RemoveOnRelease();
            throw;
        }
    }

    private async Task<bool> DeleteCoreAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(runtimeConfig);
        var version = list.GetVersion();
        var cniArgs = CniArgs.Format(runtimeConfig.Args);
        using var attachmentLock = await Cache.LockAsync(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName, cancellationToken).ConfigureAwait(false);
        await DeleteLockedAsync(list, runtimeConfig, version, cniArgs, cancellationToken).ConfigureAwait(false);
        attachmentLock.RemoveOnRelease();
        return true;
    }

    // DEL with the attachment's lock held: every plugin in reverse, then the cache file (kept when a plugin fails,
    // so that a retry still has prevResult).
    private async Task DeleteLockedAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CniVersion version, string cniArgs, CancellationToken cancellationToken)
    {
        CniResult? cached = null;
        if (version >= CniVersion.V040)
        {
            try
            {
                cached = await ReadCachedResultAsync(list, runtimeConfig, version, cancellationToken).ConfigureAwait(false);
            }
            catch (CniException)
            {
                // A missing, empty or corrupt cache must never block DEL (a pod stuck terminating); plugins get no prevResult.
            }
        }

        await DeletePluginsAsync(list, runtimeConfig, cached, cniArgs, cancellationToken).ConfigureAwait(false);
        Cache.Delete(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName);
    }

    /// <summary>
    /// Undoes what a runtime killed in the middle of ADD left behind: every cached attachment still marked
    /// <see cref="NetworkAttachment.Pending"/> is deleted (DEL of every plugin, last first, with the configuration and
    /// arguments ADD recorded; the namespace only if it still exists) and its cache file removed. An ADD still
    /// running in another process holds the attachment's lock: recovery waits for it and then leaves it alone.
    /// Run it when the runtime starts, before new work.
    /// </summary>
    /// <param name="cancellationToken">Cancels the waits for locks and the plugin calls.</param>
    /// <returns>The attachments undone.</returns>
    /// <exception cref="CniAggregateException">Some could not be undone; they stay pending for the next try.</exception>
    public async Task<IReadOnlyList<NetworkAttachment>> RecoverAsync(CancellationToken cancellationToken = default)
    {
        var undone = new List<NetworkAttachment>();
        var errors = new List<Exception>();
        foreach (var found in await Cache.ListAsync(null, cancellationToken).ConfigureAwait(false))
        {
            if (found.Pending is null)
            {
                continue;
            }

            try
            {
                using var attachmentLock = await Cache.LockAsync(found.NetworkName, found.ContainerId, found.InterfaceName, cancellationToken).ConfigureAwait(false);
                var attachment = await Cache.ReadAsync(found.NetworkName, found.ContainerId, found.InterfaceName, cancellationToken).ConfigureAwait(false);
                if (attachment?.Pending is null)
                {
                    continue; // it finished (or was deleted) while we waited
                }

                var list = ParseRecordedConfig(attachment.Config);
                var runtimeConfig = RuntimeConfig.FromAttachment(attachment);
                if (runtimeConfig.NetworkNamespace is { } netns && !File.Exists(netns))
                {
                    runtimeConfig = runtimeConfig with { NetworkNamespace = null };
                }

                await DeleteLockedAsync(list, runtimeConfig, list.GetVersion(), CniArgs.Format(runtimeConfig.Args), cancellationToken).ConfigureAwait(false);
                attachmentLock.RemoveOnRelease();
                undone.Add(attachment);
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }
        }

        return errors.Count > 0 ? throw new CniAggregateException("recovery of half-done ADDs failed", errors) : undone;
    }

    // A record's configuration is a list, or the plugin's own configuration when the single-plugin ADD made it.
    private static NetworkConfigList ParseRecordedConfig(ReadOnlyMemory<byte> config)
    {
        var list = NetworkConfigList.Parse(config.Span);
        if (list.Plugins.Count > 0)
        {
            return list;
        }

        using var document = JsonDocument.Parse(config);
        return document.RootElement.TryGetProperty("type", out _) ? AsList(PluginConfig.Parse(config.Span)) : list;
    }

    private async Task<bool> CheckCoreAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(runtimeConfig);

        // disableCheck is honoured before anything else (libcni tests the version first, so a 0.3.x list with
        // disableCheck still fails).
        if (list.DisableCheck)
        {
            return true;
        }

        var version = list.GetVersion();
        if (version < CniVersion.V040)
        {
            throw new CniException(CniErrorCode.IncompatibleCniVersion, $"configuration version \"{list.CniVersion}\" does not support the CHECK command");
        }

        var cniArgs = CniArgs.Format(runtimeConfig.Args);
        using var attachmentLock = await Cache.LockAsync(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName, cancellationToken).ConfigureAwait(false);
        CniResult? cached;
        try
        {
            cached = await ReadCachedResultAsync(list, runtimeConfig, version, cancellationToken).ConfigureAwait(false);
        }
        catch (CniException ex)
        {
            throw new CniException(ex.Code, $"failed to get network \"{list.Name}\" cached result: {ex.Message}", null, ex);
        }

        foreach (var plugin in list.Plugins)
        {
            var path = Locate(plugin, list.Name, CniCommand.Check);
            var stdin = PluginRequest.BuildStdin(plugin, list.Name, list.CniVersion, cached, PluginRequest.SelectCapabilityArgs(plugin, runtimeConfig.CapabilityArgs));
            var environment = PluginRequest.BuildEnvironment(CniCommand.Check, runtimeConfig.ContainerId, runtimeConfig.NetworkNamespace, runtimeConfig.InterfaceName, cniArgs, Options.PluginDirectories);
            await InvokeAsync(plugin, path, list.Name, CniCommand.Check, stdin, environment, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private async Task<bool> StatusCoreAsync(NetworkConfigList list, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(list);
        if (list.GetVersion() < CniVersion.V110)
        {
            return true;
        }

        foreach (var plugin in list.Plugins)
        {
            var path = Locate(plugin, list.Name, CniCommand.Status);
            var stdin = PluginRequest.BuildStdin(plugin, list.Name, list.CniVersion);
            var environment = PluginRequest.BuildEnvironment(CniCommand.Status, null, null, null, string.Empty, Options.PluginDirectories);
            await InvokeAsync(plugin, path, list.Name, CniCommand.Status, stdin, environment, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private async Task<bool> GcCoreAsync(NetworkConfigList list, GcArgs? args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(list);
        if (list.DisableGC)
        {
            return true;
        }

        var version = list.GetVersion();
        var valid = args?.ValidAttachments?.Select(a => (a.ContainerId, a.InterfaceName)).ToHashSet() ?? [];
        // GC cannot DEL what an unusable cache file describes, so it reports each, naming the file, and leaves it
        // for an operator to look at; libcni passes over them in silence. A file name does not tell its network for
        // sure (names may contain '-'), so every such file whose name starts with "<network>-" counts.
        var (attachments, unusable) = await Cache.SurveyAsync(cancellationToken).ConfigureAwait(false);
        var errors = unusable.Where(e => Path.GetFileName(e.Path).StartsWith(list.Name + "-", StringComparison.Ordinal)).ToList<Exception>();
        foreach (var attachment in attachments)
        {
            if (attachment.NetworkName != list.Name || valid.Contains((attachment.ContainerId, attachment.InterfaceName)))
            {
                continue;
            }

            try
            {
                await DeleteNetworkListAsync(list, RuntimeConfig.FromAttachment(attachment), cancellationToken).ConfigureAwait(false);
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }
        }

        if (version >= CniVersion.V110)
        {
            var keep = args is null ? null : new GcAttachments(args.ValidAttachments?.Select(a => (a.ContainerId, a.InterfaceName)).ToList());
            foreach (var plugin in list.Plugins)
            {
                try
                {
                    var path = Locate(plugin, list.Name, CniCommand.Gc);
                    var stdin = PluginRequest.BuildStdin(plugin, list.Name, list.CniVersion, validAttachments: keep);
                    var environment = PluginRequest.BuildEnvironment(CniCommand.Gc, null, null, null, string.Empty, Options.PluginDirectories);
                    await InvokeAsync(plugin, path, list.Name, CniCommand.Gc, stdin, environment, cancellationToken).ConfigureAwait(false);
                }
                catch (CniException ex)
                {
                    errors.Add(ex);
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new CniAggregateException($"GC of network \"{list.Name}\" failed", errors);
        }

        return true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ValidateNetworkListAsync(NetworkConfigList list, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        var errors = new List<Exception>();
        var capabilities = new List<string>();
        var wanted = ValidationVersion(list.CniVersion);
        foreach (var plugin in list.Plugins)
        {
            try
            {
                await ValidatePluginAsync(plugin, wanted, cancellationToken).ConfigureAwait(false);
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }

            capabilities.AddRange(plugin.EnabledCapabilities.Where(c => !capabilities.Contains(c)));
        }

        return errors.Count > 0 ? throw new CniAggregateException($"network \"{list.Name}\" is not valid", errors) : capabilities;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ValidateNetworkAsync(PluginConfig plugin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        try
        {
            await ValidatePluginAsync(plugin, ValidationVersion(plugin.CniVersion), cancellationToken).ConfigureAwait(false);
        }
        catch (CniException ex)
        {
            ex.WithoutCallInMessage();
            throw;
        }

        return [.. plugin.EnabledCapabilities];
    }

    // The version a plugin must support exactly, as libcni compares it: an empty one means 0.1.0.
    private static string ValidationVersion(string? cniVersion) => string.IsNullOrEmpty(cniVersion) ? "0.1.0" : cniVersion;

    private async Task ValidatePluginAsync(PluginConfig plugin, string wanted, CancellationToken cancellationToken)
    {
        var info = await GetVersionInfoAsync(plugin.Type, cancellationToken).ConfigureAwait(false);
        if (!info.Supports(wanted))
        {
            throw new CniException(
                CniErrorCode.IncompatibleCniVersion,
                $"plugin {plugin.Type} does not support config version \"{wanted}\"",
                $"it supports {string.Join(", ", info.SupportedVersions)}");
        }
    }

    /// <inheritdoc />
    public async Task<PluginVersionInfo> GetVersionInfoAsync(string pluginType, CancellationToken cancellationToken = default)
    {
        string path;
        try
        {
            path = _executor.FindPlugin(pluginType, Options.PluginDirectories);
        }
        catch (CniException ex)
        {
            throw ex.WithContext(pluginType, null, CniCommand.Version);
        }

        // Plugins built on very old skel insist on these variables even for VERSION.
        var environment = PluginRequest.BuildEnvironment(CniCommand.Version, string.Empty, "dummy", "dummy", string.Empty, ["dummy"]);
        ReadOnlyMemory<byte> output;
        try
        {
            output = await InvokeAsync(path, pluginType, null, CniCommand.Version, VersionRequest, environment, cancellationToken).ConfigureAwait(false);
        }
        catch (CniPluginException ex) when (ex.ErrorMessage == "unknown CNI_COMMAND: VERSION")
        {
            return PluginVersionInfo.Legacy;
        }

        try
        {
            return PluginVersionInfo.Parse(output.Span);
        }
        catch (CniException ex)
        {
            throw ex.WithContext(pluginType, null, CniCommand.Version);
        }
    }

    /// <inheritdoc />
    public async Task<CniResult?> GetCachedResultAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(runtimeConfig);
        return await ReadCachedResultAsync(list, runtimeConfig, list.GetVersion(), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<CniResult?> GetCachedResultAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        GetCachedResultAsync(AsList(plugin), runtimeConfig, cancellationToken);

    /// <inheritdoc />
    public async Task<CachedNetworkConfig?> GetCachedConfigAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(runtimeConfig);
        NetworkAttachment? attachment;
        try
        {
            attachment = await Cache.ReadAsync(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName, cancellationToken).ConfigureAwait(false);
        }
        catch (CniCacheException ex)
        {
            throw new CniCacheException($"failed to unmarshal cached network \"{list.Name}\" config: {ex.Message}", ex.Path, ex);
        }

        if (attachment is null)
        {
            return null;
        }

        if (attachment.IsLegacy)
        {
            throw new CniCacheException($"failed to unmarshal cached network \"{list.Name}\" config: the cache holds only a result", Cache.GetPath(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName));
        }

        return new CachedNetworkConfig(
            attachment.Config,
            runtimeConfig with
            {
                Args = attachment.CniArgs.Count > 0 ? attachment.CniArgs : runtimeConfig.Args,
                CapabilityArgs = attachment.CapabilityArgs,
            });
    }

    /// <inheritdoc />
    public Task<CachedNetworkConfig?> GetCachedConfigAsync(PluginConfig plugin, RuntimeConfig runtimeConfig, CancellationToken cancellationToken = default) =>
        GetCachedConfigAsync(AsList(plugin), runtimeConfig, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<NetworkAttachment>> GetCachedAttachmentsAsync(string? containerId = null, CancellationToken cancellationToken = default) =>
        Cache.ListAsync(containerId, cancellationToken);

    // DEL of every plugin of the list, last first, stopping at the first failure.
    private async Task DeletePluginsAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CniResult? prevResult, string cniArgs, CancellationToken cancellationToken)
    {
        for (var i = list.Plugins.Count - 1; i >= 0; i--)
        {
            await DeletePluginAsync(list, list.Plugins[i], runtimeConfig, prevResult, cniArgs, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeletePluginAsync(NetworkConfigList list, PluginConfig plugin, RuntimeConfig runtimeConfig, CniResult? prevResult, string cniArgs, CancellationToken cancellationToken)
    {
        var path = Locate(plugin, list.Name, CniCommand.Del);
        var stdin = PluginRequest.BuildStdin(plugin, list.Name, list.CniVersion, prevResult, PluginRequest.SelectCapabilityArgs(plugin, runtimeConfig.CapabilityArgs));
        var environment = PluginRequest.BuildEnvironment(CniCommand.Del, runtimeConfig.ContainerId, runtimeConfig.NetworkNamespace, runtimeConfig.InterfaceName, cniArgs, Options.PluginDirectories);
        await InvokeAsync(plugin, path, list.Name, CniCommand.Del, stdin, environment, cancellationToken).ConfigureAwait(false);
    }

    // DEL of the whole list after a failed ADD, last plugin first, with the last result ADD got as prevResult; the
    // attachment lock is already held by the failed ADD. The plugins from `ran` on never did anything (they come
    // after the failure, refused the version or were not found): one that cannot be found is passed over, and one
    // whose DEL fails is logged and does not stop the rollback on its way to those that ran. The DEL of a plugin
    // that ran failing stops it, as DEL does (carrying on could free an address still configured).
    private async Task RollbackAsync(NetworkConfigList list, int ran, RuntimeConfig runtimeConfig, CniResult? partial, CniVersion version, string cniArgs, Exception addError, bool singlePlugin)
    {
        // Cleanup must not be cut short by the caller's cancellation; each plugin call still has its timeout.
        var cancellationToken = CancellationToken.None;
        if (partial is not null)
        {
            // Should the rollback fail, the record left for a later DEL carries what ADD got so far, as its prevResult.
            try
            {
                await Cache.WriteAsync(ToAttachment(list, runtimeConfig, partial) with { Pending = CniCommand.Add }, cancellationToken).ConfigureAwait(false);
            }
            catch (CniException)
            {
                // The disk that failed ADD may fail this too; the intent written before ADD is still there.
            }
        }

        var prevResult = version >= CniVersion.V040 && partial is not null ? ForChaining(partial, version) : null;
        try
        {
            for (var i = list.Plugins.Count - 1; i >= 0; i--)
            {
                var plugin = list.Plugins[i];
                if (i < ran)
                {
                    await DeletePluginAsync(list, plugin, runtimeConfig, prevResult, cniArgs, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    await DeletePluginAsync(list, plugin, runtimeConfig, prevResult, cniArgs, cancellationToken).ConfigureAwait(false);
                }
                catch (CniException ex)
                {
                    Log.RollbackOfUnusedPluginFailed(_logger, plugin.Type, list.Name, runtimeConfig.ContainerId, ex);
                }
            }

            Cache.Delete(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName);
        }
        catch (CniException rollbackError)
        {
            Log.RollbackFailed(_logger, list.Name, runtimeConfig.ContainerId, rollbackError);
            if (singlePlugin)
            {
                // The summary is built from the errors' messages, so they take the single-plugin form first.
                (addError as CniException)?.WithoutCallInMessage();
                rollbackError.WithoutCallInMessage();
            }

            throw new CniAggregateException(
                $"ADD of network \"{list.Name}\" failed and the rollback DEL failed too; the attachment may hold resources until DEL succeeds",
                [addError, rollbackError]);
        }
    }

    private async Task<CniResult?> ReadCachedResultAsync(NetworkConfigList list, RuntimeConfig runtimeConfig, CniVersion version, CancellationToken cancellationToken)
    {
        var attachment = await Cache.ReadAsync(list.Name, runtimeConfig.ContainerId, runtimeConfig.InterfaceName, cancellationToken).ConfigureAwait(false);
        return attachment?.ParseResult(version)?.ConvertTo(version);
    }

    private string Locate(PluginConfig plugin, string networkName, string command)
    {
        try
        {
            return _executor.FindPlugin(plugin.Type, Options.PluginDirectories);
        }
        catch (CniException ex)
        {
            throw ex.WithContext(plugin.Type, networkName, command);
        }
    }

    private Task<ReadOnlyMemory<byte>> InvokeAsync(PluginConfig plugin, string path, string networkName, string command, byte[] stdin, Dictionary<string, string> environment, CancellationToken cancellationToken) =>
        InvokeAsync(path, plugin.Type, networkName, command, stdin, environment, cancellationToken);

    private async Task<ReadOnlyMemory<byte>> InvokeAsync(string path, string pluginType, string? networkName, string command, byte[] stdin, Dictionary<string, string> environment, CancellationToken cancellationToken)
    {
        using var activity = CniTelemetry.Source.StartActivity($"CNI plugin {command} {pluginType}");
        activity?.SetTag(CniTelemetry.PluginTypeTag, pluginType);
        activity?.SetTag(CniTelemetry.CommandTag, command);
        activity?.SetTag(CniTelemetry.NetworkTag, networkName);
        CniTelemetry.AddTraceContext(environment);
        var execution = new Execution(_executor, new PluginInvocation(path, stdin, environment));
        var started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        try
        {
            return await _policy.ExecuteAsync(execution.RunAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (PluginCallTimedOutException ex)
        {
            failure = new CniPluginTimeoutException(path, Options.PluginTimeout, string.Empty, ex).WithContext<CniPluginTimeoutException>(pluginType, networkName, command);
            throw failure;
        }
        catch (CniException ex)
        {
            failure = ex.WithContext(pluginType, networkName, command);
            throw failure;
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            var exitCode = execution.Last?.ExitCode;
            if (activity is not null)
            {
                activity.SetTag(CniTelemetry.ExitCodeTag, exitCode);
                if (failure is not null)
                {
                    activity.SetStatus(ActivityStatusCode.Error, failure.Message);
                }
            }

            var tags = new TagList
            {
                { CniTelemetry.PluginTypeTag, pluginType },
                { CniTelemetry.CommandTag, command },
                { CniTelemetry.OutcomeTag, CniTelemetry.Outcome(failure) },
            };
            CniTelemetry.PluginExecutions.Add(1, tags);
            CniTelemetry.PluginDuration.Record(elapsed.TotalSeconds, tags);
            Log.PluginExecuted(_logger, pluginType, command, networkName, exitCode, elapsed.TotalMilliseconds);
            if (execution.Last is { Stderr.Length: > 0 } last)
            {
                Log.PluginStderr(_logger, pluginType, command, last.Stderr);
            }
        }
    }

    /// <summary>One plugin call through the call policy; remembers the last attempt's exit for telemetry.</summary>
    private sealed class Execution(IPluginExecutor executor, PluginInvocation invocation)
    {
        public IPluginExecutor Executor { get; } = executor;

        public PluginInvocation Invocation { get; } = invocation;

        public PluginProcessResult? Last { get; private set; }

        public async Task<ReadOnlyMemory<byte>> RunAsync(CancellationToken cancellationToken)
        {
            var outcome = await Executor.ExecuteAsync(Invocation, cancellationToken).ConfigureAwait(false);
            Last = outcome;
            return PluginOutput.Interpret(outcome, Invocation.PluginPath);
        }
    }

    private static CniResult ParseResult(ReadOnlyMemory<byte> output, CniVersion version, PluginConfig plugin, string networkName)
    {
        try
        {
            return CniResultJson.Parse(output.Span, version);
        }
        catch (CniException ex)
        {
            throw ex.WithContext(plugin.Type, networkName, CniCommand.Add);
        }
    }

    // The next plugin reads prevResult in the list's version; convert when the previous plugin answered in another.
    private static CniResult ForChaining(CniResult result, CniVersion version)
    {
        if (result.CniVersion == version || !version.IsKnown)
        {
            return result;
        }

        try
        {
            return result.ConvertTo(version);
        }
        catch (CniException)
        {
            return result;
        }
    }

    private static NetworkAttachment ToAttachment(NetworkConfigList list, RuntimeConfig runtimeConfig, CniResult? result)
    {
        JsonElement? element = null;
        if (result is not null)
        {
            var reader = new Utf8JsonReader(CniResultJson.ToUtf8Bytes(result));
            element = JsonElement.ParseValue(ref reader);
        }

        return new NetworkAttachment
        {
            ContainerId = runtimeConfig.ContainerId,
            NetworkName = list.Name,
            InterfaceName = runtimeConfig.InterfaceName,
            NetworkNamespace = runtimeConfig.NetworkNamespace,
            Config = list.Bytes,
            CniArgs = runtimeConfig.Args,
            CapabilityArgs = runtimeConfig.CapabilityArgs,
            Result = element,
        };
    }
}
