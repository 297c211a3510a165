namespace CniRuntime.Ports;

/// <summary>
/// The kernel half of port mapping, one per mechanism (nftables, iptables): it turns changes of publications into
/// one transaction. <see cref="PortMapper"/> owns everything else (validation, reservation, state, locking), so a
/// backend never decides what is published, only how.
/// </summary>
internal interface IPortMappingBackend
{
    PortMappingBackend Kind { get; }

    /// <summary>Checks, without changing anything, that the tools and the kernel have what the layout needs.</summary>
    /// <exception cref="Protocol.CniException">Something is missing; the message names it.</exception>
    Task ProbeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Replaces one sandbox's forwards (<see cref="PortChange.Previous"/> by <see cref="PortChange.Next"/>) in one
    /// transaction per address family. Works when the kernel lost some of the previous state.
    /// </summary>
    /// <exception cref="Protocol.CniException">The transaction failed; nothing was changed.</exception>
    Task ApplyAsync(PortChange change, CancellationToken cancellationToken);

    /// <summary>Rebuilds everything of ours in the kernel so that it holds exactly <paramref name="publications"/>.</summary>
    /// <exception cref="Protocol.CniException">The transaction failed.</exception>
    Task SyncAsync(IReadOnlyCollection<PortPublication> publications, CancellationToken cancellationToken);

    /// <summary>Removes every table, chain and rule of ours (used when the state moves to the other backend).</summary>
    /// <exception cref="Protocol.CniException">The transaction failed.</exception>
    Task RemoveAllAsync(CancellationToken cancellationToken);
}

/// <summary>One sandbox's change of forwards, with the hairpin rules that appear and disappear with it.</summary>
/// <param name="SandboxId">The sandbox.</param>
/// <param name="Previous">What the backend holds for it now (null: nothing).</param>
/// <param name="Next">What it must hold afterwards (null: nothing).</param>
/// <param name="HairpinsAdded">Hairpins that no other sandbox of this backend has, needed from now on.</param>
/// <param name="HairpinsRemoved">Hairpins that no other sandbox of this backend has, needed no longer.</param>
/// <param name="Publications">
/// Every publication this backend must hold once the change is made, for a backend that has to rebuild instead.
/// </param>
internal sealed record PortChange(
    string SandboxId,
    PortPublication? Previous,
    PortPublication? Next,
    IReadOnlyCollection<Hairpin> HairpinsAdded,
    IReadOnlyCollection<Hairpin> HairpinsRemoved,
    Func<IReadOnlyCollection<PortPublication>> Publications);
