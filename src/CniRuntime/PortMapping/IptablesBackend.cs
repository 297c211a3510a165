using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Port mapping with iptables, for hosts without a usable nftables: one <c>iptables-restore --noflush -w</c>
/// payload per address family and operation (layout in <see cref="IptablesScript"/>). Works with either variant
/// (nf_tables or legacy), whichever <c>iptables-restore</c> is.
/// </summary>
internal sealed class IptablesBackend(PortMapperOptions options) : IPortMappingBackend
{
    private readonly IptablesScript _script = new(options.TableName, options.AllowLocalhost);

    public PortMappingBackend Kind => PortMappingBackend.Iptables;

    public async Task ApplyAsync(PortChange change, CancellationToken cancellationToken)
    {
        var what = $"{(change.Next is null ? "unpublishing" : "publishing")} ports of sandbox {change.SandboxId}";
        foreach (var v6 in new[] { false, true })
        {
            if (_script.Change(v6, change) is not { } payload)
            {
                continue;
            }

            var outcome = await RestoreAsync(v6, payload, test: false, cancellationToken).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
            {
                // Something of ours is missing from the kernel (flushed, or never made): rebuild this family from
                // the state, which already holds the change.
                await SyncFamilyAsync(v6, change.Publications(), what, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task SyncAsync(IReadOnlyCollection<PortPublication> publications, CancellationToken cancellationToken)
    {
        foreach (var v6 in new[] { false, true })
        {
            await SyncFamilyAsync(v6, publications, "reconciling port mappings", cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task RemoveAllAsync(CancellationToken cancellationToken)
    {
        foreach (var v6 in new[] { false, true })
        {
            if (!File.Exists(RestorePath(v6)) || !File.Exists(SavePath(v6)))
            {
                continue;
            }

            var saved = await SaveAsync(v6, cancellationToken).ConfigureAwait(false);
            if (_script.Sync(v6, [], saved, keep: false) is { } payload)
            {
                await CommitAsync(v6, payload, "removing the iptables port mappings", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        foreach (var v6 in new[] { false, true })
        {
            foreach (var path in new[] { RestorePath(v6), SavePath(v6) })
            {
                if (!File.Exists(path))
                {
                    throw new CniException(CniErrorCode.PluginNotAvailable, $"iptables port mapping needs {Path.GetFileName(path)}, not found at {path}");
                }
            }

            var outcome = await RestoreAsync(v6, _script.Probe(v6), test: true, cancellationToken).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
            {
                throw new CniException(
                    CniErrorCode.PluginNotAvailable,
                    $"iptables port mapping: {RestorePath(v6)} --test rejects the layout (it needs the nat, filter{(v6 ? "" : " and raw")} tables, the addrtype, conntrack, comment, tcp, udp and sctp matches and the DNAT and MASQUERADE targets): {outcome.Stderr.Trim()}");
            }
        }
    }

    /// <summary>
    /// Rebuilds one family. This reads the whole ruleset (<c>iptables-save</c>), so it runs only when the state
    /// and the kernel have parted: at reconcile, or when an incremental payload found something missing.
    /// </summary>
    private async Task SyncFamilyAsync(bool v6, IReadOnlyCollection<PortPublication> publications, string what, CancellationToken cancellationToken)
    {
        var saved = await SaveAsync(v6, cancellationToken).ConfigureAwait(false);
        await CommitAsync(v6, _script.Sync(v6, publications, saved)!, what, cancellationToken).ConfigureAwait(false);
    }

    private async Task<SavedRules> SaveAsync(bool v6, CancellationToken cancellationToken)
    {
        var outcome = await CommandRunner.RunToolAsync(SavePath(v6), [], null, options.CommandTimeout, cancellationToken).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            throw new CniException(CniErrorCode.Internal, $"reading the ruleset: {SavePath(v6)} failed (exit {outcome.ExitCode}): {outcome.Stderr.Trim()}");
        }

        return SavedRules.Parse(outcome.Stdout, _script.IsOurs);
    }

    private async Task CommitAsync(bool v6, string payload, string what, CancellationToken cancellationToken)
    {
        var outcome = await RestoreAsync(v6, payload, test: false, cancellationToken).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            throw new CniException(CniErrorCode.Internal, $"{what}: {RestorePath(v6)} failed (exit {outcome.ExitCode}), nothing was changed: {outcome.Stderr.Trim()}");
        }
    }

    private Task<CommandRunner.Outcome> RestoreAsync(bool v6, string payload, bool test, CancellationToken cancellationToken) =>
        CommandRunner.RunToolAsync(RestorePath(v6), test ? ["--test", "--noflush", "-w"] : ["--noflush", "-w"], payload, options.CommandTimeout, cancellationToken);

    private string RestorePath(bool v6) => v6 ? options.Ip6tablesRestorePath : options.IptablesRestorePath;

    private string SavePath(bool v6) => v6 ? options.Ip6tablesSavePath : options.IptablesSavePath;
}
