using System.ComponentModel;
using System.Net;
using CniRuntime.Caching;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Port mapping with nftables: our own <c>ip</c> and <c>ip6</c> tables (named by
/// <see cref="PortMapperOptions.TableName"/>), DNAT through maps keyed by (protocol, port) and (host address,
/// protocol, port), so that adding or removing a mapping is a few element changes whatever the number present.
/// Every operation is one atomic <c>nft -f -</c> batch; the state files in
/// <see cref="PortMapperOptions.StateDirectory"/> are the truth, and the kernel is rebuilt from them by
/// <see cref="ReconcileAsync"/>.
/// </summary>
#pragma warning disable CA1001 // the SemaphoreSlim holds no kernel object without AvailableWaitHandle
public sealed class NftablesPortMapper : IPortMapper
#pragma warning restore CA1001
{
    private readonly PortMapperOptions _options;
    private readonly PortStateStore _store;
    // Never disposed: without AvailableWaitHandle a SemaphoreSlim holds no kernel object.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _probed;

    /// <summary>Creates a mapper; nothing touches the kernel until the first operation (which probes nft).</summary>
    /// <param name="options">The settings.</param>
    public NftablesPortMapper(PortMapperOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.StateDirectory);
        ArgumentException.ThrowIfNullOrEmpty(options.TableName);
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
            return new PortPublication(sandboxId, mappings, containerAddresses, [], PortMappingBackend.Nftables);
        }

        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        var all = _store.LoadAll();
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

        var publication = new PortPublication(sandboxId, mappings, containerAddresses, ports, PortMappingBackend.Nftables);
        var hairpins = NftablesScript.Hairpins(containerAddresses, ports);
        var script = new NftablesScript(_options.TableName, _options.AllowLocalhost).Structure();
        if (previous is not null)
        {
            script.Remove(previous.Ports, [.. _store.HairpinsOf(previous).Where(h => !hairpins.Contains(h) && !_store.HairpinUsed(h, except: sandboxId))]);
        }

        script.Add(sandboxId, ports, hairpins);

        // State first: a crash after this and before the commit is repaired by ReconcileAsync.
        await _store.WriteAsync(publication, cancellationToken).ConfigureAwait(false);
        try
        {
            await ApplyAsync(script.ToString(), $"publishing ports of sandbox {sandboxId}").ConfigureAwait(false);
        }
        catch
        {
            if (previous is not null)
            {
                await _store.WriteAsync(previous, CancellationToken.None).ConfigureAwait(false);
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
        using var locked = await LockAsync(cancellationToken, probe: false).ConfigureAwait(false);
        var all = _store.LoadAll();
        if (!all.Remove(sandboxId, out var previous))
        {
            return false;
        }

        if (!_probed)
        {
            await ProbeAsync().ConfigureAwait(false);
            _probed = true;
        }

        var script = new NftablesScript(_options.TableName, _options.AllowLocalhost).Structure()
            .Remove(previous.Ports, [.. _store.HairpinsOf(previous).Where(h => !_store.HairpinUsed(h, except: sandboxId))]);
        await ApplyAsync(script.ToString(), $"unpublishing ports of sandbox {sandboxId}").ConfigureAwait(false);
        _store.Delete(sandboxId);
        await Conntrack.RunAsync(_options.ConntrackPath, Conntrack.AfterUnpublish(previous.Ports), _options.CommandTimeout).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<PortPublication>> ListAsync(CancellationToken cancellationToken)
    {
        using var locked = await LockAsync(cancellationToken, probe: false).ConfigureAwait(false);
        return [.. _store.LoadAll().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value)];
    }

    /// <inheritdoc/>
    public async Task ReconcileAsync(IEnumerable<string> liveSandboxIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(liveSandboxIds);
        var live = liveSandboxIds.ToHashSet(StringComparer.Ordinal);
        using var locked = await LockAsync(cancellationToken).ConfigureAwait(false);
        var all = _store.LoadAll();
        var script = new NftablesScript(_options.TableName, _options.AllowLocalhost).Structure().FlushData();
        var kept = all.Where(p => live.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        var hairpins = new HashSet<(IpPrefix, IPAddress)>();
        foreach (var (id, publication) in kept)
        {
            var fresh = _store.HairpinsOf(publication).Where(hairpins.Add).ToList();
            script.Add(id, publication.Ports, fresh);
        }

        await ApplyAsync(script.ToString(), "reconciling port mappings").ConfigureAwait(false);
        foreach (var (id, _) in all.Where(p => !live.Contains(p.Key)))
        {
            _store.Delete(id);
        }
    }

    /// <summary>
    /// Checks that nft and the kernel have everything the layout needs (<c>nft -c</c>, which changes nothing);
    /// on failure the message names the missing piece.
    /// </summary>
    /// <exception cref="CniException">Something is missing.</exception>
    public async Task ProbeAsync()
    {
        if (!File.Exists(_options.NftPath))
        {
            throw new CniException(CniErrorCode.PluginNotAvailable, $"nftables port mapping needs the nft binary, not found at {_options.NftPath}");
        }

        var table = "cnirt_probe";
        var full = new NftablesScript(table, _options.AllowLocalhost).Structure().ToString();
        var outcome = await NftAsync(["-c", "-f", "-"], full).ConfigureAwait(false);
        if (outcome.ExitCode == 0)
        {
            return;
        }

        // Name the first feature that fails on its own.
        (string Feature, string Script)[] features =
        [
            ("nf_tables (nft cannot talk to the kernel)", $"add table ip {table}\n"),
            ("IPv6 nf_tables (table ip6)", $"add table ip6 {table}\n"),
            ("nat chains (nf_nat / nft_chain_nat)", $"add table ip {table}\nadd chain ip {table} c {{ type nat hook prerouting priority -100 ; }}\n"),
            ("fib expressions (nft_fib_ipv4)", $"add table ip {table}\nadd chain ip {table} c {{ type nat hook prerouting priority -100 ; }}\nadd rule ip {table} c fib daddr type local accept\n"),
            ("concatenated maps with th (nft_hash / nft_lookup)", $"add table ip {table}\nadd map ip {table} m {{ type inet_proto . inet_service : ipv4_addr . inet_service ; }}\nadd chain ip {table} c {{ type nat hook prerouting priority -100 ; }}\nadd rule ip {table} c dnat ip to meta l4proto . th dport map @m\n"),
            ("interval sets of concatenations (nft_set_pipapo, kernel 5.6)", $"add table ip {table}\nadd set ip {table} s {{ type ipv4_addr . ipv4_addr ; flags interval ; }}\n"),
            ("masquerade (nft_masq)", $"add table ip {table}\nadd chain ip {table} c {{ type nat hook postrouting priority 100 ; }}\nadd rule ip {table} c ct status dnat masquerade\n"),
        ];
        foreach (var (feature, script) in features)
        {
            var part = await NftAsync(["-c", "-f", "-"], script).ConfigureAwait(false);
            if (part.ExitCode != 0)
            {
                throw new CniException(CniErrorCode.PluginNotAvailable, $"nftables port mapping needs {feature}: nft -c failed: {part.Stderr.Trim()}");
            }
        }

        throw new CniException(CniErrorCode.PluginNotAvailable, $"nftables port mapping: the kernel or nft rejects the layout: {outcome.Stderr.Trim()}");
    }

    private async Task<IDisposable> LockAsync(CancellationToken cancellationToken, bool probe = true)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        FileLock? fileLock = null;
        try
        {
            Directory.CreateDirectory(_options.StateDirectory, AtomicFile.DirectoryMode);
            fileLock = await FileLock.AcquireAsync(Path.Combine(_options.StateDirectory, ".lock"), _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            if (probe && !_probed)
            {
                await ProbeAsync().ConfigureAwait(false);
                _probed = true;
            }

            return new Releaser(this, fileLock);
        }
        catch
        {
            fileLock?.Dispose();
            _gate.Release();
            throw;
        }
    }

    private async Task ApplyAsync(string script, string what)
    {
        var outcome = await NftAsync(["-f", "-"], script).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            throw new CniException(CniErrorCode.Internal, $"{what}: nft -f failed (exit {outcome.ExitCode}), nothing was changed: {outcome.Stderr.Trim()}");
        }
    }

    private async Task<CommandRunner.Outcome> NftAsync(string[] arguments, string script)
    {
        try
        {
            return await CommandRunner.RunAsync(_options.NftPath, arguments, script, _options.CommandTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Win32Exception or TimeoutException or IOException)
        {
            throw new CniException(CniErrorCode.PluginNotAvailable, $"running {_options.NftPath} failed: {ex.Message}", null, ex);
        }
    }

    private sealed class Releaser(NftablesPortMapper owner, FileLock fileLock) : IDisposable
    {
        public void Dispose()
        {
            fileLock.Dispose();
            owner._gate.Release();
        }
    }
}
