using System.Net;
using CniRuntime.Caching;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Publishes container ports in the kernel through nftables or iptables (<see cref="PortMapperOptions.Backend"/>).
/// The state files in <see cref="PortMapperOptions.StateDirectory"/> are the truth: conflicts are checked against
/// them, every change is written there before the kernel is touched, and <see cref="ReconcileAsync"/> rebuilds the
/// kernel from them. Each operation is one kernel transaction per address family. Cancellation stops waits (for the
/// lock, for a probe); a kernel transaction once started runs to its end, so state and kernel never part.
/// </summary>
/// <remarks>
/// A publication remembers its backend, so that changing <see cref="PortMapperOptions.Backend"/> never strands
/// rules: unpublishing removes them where they were made, and reconcile moves every live publication over.
/// </remarks>
#pragma warning disable CA1001 // the SemaphoreSlim holds no kernel object without AvailableWaitHandle
public sealed class PortMapper : IPortMapper
#pragma warning restore CA1001
{
    private readonly PortMapperOptions _options;
    private readonly PortStateStore _store;
    // Never disposed: without AvailableWaitHandle a SemaphoreSlim holds no kernel object.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<PortMappingBackend, IPortMappingBackend> _probed = [];
    private IPortMappingBackend? _current;

    /// <summary>Creates a mapper; nothing touches the kernel until the first operation (which probes the backend).</summary>
    /// <param name="options">The settings.</param>
    /// <exception cref="ArgumentException">The state directory is empty or the table name is not 1-12 lower-case letters, digits or '_'.</exception>
    public PortMapper(PortMapperOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.StateDirectory);
        if (options.TableName is not { Length: >= 1 and <= 12 } name || !char.IsAsciiLetterLower(name[0])
            || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            throw new ArgumentException($"port mapping table name \"{options.TableName}\" must be 1-12 lower-case letters, digits or '_', starting with a letter", nameof(options));
        }

        _options = options;
        _store = new PortStateStore(options.StateDirectory);
    }

    /// <inheritdoc/>
    public async Task<PortPublication> PublishAsync(string sandboxId, IReadOnlyList<PortMapping> mappings, IReadOnlyList<IpPrefix> containerAddresses, CancellationToken cancellationToken)
    {
        PortPlan.ValidateSandboxId(sandboxId);
        var ports = PortPlan.Expand(sandboxId, mappings, containerAddresses, _options.AllowLocalhost);
        if (ports.Count > _options.MaxPortsPerSandbox)
        {
            throw new CniException(CniErrorCode.InvalidNetworkConfig, $"sandbox {sandboxId} asks for {ports.Count} published ports, more than the limit of {_options.MaxPortsPerSandbox}");
        }

        if (ports.Count == 0)
        {
            await UnpublishAsync(sandboxId, cancellationToken).ConfigureAwait(false);
            return new PortPublication(sandboxId, mappings, containerAddresses, [], _current?.Kind ?? PortMappingBackend.Nftables);
        }

        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        var backend = await CurrentBackendAsync(cancellationToken).ConfigureAwait(false);
        var all = _store.LoadAll();
        if (_store.Quarantined.Count > 0)
        {
            // A state file was damaged: whatever it described must not linger in the kernel and shadow new ports.
            _store.Quarantined.Clear();
            await backend.SyncAsync([.. all.Values.Where(p => p.Backend == backend.Kind)], CancellationToken.None).ConfigureAwait(false);
        }

        all.Remove(sandboxId, out var previous);

        // Reservation: the store indexes every forward by (family, protocol, port).
        foreach (var p in ports)
        {
            if (_store.Holders(p, except: sandboxId).FirstOrDefault(h => PortPlan.Conflicts(p, h.Port)) is { Owner: not null } holder)
            {
                throw new CniException(
                    CniErrorCode.InvalidNetworkConfig,
                    $"cannot publish {PortPlan.Key(p)} for sandbox {sandboxId}: sandbox {holder.Owner} holds {PortPlan.Key(holder.Port)}");
            }
        }

        if (_options.ProbeHostListeners)
        {
            var known = previous?.Ports.ToHashSet() ?? [];
            HostPortProbe.Check(sandboxId, ports.Where(p => !known.Contains(p)));
        }

        var publication = new PortPublication(sandboxId, mappings, containerAddresses, ports, backend.Kind);
        var hairpins = _store.HairpinsOf(publication);
        PortChange? elsewhere = null;
        if (previous is not null && previous.Backend != backend.Kind)
        {
            // Published by the other backend before the setting changed: remove it there, then add it here.
            elsewhere = Removal(previous, all);
            previous = null;
        }

        var before = previous is null ? [] : _store.HairpinsOf(previous);
        var change = new PortChange(
            sandboxId,
            previous,
            publication,
            [.. hairpins.Where(h => !before.Contains(h) && !_store.HairpinUsed(h, backend.Kind, except: sandboxId))],
            [.. before.Where(h => !hairpins.Contains(h) && !_store.HairpinUsed(h, backend.Kind, except: sandboxId))],
            () => [.. all.Values.Where(p => p.Backend == backend.Kind), publication]);

        // State first: a crash after this and before the commit is repaired by ReconcileAsync.
        var restore = previous ?? (elsewhere?.Previous);
        await _store.WriteAsync(publication, cancellationToken).ConfigureAwait(false);
        try
        {
            if (elsewhere is not null)
            {
                await (await BackendAsync(elsewhere.Previous!.Backend, cancellationToken).ConfigureAwait(false)).ApplyAsync(elsewhere, CancellationToken.None).ConfigureAwait(false);
            }

            await backend.ApplyAsync(change, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            if (restore is not null)
            {
                await _store.WriteAsync(restore, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                _store.Delete(sandboxId);
            }

            throw;
        }

        if (_options.AllowLocalhost)
        {
            RouteLocalnet.Enable(ports.Where(p => !p.IsIPv6 && (p.HostAddress is null || IPAddress.IsLoopback(p.HostAddress))).Select(p => p.ContainerAddress));
        }

        await Conntrack.RunAsync(_options.ConntrackPath, Conntrack.AfterPublish(ports), _options.CommandTimeout).ConfigureAwait(false);
        return publication;
    }

    /// <inheritdoc/>
    public async Task<bool> UnpublishAsync(string sandboxId, CancellationToken cancellationToken)
    {
        PortPlan.ValidateSandboxId(sandboxId);
        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        var all = _store.LoadAll();
        if (!all.TryGetValue(sandboxId, out var previous))
        {
            return false;
        }

        // Where it was published, whatever the backend setting says now.
        var backend = await BackendAsync(previous.Backend, cancellationToken).ConfigureAwait(false);
        await backend.ApplyAsync(Removal(previous, all), CancellationToken.None).ConfigureAwait(false);
        _store.Delete(sandboxId);
        await Conntrack.RunAsync(_options.ConntrackPath, Conntrack.AfterUnpublish(previous.Ports), _options.CommandTimeout).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<PortPublication>> ListAsync(CancellationToken cancellationToken)
    {
        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        return [.. _store.LoadAll().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value)];
    }

    /// <inheritdoc/>
    public async Task ReconcileAsync(IEnumerable<string> liveSandboxIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(liveSandboxIds);
        var live = liveSandboxIds.ToHashSet(StringComparer.Ordinal);
        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        var backend = await CurrentBackendAsync(cancellationToken).ConfigureAwait(false);
        var all = _store.LoadAll();
        var kept = all.Where(p => live.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => p.Value.Backend == backend.Kind ? p.Value : p.Value with { Backend = backend.Kind }).ToList();
        await backend.SyncAsync(kept, CancellationToken.None).ConfigureAwait(false);

        // Publications (live or not) made by the other backend: empty it.
        foreach (var other in all.Values.Select(p => p.Backend).Where(b => b != backend.Kind).Distinct().ToList())
        {
            await (await BackendAsync(other, cancellationToken).ConfigureAwait(false)).RemoveAllAsync(CancellationToken.None).ConfigureAwait(false);
        }

        foreach (var publication in kept.Where(p => all[p.SandboxId].Backend != p.Backend))
        {
            await _store.WriteAsync(publication, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (id, _) in all.Where(p => !live.Contains(p.Key)))
        {
            _store.Delete(id);
        }
    }

    /// <summary>
    /// Resolves the backend (for <see cref="PortMappingBackend.Automatic"/>: nftables when it probes clean, else
    /// iptables) and checks that its tools and the kernel have what the layout needs, changing nothing.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for the lock.</param>
    /// <returns>The backend in use.</returns>
    /// <exception cref="CniException">Something is missing; the message names it (for both backends under Automatic).</exception>
    public async Task<PortMappingBackend> ProbeAsync(CancellationToken cancellationToken = default)
    {
        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        return (await CurrentBackendAsync(cancellationToken).ConfigureAwait(false)).Kind;
    }

    /// <summary>
    /// Removes every table, chain and rule of ours from the kernel, for each backend whose tools are installed,
    /// and forgets every publication: for uninstalling, or to start over after the state was lost.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for the lock.</param>
    /// <exception cref="CniException">A backend failed to remove its part; the others were still cleaned and the state kept.</exception>
    public async Task PurgeAsync(CancellationToken cancellationToken = default)
    {
        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        var failures = new List<string>();
        foreach (var kind in new[] { PortMappingBackend.Nftables, PortMappingBackend.Iptables })
        {
            try
            {
                await Create(kind).RemoveAllAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (CniException ex)
            {
                failures.Add(ex.Message);
            }
        }

        if (failures.Count > 0)
        {
            throw new CniException(CniErrorCode.Internal, "purging the port mappings: " + string.Join("; ", failures));
        }

        foreach (var id in _store.LoadAll().Keys)
        {
            _store.Delete(id);
        }
    }

    /// <summary>The removal of a publication from its backend; <paramref name="all"/> is the state before it.</summary>
    private PortChange Removal(PortPublication previous, Dictionary<string, PortPublication> all)
    {
        var before = _store.HairpinsOf(previous);
        return new PortChange(
            previous.SandboxId,
            previous,
            null,
            [],
            [.. before.Where(h => !_store.HairpinUsed(h, previous.Backend, except: previous.SandboxId))],
            () => [.. all.Values.Where(p => p.Backend == previous.Backend && p.SandboxId != previous.SandboxId)]);
    }

    private async Task<IPortMappingBackend> CurrentBackendAsync(CancellationToken cancellationToken)
    {
        if (_current is not null)
        {
            return _current;
        }

        if (_options.Backend != PortMappingBackend.Automatic)
        {
            return _current = await BackendAsync(_options.Backend, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return _current = await BackendAsync(PortMappingBackend.Nftables, cancellationToken).ConfigureAwait(false);
        }
        catch (CniException nft)
        {
            try
            {
                return _current = await BackendAsync(PortMappingBackend.Iptables, cancellationToken).ConfigureAwait(false);
            }
            catch (CniException iptables)
            {
                throw new CniException(CniErrorCode.PluginNotAvailable, $"no port mapping backend works here: {nft.Message}; {iptables.Message}");
            }
        }
    }

    private async Task<IPortMappingBackend> BackendAsync(PortMappingBackend kind, CancellationToken cancellationToken)
    {
        if (_probed.TryGetValue(kind, out var known))
        {
            return known;
        }

        var backend = Create(kind);
        var mark = Path.Combine(_options.StateDirectory, $".probed-{kind.ToString().ToLowerInvariant()}");
        var expected = ProbeMark(kind);
        if (expected is null || await ReadMarkAsync(mark, cancellationToken).ConfigureAwait(false) != expected)
        {
            await backend.ProbeAsync(cancellationToken).ConfigureAwait(false);
            if (expected is not null)
            {
                // What the kernel and the tools can do does not change until the next boot (or a new tool):
                // later processes skip the probe, which costs a process start.
                await AtomicFile.WriteAsync(mark, System.Text.Encoding.UTF8.GetBytes(expected), cancellationToken).ConfigureAwait(false);
            }
        }

        _probed[kind] = backend;
        return backend;
    }

    /// <summary>What a passed probe is valid for: this boot, these tools (path and modification time), these options.</summary>
    private string? ProbeMark(PortMappingBackend kind)
    {
        string bootId;
        try
        {
            bootId = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var tools = kind == PortMappingBackend.Nftables
            ? [_options.NftPath]
            : new[] { _options.IptablesRestorePath, _options.IptablesSavePath, _options.Ip6tablesRestorePath, _options.Ip6tablesSavePath };
        var text = new System.Text.StringBuilder().Append(bootId).Append('\n').Append(_options.AllowLocalhost ? "localhost" : "no-localhost").Append('\n');
        foreach (var tool in tools)
        {
            var info = new FileInfo(tool);
            if (!info.Exists)
            {
                return null;
            }

            info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
            text.Append(tool).Append(' ').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }

        return text.ToString();
    }

    private static async Task<string?> ReadMarkAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var bytes = AtomicFile.ReadIfExists(path, 4096);
            return bytes is null ? null : System.Text.Encoding.UTF8.GetString(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // probe again
        }
    }

    private IPortMappingBackend Create(PortMappingBackend kind) => kind switch
    {
        PortMappingBackend.Nftables => new NftablesBackend(_options),
        PortMappingBackend.Iptables => new IptablesBackend(_options),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private async Task<IDisposable> LockAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Directory.CreateDirectory(_options.StateDirectory, AtomicFile.DirectoryMode);
            var fileLock = await FileLock.AcquireAsync(Path.Combine(_options.StateDirectory, ".lock"), _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            return new Releaser(this, fileLock);
        }
        catch
        {
            _gate.Release();
            throw;
        }
    }

    private sealed class Releaser(PortMapper owner, FileLock fileLock) : IDisposable
    {
        public void Dispose()
        {
            fileLock.Dispose();
            owner._gate.Release();
        }
    }
}
