using System.Diagnostics;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Diagnostics;
using CniRuntime.Namespaces;
using CniRuntime.Networks;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CniRuntime.Sandboxes;

/// <summary>Where sandboxes keep state and find configurations.</summary>
public sealed record SandboxManagerOptions
{
    /// <summary>The CNI engine's options (plugin directories, cache directory, timeouts); sandbox state lives in the same cache directory.</summary>
    public CniClientOptions Cni { get; init; } = new();

    /// <summary>The configuration directory used when no configuration source is given. The default is <c>/etc/cni/net.d</c>.</summary>
    public string ConfigDirectory { get; init; } = "/etc/cni/net.d";

    /// <summary>
    /// The prefix of namespaces CniRuntime creates: <c>/run/netns/&lt;prefix&gt;&lt;first 12 characters of the ID&gt;</c>,
    /// or <c>&lt;prefix&gt;&lt;ID&gt;</c> when another namespace holds that name (IDs that share their first 12 characters).
    /// </summary>
    public string NamespacePrefix { get; init; } = "cnirt-";

    /// <summary>Who publishes a sandbox's ports; <see cref="PortMappingMode.Automatic"/> by default.</summary>
    public PortMappingMode PortMapping { get; init; } = PortMappingMode.Automatic;

    /// <summary>
    /// The kernel mechanism of the built-in port mapper (used when no <see cref="IPortMapper"/> is given):
    /// nftables when it works here, otherwise iptables, by default.
    /// </summary>
    public PortMappingBackend PortBackend { get; init; } = PortMappingBackend.Automatic;
}

/// <summary>Who publishes ports: never both, or every packet would be translated twice.</summary>
public enum PortMappingMode
{
    /// <summary>The plugins, when one of the sandbox's networks has a plugin declaring <c>portMappings</c>; otherwise the runtime.</summary>
    Automatic,

    /// <summary>CniRuntime, in the kernel (<see cref="IPortMapper"/>); plugins never receive <c>portMappings</c>.</summary>
    Runtime,

    /// <summary>Plugins that declare <c>portMappings</c> (the portmap plugin) receive them; CniRuntime publishes nothing.</summary>
    Plugin,
}

/// <summary>
/// The layer every runtime builds over libcni (containerd's go-cni, CRI-O's ocicni, podman): a sandbox is a network
/// namespace, a container ID and attachments to one or more networks. Setup attaches them in order and undoes the
/// ones made when a later one fails; teardown works from what was recorded, so it succeeds after the configuration
/// changed or vanished, after a restart, and when the namespace is already gone; GC removes everything that should
/// not exist. Operations on one sandbox are serialised (across processes too); GC excludes them all.
/// </summary>
public sealed class SandboxManager
{
    /// <summary>The interface name of the optional loopback attachment.</summary>
    public const string LoopbackInterface = "lo";

    private static readonly NetworkConfigList LoopbackNetwork = NetworkConfigList.Parse(
        """{"cniVersion":"1.0.0","name":"cni-loopback","plugins":[{"type":"loopback"}]}"""u8);

    private readonly ICniClient _client;
    private readonly INetworkNamespaces _namespaces;
    private readonly INetworkConfigSource _configs;
    private readonly SandboxStore _store;
    private readonly string _locks;
    private readonly IPortMapper _ports;
    private readonly ILogger _logger;

    /// <summary>Creates a manager.</summary>
    /// <param name="options">Options; the defaults when null.</param>
    /// <param name="namespaces">How namespaces are created and deleted; iproute2's <c>/run/netns</c> when null.</param>
    /// <param name="client">The CNI engine; one built from <see cref="SandboxManagerOptions.Cni"/> when null.</param>
    /// <param name="configs">Where networks are found; the configuration directory, read on each request, when null.</param>
    /// <param name="ports">Publishes ports in the kernel; a <see cref="PortMapper"/> with <see cref="SandboxManagerOptions.PortBackend"/> and state under <c>&lt;cacheDir&gt;/portmap</c> when null.</param>
    public SandboxManager(SandboxManagerOptions? options = null, INetworkNamespaces? namespaces = null, ICniClient? client = null, INetworkConfigSource? configs = null, IPortMapper? ports = null)
    {
        Options = options ?? new SandboxManagerOptions();
        _namespaces = namespaces ?? new NetworkNamespaces();
        _client = client ?? new CniClient(Options.Cni);
        _configs = configs ?? new DirectoryNetworkConfigSource(Options.ConfigDirectory);
        _store = new SandboxStore(Options.Cni.CacheDirectory, Options.Cni.DurableWrites);
        _locks = Path.Combine(Options.Cni.CacheDirectory, "locks");
        _logger = Options.Cni.LoggerFactory is { } factory ? factory.CreateLogger<SandboxManager>() : NullLogger.Instance;
        _ports = ports ?? new PortMapper(new PortMapperOptions
        {
            StateDirectory = Path.Combine(Options.Cni.CacheDirectory, "portmap"),
            Backend = Options.PortBackend,
            TimeProvider = Options.Cni.TimeProvider,
        });
    }

    /// <summary>The options in force.</summary>
    public SandboxManagerOptions Options { get; }

    /// <summary>
    /// Sets up a sandbox: allocates the ID and namespace when not given, records the plan, then attaches the
    /// loopback (if asked) and every network in order. If one fails, the attachments already made are removed, a
    /// namespace created here is deleted, and the error is thrown (with the cleanup's errors, if any).
    /// </summary>
    /// <exception cref="CniException">The request is invalid, a network is missing or broken, or a plugin failed.</exception>
    public Task<Sandbox> SetupAsync(SandboxRequest request, CancellationToken cancellationToken = default)
    {
        var id = request?.Id ?? ContainerIds.New();
        return ObserveAsync("setup", id, () => SetupCoreAsync(request!, id, cancellationToken));
    }

    private async Task<Sandbox> SetupCoreAsync(SandboxRequest request, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        CniNames.ValidateContainerId(id);
        if (request.Name is not null && !CniNames.IsValidIdentifier(request.Name))
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"invalid sandbox name \"{request.Name}\": must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
        }

        // Everything that can be checked is checked before anything is created.
        var labels = SandboxLabels(id, request);
        var (plan, runtimePorts) = await PlanAsync(request, labels, cancellationToken).ConfigureAwait(false);
        using var shared = await LockAsync("gc", cancellationToken, shared: true).ConfigureAwait(false);
        using var sandboxLock = await LockAsync("sandbox-" + id, cancellationToken).ConfigureAwait(false);
        using var nameLock = request.Name is null ? null : await LockAsync("sandbox-name-" + request.Name, cancellationToken).ConfigureAwait(false);

        // The name's lock only guards this check-and-record; the record then holds the name.
        nameLock?.RemoveOnRelease();
        if (await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"sandbox {id} already exists");
        }

        if (request.Name is not null && await FindByNameAsync(request.Name, cancellationToken).ConfigureAwait(false) is { } holder)
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"sandbox name \"{request.Name}\" is already used by sandbox {holder.Id}");
        }

        var ownsNamespace = request.NetworkNamespace is null;
        var namespaceNames = NamespaceNamesFor(id);
        var netns = ownsNamespace ? _namespaces.GetPath(namespaceNames[0]) : GivenNamespace(request.NetworkNamespace!);
        var state = new SandboxState
        {
            Id = id,
            Name = request.Name,
            NetworkNamespace = netns,
            OwnsNetworkNamespace = ownsNamespace,
            Created = Options.Cni.TimeProvider.GetUtcNow(),
            Labels = labels,
            Networks = [.. plan.Select(p => (p.List.Name, p.InterfaceName))],
            PortMappings = request.Capabilities.PortMappings,
            Phase = SandboxPhase.Setup,
        };

        // The plan is on disk before anything is created, the namespace included: a crash from here on leaves a
        // record that names everything to clean up (RecoverAsync).
        await _store.WriteAsync(state, cancellationToken).ConfigureAwait(false);
        if (ownsNamespace)
        {
            try
            {
                netns = await CreateNamespaceAsync(namespaceNames, state, cancellationToken).ConfigureAwait(false);
                state = state with { NetworkNamespace = netns };
            }
            catch (Exception ex) when (ex is CniException or OperationCanceledException)
            {
                // Nothing was created (a namespace of that name that exists already is not ours to delete).
                _store.Delete(id);
                sandboxLock.RemoveOnRelease();
                throw;
            }
        }

        var attached = new List<(PlannedAttachment Plan, CniResult Result)>();
        PortPublication? publication = null;
        try
        {
            foreach (var step in plan)
            {
                var result = await _client.AddNetworkListAsync(step.List, step.Runtime(id, netns), cancellationToken).ConfigureAwait(false);
                attached.Add((step, result));
            }

            // Ports go to the container's addresses on its first network that has any, once every network is up.
            if (runtimePorts)
            {
                var addresses = attached
                    .Where(a => a.Plan.InterfaceName != LoopbackInterface)
                    .Select(a => InterfacesOf(new SandboxAttachment(a.Plan.List.Name, a.Plan.InterfaceName, a.Result)).SelectMany(i => i.Addresses).Select(x => x.Address).ToList())
                    .FirstOrDefault(list => list.Count > 0)
                    ?? throw new CniException(CniErrorCode.InvalidNetworkConfig, $"sandbox {id} has no address to publish ports to");
                publication = await _ports.PublishAsync(id, request.Capabilities.PortMappings, addresses, cancellationToken).ConfigureAwait(false);
            }

            // Until this is on disk, recovery undoes the setup; if it cannot be written, the setup is undone now.
            state = state with { Phase = SandboxPhase.Ready };
            await _store.WriteAsync(state, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CniException or OperationCanceledException)
        {
            var cleanup = new List<Exception>();
            if (publication is not null)
            {
                await TryAsync(() => _ports.UnpublishAsync(id, CancellationToken.None), cleanup).ConfigureAwait(false);
            }

            for (var i = attached.Count - 1; i >= 0; i--)
            {
                try
                {
                    // The caller's cancellation must not cut the cleanup short; each plugin call has its own timeout.
                    await _client.DeleteNetworkListAsync(attached[i].Plan.List, attached[i].Plan.Runtime(id, netns), CancellationToken.None).ConfigureAwait(false);
                }
                catch (CniException deleteError)
                {
                    cleanup.Add(deleteError);
                }
            }

            if (cleanup.Count == 0)
            {
                if (ownsNamespace)
                {
                    await TryAsync(() => _namespaces.DeleteAsync(netns, CancellationToken.None), cleanup).ConfigureAwait(false);
                }

                _store.Delete(id);
                sandboxLock.RemoveOnRelease();
            }

            if (cleanup.Count > 0)
            {
                throw new CniAggregateException(
                    $"setup of sandbox {id} failed and its cleanup failed too; teardown of the sandbox will retry it",
                    [ex, .. cleanup]);
            }

            throw;
        }

        return Build(state, [.. attached.Select(a => new SandboxAttachment(a.Plan.List.Name, a.Plan.InterfaceName, a.Result))], publication);
    }

    /// <summary>
    /// Tears a sandbox down: DEL of every recorded attachment in reverse order, with the configuration and arguments
    /// ADD used, then the namespace (if CniRuntime created it) and the record. Every attachment is attempted even if
    /// one fails; then all failures are thrown together and the record is kept, so a retry has what it needs.
    /// </summary>
    /// <returns>False when no such sandbox exists (teardown is idempotent).</returns>
    /// <exception cref="CniAggregateException">One or more attachments could not be removed.</exception>
    public Task<bool> TeardownAsync(string idOrName, CancellationToken cancellationToken = default) =>
        ObserveAsync("teardown", idOrName, () => TeardownCoreAsync(idOrName, cancellationToken));

    private async Task<bool> TeardownCoreAsync(string idOrName, CancellationToken cancellationToken)
    {
        using var shared = await LockAsync("gc", cancellationToken, shared: true).ConfigureAwait(false);
        var id = await ResolveAsync(idOrName, cancellationToken).ConfigureAwait(false);
        return id is not null && await TeardownLockedAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finds a sandbox by ID, unique ID prefix or name.</summary>
    /// <returns>The sandbox, or null when none matches.</returns>
    /// <exception cref="CniException">The prefix matches several sandboxes.</exception>
    public async Task<Sandbox?> FindAsync(string idOrName, CancellationToken cancellationToken = default)
    {
        var id = await ResolveAsync(idOrName, cancellationToken).ConfigureAwait(false);
        return id is null ? null : await LoadAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every sandbox with a record, in ID order.</summary>
    public async Task<IReadOnlyList<Sandbox>> ListAsync(CancellationToken cancellationToken = default)
    {
        var sandboxes = new List<Sandbox>();
        foreach (var id in _store.ListIds())
        {
            if (await LoadAsync(id, cancellationToken).ConfigureAwait(false) is { } sandbox)
            {
                sandboxes.Add(sandbox);
            }
        }

        return sandboxes;
    }

    /// <summary>Runs CHECK on every attachment of a sandbox with the configuration ADD used; reports every failure.</summary>
    /// <exception cref="CniException">No such sandbox (code 3), or CHECK failed.</exception>
    public Task CheckAsync(string idOrName, CancellationToken cancellationToken = default) =>
        ObserveAsync("check", idOrName, async () =>
        {
            await CheckCoreAsync(idOrName, cancellationToken).ConfigureAwait(false);
            return true;
        });

    private async Task CheckCoreAsync(string idOrName, CancellationToken cancellationToken)
    {
        var id = await ResolveAsync(idOrName, cancellationToken).ConfigureAwait(false)
            ?? throw new CniException(CniErrorCode.UnknownContainer, $"no sandbox \"{idOrName}\"");
        using var sandboxLock = await LockAsync("sandbox-" + id, cancellationToken).ConfigureAwait(false);
        var errors = new List<Exception>();
        foreach (var attachment in await _client.GetCachedAttachmentsAsync(id, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var list = await ConfigOfAsync(attachment, cancellationToken).ConfigureAwait(false);
                await _client.CheckNetworkListAsync(list, RuntimeConfig.FromAttachment(attachment), cancellationToken).ConfigureAwait(false);
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }
        }

        if (errors.Count > 0)
        {
            throw new CniAggregateException($"check of sandbox {id} failed", errors);
        }
    }

    /// <summary>
    /// Whether sandboxes can be set up on the given networks (the default network when none are given): the
    /// configuration loads, every plugin is found and supports its version, and STATUS passes (1.1.0 lists).
    /// </summary>
    public Task<SandboxReadiness> GetReadinessAsync(IEnumerable<string>? networks = null, CancellationToken cancellationToken = default) =>
        ObserveAsync("readiness", null, () => GetReadinessCoreAsync(networks, cancellationToken));

    private async Task<SandboxReadiness> GetReadinessCoreAsync(IEnumerable<string>? networks, CancellationToken cancellationToken)
    {
        var names = networks?.ToList() ?? [];
        if (names.Count == 0)
        {
            var defaultNetwork = await _configs.GetDefaultNetworkAsync(cancellationToken).ConfigureAwait(false);
            if (defaultNetwork is null)
            {
                return new SandboxReadiness([new NetworkReadiness("(default)", "no network configuration found")]);
            }

            names.Add(defaultNetwork.Name);
        }

        var results = new List<NetworkReadiness>();
        foreach (var name in names)
        {
            try
            {
                var list = await _configs.GetNetworkAsync(name, cancellationToken).ConfigureAwait(false);
                await _client.ValidateNetworkListAsync(list, cancellationToken).ConfigureAwait(false);
                await _client.GetStatusNetworkListAsync(list, cancellationToken).ConfigureAwait(false);
                results.Add(new NetworkReadiness(name, null));
            }
            catch (CniException ex)
            {
                results.Add(new NetworkReadiness(name, ex.Message));
            }
        }

        return new SandboxReadiness(results);
    }

    /// <summary>
    /// Removes everything that does not belong to the sandboxes in <paramref name="keep"/>: their records, cached
    /// attachments and namespaces created here (also namespaces with <see cref="SandboxManagerOptions.NamespacePrefix"/>
    /// that no record explains); then sends GC (1.1.0 lists) to every network's plugins with the attachments still
    /// in use. Excludes setup and teardown while it runs. Every failure is reported.
    /// </summary>
    /// <returns>The IDs of the sandboxes removed.</returns>
    /// <exception cref="CniAggregateException">Something could not be removed.</exception>
    public Task<IReadOnlyList<string>> GcAsync(IEnumerable<string> keep, CancellationToken cancellationToken = default) =>
        ObserveAsync("gc", null, () => GcCoreAsync(keep, cancellationToken));

    private async Task<IReadOnlyList<string>> GcCoreAsync(IEnumerable<string> keep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keep);
        var kept = keep.ToHashSet(StringComparer.Ordinal);
        using var exclusive = await LockAsync("gc", cancellationToken).ConfigureAwait(false);
        var attachments = await _client.GetCachedAttachmentsAsync(null, cancellationToken).ConfigureAwait(false);
        var stale = _store.ListIds().Concat(attachments.Select(a => a.ContainerId)).Where(id => !kept.Contains(id)).Distinct(StringComparer.Ordinal).ToList();
        var errors = new List<Exception>();
        var removed = new List<string>();
        foreach (var id in stale)
        {
            try
            {
                if (await TeardownLockedAsync(id, cancellationToken).ConfigureAwait(false))
                {
                    removed.Add(id);
                }
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }
        }

        // Namespaces with our prefix that no kept sandbox uses: left by a setup that crashed before its record, or
        // by a teardown whose record went but namespace deletion failed.
        var keptNamespaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in kept)
        {
            if (await ReadStateOrNullAsync(id, cancellationToken).ConfigureAwait(false) is { } state)
            {
                keptNamespaces.Add(_namespaces.GetPath(state.NetworkNamespace));
            }
        }

        foreach (var name in _namespaces.List().Where(n => n.StartsWith(Options.NamespacePrefix, StringComparison.Ordinal)))
        {
            if (!keptNamespaces.Contains(_namespaces.GetPath(name)))
            {
                await TryAsync(() => _namespaces.DeleteAsync(name, cancellationToken), errors).ConfigureAwait(false);
            }
        }

        await TryAsync(() => ReconcilePortsAsync(kept, cancellationToken), errors).ConfigureAwait(false);

        var valid = attachments.Where(a => kept.Contains(a.ContainerId)).ToList();
        IReadOnlyList<NetworkConfigList> networks = [];
        try
        {
            networks = await _configs.GetNetworksAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CniException ex)
        {
            errors.Add(ex);
        }

        foreach (var list in networks.Where(n => !n.DisableGC && CniVersion.TryParse(n.CniVersion, out var v) && v >= CniVersion.V110))
        {
            var inUse = valid.Where(a => a.NetworkName == list.Name).Select(a => new GcAttachment(a.ContainerId, a.InterfaceName)).ToList();
            await TryAsync(() => _client.GcNetworkListAsync(list, new GcArgs(inUse), cancellationToken), errors).ConfigureAwait(false);
        }

        return errors.Count > 0 ? throw new CniAggregateException("sandbox GC failed", errors) : removed;
    }

    /// <summary>
    /// Finishes what a runtime killed in the middle of an operation left behind; run it when the runtime starts.
    /// Sandboxes whose setup or teardown did not complete are torn down (an interrupted setup is undone, since
    /// its caller is gone), with the namespaces they created (the record names a namespace before it is made),
    /// ADDs of no sandbox that did not complete are undone (<see cref="CniClient.RecoverAsync"/>), and the port
    /// mappings of the remaining sandboxes are restored in the kernel while those of others are dropped. Sandboxes
    /// that are ready are left alone, and so is every namespace no record names. Excludes setup and teardown while
    /// it runs.
    /// </summary>
    /// <returns>The IDs of the sandboxes removed.</returns>
    /// <exception cref="CniAggregateException">Something could not be recovered; what could was.</exception>
    public Task<IReadOnlyList<string>> RecoverAsync(CancellationToken cancellationToken = default) =>
        ObserveAsync("recover", null, () => RecoverCoreAsync(cancellationToken));

    private async Task<IReadOnlyList<string>> RecoverCoreAsync(CancellationToken cancellationToken)
    {
        using var exclusive = await LockAsync("gc", cancellationToken).ConfigureAwait(false);
        var errors = new List<Exception>();
        var removed = new List<string>();
        var ready = new List<SandboxState>();
        foreach (var id in _store.ListIds())
        {
            SandboxState? state = null;
            try
            {
                state = await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
            }
            catch (CniCacheException)
            {
                // An unreadable record (a crash before fsync on an old kernel, a disk error): torn down from the cache.
            }

            if (state is { Phase: SandboxPhase.Ready })
            {
                ready.Add(state);
                continue;
            }

            try
            {
                if (await TeardownLockedAsync(id, cancellationToken).ConfigureAwait(false))
                {
                    removed.Add(id);
                }
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }
        }

        await TryAsync(() => _client.RecoverAsync(cancellationToken), errors).ConfigureAwait(false);
        await TryAsync(() => ReconcilePortsAsync(ready.Select(s => s.Id), cancellationToken), errors).ConfigureAwait(false);
        return errors.Count > 0 ? throw new CniAggregateException("sandbox recovery failed", errors) : removed;
    }

    // Port mappings: drop those of sandboxes not kept and restore the kept ones in the kernel (after a firewall
    // reload or `nft flush ruleset`); nothing to do, and no nft run, when nothing is published.
    private async Task ReconcilePortsAsync(IEnumerable<string> kept, CancellationToken cancellationToken)
    {
        if ((await _ports.ListAsync(cancellationToken).ConfigureAwait(false)).Count > 0)
        {
            await _ports.ReconcileAsync(kept, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> TeardownLockedAsync(string id, CancellationToken cancellationToken)
    {
        using var sandboxLock = await LockAsync("sandbox-" + id, cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        var cached = await _client.GetCachedAttachmentsAsync(id, cancellationToken).ConfigureAwait(false);
        if (state is null && cached.Count == 0)
        {
            return false;
        }

        // Reverse setup order; attachments the record does not know (made by a crashed setup or another tool) last.
        var order = (state?.Networks ?? []).Reverse().ToList();
        var ordered = order
            .Select(n => cached.FirstOrDefault(a => a.NetworkName == n.Network && a.InterfaceName == n.InterfaceName))
            .OfType<NetworkAttachment>()
            .Concat(cached.Where(a => !order.Contains((a.NetworkName, a.InterfaceName))))
            .ToList();
        var netns = state?.NetworkNamespace;
        var errors = new List<Exception>();
        if (state is { Phase: not SandboxPhase.Teardown })
        {
            // From here on, recovery finishes the teardown if this process dies.
            await _store.WriteAsync(state with { Phase = SandboxPhase.Teardown }, cancellationToken).ConfigureAwait(false);
        }

        // Ports go before the networks they point into.
        await TryAsync(() => _ports.UnpublishAsync(id, cancellationToken), errors).ConfigureAwait(false);
        foreach (var attachment in ordered)
        {
            // A namespace that is gone is not passed: the specification allows DEL without one, and plugins clean
            // up the host side only.
            var path = attachment.NetworkNamespace ?? netns;
            var live = path is not null && _namespaces.Exists(path) ? path : null;
            try
            {
                var list = await ConfigOfAsync(attachment, cancellationToken).ConfigureAwait(false);
                await _client.DeleteNetworkListAsync(list, RuntimeConfig.FromAttachment(attachment) with { NetworkNamespace = live }, cancellationToken).ConfigureAwait(false);
            }
            catch (CniException ex)
            {
                errors.Add(ex);
            }
        }

        if (errors.Count > 0)
        {
            throw new CniAggregateException($"teardown of sandbox {id} failed; its record is kept so teardown can be retried", errors);
        }

        if (state is { OwnsNetworkNamespace: true })
        {
            await _namespaces.DeleteAsync(state.NetworkNamespace, cancellationToken).ConfigureAwait(false);
        }

        _store.Delete(id);
        sandboxLock.RemoveOnRelease();
        return true;
    }

    private async Task<(List<PlannedAttachment> Plan, bool RuntimePorts)> PlanAsync(SandboxRequest request, Dictionary<string, string> sandboxLabels, CancellationToken cancellationToken)
    {
        var plan = new List<PlannedAttachment>();
        var baseArgs = request.Capabilities;
        _ = baseArgs.ToJson(); // validates the mappings and the rest before anything is created
        if (request.AttachLoopback)
        {
            plan.Add(new PlannedAttachment(LoopbackNetwork, LoopbackInterface, Labels(sandboxLabels, null), baseArgs.ToJson()));
        }

        IReadOnlyList<SandboxNetworkRequest> networks = request.Networks;
        if (networks.Count == 0)
        {
            var defaultNetwork = await _configs.GetDefaultNetworkAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new CniConfigNotFoundException(Options.ConfigDirectory, null);
            networks = [new SandboxNetworkRequest(defaultNetwork.Name)];
        }

        for (var i = 0; i < networks.Count; i++)
        {
            var network = networks[i];
            var interfaceName = network.InterfaceName ?? $"eth{i}";
            CniNames.ValidateInterfaceName(interfaceName);
            if (plan.Any(p => p.InterfaceName == interfaceName))
            {
                throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"interface name \"{interfaceName}\" is used twice in the sandbox");
            }

            var list = await _configs.GetNetworkAsync(network.Name, cancellationToken).ConfigureAwait(false);
            var labels = Labels(sandboxLabels, network.Labels);
            plan.Add(new PlannedAttachment(list, interfaceName, labels, baseArgs.MergedWith(network.Capabilities).ToJson()));
        }

        var perNetworkPorts = networks.FirstOrDefault(n => n.Capabilities is { PortMappings.Count: > 0 });
        if (request.Capabilities.PortMappings.Count == 0 && perNetworkPorts is null)
        {
            return (plan, false);
        }

        var pluginsPublish = plan.Any(p => p.List.Plugins.Any(plugin => plugin.Capabilities.TryGetValue("portMappings", out var enabled) && enabled));
        var runtimePorts = Options.PortMapping switch
        {
            PortMappingMode.Runtime => true,
            PortMappingMode.Plugin => false,
            _ => !pluginsPublish,
        };
        if (runtimePorts && perNetworkPorts is not null)
        {
            // The runtime publishes one set of ports to the sandbox's first addresses; a per-network set would be lost.
            throw new CniException(
                CniErrorCode.InvalidNetworkConfig,
                $"port mappings of network \"{perNetworkPorts.Name}\" cannot be published: per-network portMappings go only to plugins that declare them (PortMappingMode.Plugin, or a portmap plugin in that network); give them for the whole sandbox instead");
        }

        if (runtimePorts)
        {
            // Never both: plugins do not see the mappings the runtime publishes.
            plan = [.. plan.Select(p => p with { CapabilityArgs = p.CapabilityArgs.Where(a => a.Key != "portMappings").ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal) })];
        }

        return (plan, runtimePorts);
    }

    // The sandbox's own labels: ocicni's pod keys (in its order) when a pod is given, then the runtime's labels,
    // which win over a pod key of the same name.
    private static Dictionary<string, string> SandboxLabels(string id, SandboxRequest request)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (request.Pod is { } pod)
        {
            labels["K8S_POD_NAMESPACE"] = pod.Namespace;
            labels["K8S_POD_NAME"] = pod.Name;
            labels["K8S_POD_INFRA_CONTAINER_ID"] = id;
            if (pod.Uid is not null)
            {
                labels["K8S_POD_UID"] = pod.Uid;
            }
        }

        foreach (var (key, value) in request.Labels)
        {
            labels[key] = value;
        }

        return labels;
    }

    // ocicni's convention: IgnoreUnknown=1 first so plugins that do not know a key ignore it. A key keeps the
    // position it was first given at; a later value replaces its value.
    private static List<KeyValuePair<string, string>> Labels(IReadOnlyDictionary<string, string> sandbox, IReadOnlyDictionary<string, string>? network)
    {
        var merged = new Dictionary<string, string>(sandbox, StringComparer.Ordinal);
        foreach (var (key, value) in network ?? new Dictionary<string, string>())
        {
            merged[key] = value;
        }

        var args = new List<KeyValuePair<string, string>>();
        if (!merged.ContainsKey("IgnoreUnknown"))
        {
            args.Add(new("IgnoreUnknown", "1"));
        }

        args.AddRange(merged);
        _ = CniRuntime.Invocation.CniArgs.Format(args);
        return args;
    }

    // The names tried for a namespace CniRuntime creates: the short form (prefix and the ID's first 12 characters,
    // like `docker ps`) and, for a runtime's IDs that share those 12 characters, the whole ID.
    private List<string> NamespaceNamesFor(string id)
    {
        var names = new List<string> { Options.NamespacePrefix + id[..Math.Min(12, id.Length)] };
        if (id.Length > 12 && Options.NamespacePrefix.Length + id.Length <= 255)
        {
            names.Add(Options.NamespacePrefix + id);
        }

        return names;
    }

    private async Task<string> CreateNamespaceAsync(List<string> names, SandboxState state, CancellationToken cancellationToken)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                return await _namespaces.CreateAsync(names[i], cancellationToken).ConfigureAwait(false);
            }
            catch (NetworkNamespaceException ex) when (ex.Error == NetworkNamespaceError.AlreadyExists && i + 1 < names.Count)
            {
                // Another sandbox's (or somebody's) namespace holds the short name. The record must name the
                // namespace before it is made, so that a crash from here on still finds it.
                await _store.WriteAsync(state with { NetworkNamespace = _namespaces.GetPath(names[i + 1]) }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // A namespace the runtime gives: a name under /run/netns or a path, which must be a network namespace now,
    // before any plugin is asked to join it.
    private string GivenNamespace(string nameOrPath)
    {
        var path = _namespaces.GetPath(nameOrPath);
        if (!_namespaces.Exists(path))
        {
            throw File.Exists(path)
                ? new NetworkNamespaceException(NetworkNamespaceError.NotNetworkNamespace, path, $"the sandbox's network namespace {path} is not a network namespace")
                : new NetworkNamespaceException(NetworkNamespaceError.NotFound, path, $"the sandbox's network namespace {path} does not exist");
        }

        return path;
    }

    private async Task<NetworkConfigList> ConfigOfAsync(NetworkAttachment attachment, CancellationToken cancellationToken)
    {
        // What ADD used, as cached; the current configuration only for legacy cache files that lack it.
        if (!attachment.Config.IsEmpty)
        {
            try
            {
                return NetworkConfigList.Parse(attachment.Config.Span, $"cached configuration of {attachment.NetworkName}");
            }
            catch (CniConfigException) when (attachment.NetworkName == LoopbackNetwork.Name)
            {
                return LoopbackNetwork;
            }
        }

        return attachment.NetworkName == LoopbackNetwork.Name
            ? LoopbackNetwork
            : await _configs.GetNetworkAsync(attachment.NetworkName, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> ResolveAsync(string idOrName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(idOrName);
        var ids = _store.ListIds();
        if (ids.Contains(idOrName, StringComparer.Ordinal))
        {
            return idOrName;
        }

        if (await FindByNameAsync(idOrName, cancellationToken).ConfigureAwait(false) is { } named)
        {
            return named.Id;
        }

        var cachedIds = (await _client.GetCachedAttachmentsAsync(null, cancellationToken).ConfigureAwait(false)).Select(a => a.ContainerId);
        return ContainerIds.ResolvePrefix(idOrName, ids.Concat(cachedIds));
    }

    private async Task<SandboxState?> ReadStateOrNullAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            return await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (CniCacheException)
        {
            return null;
        }
    }

    private async Task<SandboxState?> FindByNameAsync(string name, CancellationToken cancellationToken)
    {
        foreach (var id in _store.ListIds())
        {
            try
            {
                if (await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false) is { } state && state.Name == name)
                {
                    return state;
                }
            }
            catch (CniCacheException)
            {
            }
        }

        return null;
    }

    private async Task<Sandbox?> LoadAsync(string id, CancellationToken cancellationToken)
    {
        var state = await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        var cached = await _client.GetCachedAttachmentsAsync(id, cancellationToken).ConfigureAwait(false);
        if (state is null && cached.Count == 0)
        {
            return null;
        }

        state ??= new SandboxState
        {
            Id = id,
            NetworkNamespace = cached.Select(a => a.NetworkNamespace).FirstOrDefault(n => n is not null) ?? string.Empty,
            Networks = [.. cached.Select(a => (a.NetworkName, a.InterfaceName))],
        };
        var attachments = state.Networks
            .Select(n => (n, cached.FirstOrDefault(a => a.NetworkName == n.Network && a.InterfaceName == n.InterfaceName)))
            .Where(x => x.Item2 is not null)
            .Select(x => new SandboxAttachment(x.n.Network, x.n.InterfaceName, ResultOf(x.Item2!)))
            .ToList();
        var publication = (await _ports.ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(p => p.SandboxId == id);
        return Build(state, attachments, publication);
    }

    private static CniResult? ResultOf(NetworkAttachment attachment)
    {
        try
        {
            return attachment.ParseResult();
        }
        catch (CniException)
        {
            return null;
        }
    }

    private static Sandbox Build(SandboxState state, IReadOnlyList<SandboxAttachment> attachments, PortPublication? publication) => new()
    {
        PortMappings = state.PortMappings,
        PublishedPorts = publication?.Ports ?? [],
        Id = state.Id,
        Name = state.Name,
        NetworkNamespace = state.NetworkNamespace,
        OwnsNetworkNamespace = state.OwnsNetworkNamespace,
        Created = state.Created,
        Labels = state.Labels,
        Attachments = attachments,
        Interfaces = [.. attachments.SelectMany(InterfacesOf)],
    };

    /// <summary>The interfaces an attachment put in the sandbox (those with a <c>sandbox</c> path), with their addresses.</summary>
    internal static IEnumerable<SandboxInterface> InterfacesOf(SandboxAttachment attachment)
    {
        if (attachment.Result is not { } result)
        {
            yield break;
        }

        var inside = Enumerable.Range(0, result.Interfaces.Length).Where(i => !string.IsNullOrEmpty(result.Interfaces[i].Sandbox)).ToList();
        var named = result.Interfaces.Select((iface, index) => (iface, index)).Where(x => x.iface.Name == attachment.InterfaceName).Select(x => (int?)x.index).FirstOrDefault();
        SandboxAddress Address(CniIpConfig ip, string interfaceName) => new(ip.Address, ip.Gateway, interfaceName, attachment.NetworkName);

        foreach (var index in inside)
        {
            var iface = result.Interfaces[index];
            var addresses = result.Ips
                .Where(ip => ip.Interface == index || (ip.Interface is null && named == index))
                .Select(ip => Address(ip, iface.Name))
                .ToList();
            yield return new SandboxInterface(iface.Name, attachment.NetworkName, iface.Mac, iface.Sandbox, addresses);
        }

        // Results without interfaces (0.2.0, or plugins that do not report them): the addresses are on the attachment's interface.
        var unattributed = result.Ips.Where(ip => ip.Interface is not { } i || i < 0 || i >= result.Interfaces.Length || !inside.Contains(i)).ToList();
        if (inside.Count == 0 && unattributed.Count > 0)
        {
            yield return new SandboxInterface(attachment.InterfaceName, attachment.NetworkName, null, null, [.. unattributed.Select(ip => Address(ip, attachment.InterfaceName))]);
        }
    }

    // A span, a count and a duration per sandbox operation, and a log line; the CNI operations and plugin
    // executions it makes are its children in the trace.
    private async Task<T> ObserveAsync<T>(string operation, string? sandbox, Func<Task<T>> body)
    {
        using var activity = CniTelemetry.Source.StartActivity($"sandbox {operation}");
        activity?.SetTag(CniTelemetry.SandboxOperationTag, operation);
        if (sandbox is not null)
        {
            activity?.SetTag(CniTelemetry.ContainerIdTag, sandbox);
        }

        var started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            var tags = new TagList
            {
                { CniTelemetry.SandboxOperationTag, operation },
                { CniTelemetry.OutcomeTag, CniTelemetry.Outcome(failure) },
            };
            CniTelemetry.SandboxOperations.Add(1, tags);
            CniTelemetry.SandboxOperationDuration.Record(elapsed.TotalSeconds, tags);
            if (failure is null)
            {
                SandboxLog.OperationDone(_logger, operation, sandbox, elapsed.TotalMilliseconds);
            }
            else if (failure is not OperationCanceledException)
            {
                SandboxLog.OperationFailed(_logger, operation, sandbox, failure);
            }
        }
    }

    private Task<FileLock> LockAsync(string name, CancellationToken cancellationToken, bool shared = false) =>
        FileLock.AcquireAsync(Path.Combine(_locks, name), Options.Cni.TimeProvider, cancellationToken, shared);

    private static async Task TryAsync(Func<Task> action, List<Exception> errors)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (CniException ex)
        {
            errors.Add(ex);
        }
    }

    private sealed record PlannedAttachment(NetworkConfigList List, string InterfaceName, IReadOnlyList<KeyValuePair<string, string>> Args, IReadOnlyDictionary<string, JsonElement> CapabilityArgs)
    {
        public RuntimeConfig Runtime(string id, string netns) => new()
        {
            ContainerId = id,
            NetworkNamespace = netns,
            InterfaceName = InterfaceName,
            Args = Args,
            CapabilityArgs = CapabilityArgs,
        };
    }
}
