using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Port mapping with nftables: our own <c>ip</c> and <c>ip6</c> tables (named by
/// <see cref="PortMapperOptions.TableName"/>), DNAT through maps keyed by (protocol, port) and (host address,
/// protocol, port), so that adding or removing a mapping is a few element changes whatever the number present, and
/// a packet's lookup is one hash probe. Every operation is one atomic <c>nft -f -</c> batch for both families; when
/// the kernel lost our tables (see <see cref="NftablesScript"/>), a second batch rebuilds them from the state.
/// </summary>
internal sealed class NftablesBackend(PortMapperOptions options) : IPortMappingBackend
{
    public PortMappingBackend Kind => PortMappingBackend.Nftables;

    public async Task ApplyAsync(PortChange change, CancellationToken cancellationToken)
    {
        var script = new NftablesScript(options.TableName, options.AllowLocalhost);
        var before = change.Previous?.Ports ?? [];
        var after = change.Next?.Ports ?? [];
        foreach (var v6 in new[] { false, true })
        {
            if (before.Any(p => p.IsIPv6 == v6) || after.Any(p => p.IsIPv6 == v6))
            {
                script.RequireLayout(v6);
            }
        }

        script.Delete(before, change.HairpinsRemoved).Add(change.SandboxId, after, change.HairpinsAdded);
        var outcome = await NftAsync(["-f", "-"], script.ToString(), cancellationToken).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            // Our tables are gone, were built by another layout, or lost elements the state says they have:
            // rebuild them from the state, which already holds the change.
            var what = change.Next is null ? "unpublishing" : "publishing";
            await ApplyAsync(Rebuild(change.Publications()), $"{what} ports of sandbox {change.SandboxId}", cancellationToken).ConfigureAwait(false);
        }
    }

    public Task SyncAsync(IReadOnlyCollection<PortPublication> publications, CancellationToken cancellationToken) =>
        ApplyAsync(Rebuild(publications), "reconciling port mappings", cancellationToken);

    public Task RemoveAllAsync(CancellationToken cancellationToken) =>
        !File.Exists(options.NftPath)
            ? Task.CompletedTask
            : ApplyAsync(new NftablesScript(options.TableName, options.AllowLocalhost).DeleteTables().ToString(), "removing the nftables port mappings", cancellationToken);

    /// <summary>
    /// Checks that nft and the kernel have everything the layout needs (<c>nft -c</c>, which changes nothing);
    /// on failure the message names the missing piece.
    /// </summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(options.NftPath))
        {
            throw new CniException(CniErrorCode.PluginNotAvailable, $"nftables port mapping needs the nft binary, not found at {options.NftPath}");
        }

        var table = "cnirt_probe";
        var full = new NftablesScript(table, options.AllowLocalhost).Structure().ToString();
        var outcome = await NftAsync(["-c", "-f", "-"], full, cancellationToken).ConfigureAwait(false);
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
            var part = await NftAsync(["-c", "-f", "-"], script, cancellationToken).ConfigureAwait(false);
            if (part.ExitCode != 0)
            {
                throw new CniException(CniErrorCode.PluginNotAvailable, $"nftables port mapping needs {feature}: nft -c failed: {part.Stderr.Trim()}");
            }
        }

        throw new CniException(CniErrorCode.PluginNotAvailable, $"nftables port mapping: the kernel or nft rejects the layout: {outcome.Stderr.Trim()}");
    }

    private string Rebuild(IReadOnlyCollection<PortPublication> publications)
    {
        var script = new NftablesScript(options.TableName, options.AllowLocalhost).Rebuild();
        var hairpins = new HashSet<Hairpin>();
        foreach (var publication in publications)
        {
            script.Add(publication.SandboxId, publication.Ports, [.. Hairpin.Of(publication.ContainerAddresses, publication.Ports).Where(hairpins.Add)]);
        }

        return script.ToString();
    }

    private async Task ApplyAsync(string script, string what, CancellationToken cancellationToken)
    {
        var outcome = await NftAsync(["-f", "-"], script, cancellationToken).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            throw new CniException(CniErrorCode.Internal, $"{what}: nft -f failed (exit {outcome.ExitCode}), nothing was changed: {outcome.Stderr.Trim()}");
        }
    }

    private Task<CommandRunner.Outcome> NftAsync(string[] arguments, string script, CancellationToken cancellationToken) =>
        CommandRunner.RunToolAsync(options.NftPath, arguments, script, options.CommandTimeout, cancellationToken);
}
