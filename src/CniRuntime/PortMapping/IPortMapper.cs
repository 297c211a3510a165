using System.Net;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Publishes container ports on the host in the kernel (L4 DNAT), the runtime's half of port mapping. One writer
/// per state directory: operations are serialised in the process and across processes by a lock file.
/// </summary>
public interface IPortMapper
{
    /// <summary>
    /// Publishes <paramref name="mappings"/> of a sandbox, replacing any publication it already has, in one atomic
    /// kernel transaction. Call it after the sandbox's networks are up.
    /// </summary>
    /// <param name="sandboxId">The sandbox (letters, digits, <c>_</c>, <c>-</c>, <c>.</c>; it names the state file).</param>
    /// <param name="mappings">The ports to publish; an empty list unpublishes.</param>
    /// <param name="containerAddresses">
    /// The sandbox's addresses with their prefix lengths, from its CNI result (the IPs on the sandbox interface). The
    /// first of each family is the DNAT target; the prefix gives the subnet whose containers hairpin through the host.
    /// </param>
    /// <param name="cancellationToken">Cancels the wait for the lock; the kernel change itself is not interrupted.</param>
    /// <returns>What was published.</returns>
    /// <exception cref="CniException">
    /// A mapping is invalid, conflicts with another sandbox's (the message names it) or with a host listener, a
    /// needed kernel feature is missing, or the kernel transaction failed (nothing was changed then).
    /// </exception>
    Task<PortPublication> PublishAsync(string sandboxId, IReadOnlyList<PortMapping> mappings, IReadOnlyList<IpPrefix> containerAddresses, CancellationToken cancellationToken);

    /// <summary>Removes a sandbox's publication and releases its ports. Idempotent. Call it before the networks go.</summary>
    /// <param name="sandboxId">The sandbox.</param>
    /// <param name="cancellationToken">Cancels the wait for the lock.</param>
    /// <returns>True when there was a publication to remove.</returns>
    /// <exception cref="CniException">The kernel transaction failed; the state is kept so that a retry or reconcile finishes it.</exception>
    Task<bool> UnpublishAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>The publications in the state directory, by sandbox ID.</summary>
    /// <param name="cancellationToken">Cancels the wait for the lock.</param>
    /// <returns>The publications, ordered by sandbox ID.</returns>
    Task<IReadOnlyList<PortPublication>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Makes the kernel match the state in one transaction: recreates our tables, chains and rules, refills the
    /// maps from the state of <paramref name="liveSandboxIds"/>, and drops the state of every other sandbox. Use it
    /// at start, after <c>nft flush ruleset</c> or a firewall reload, and on GC.
    /// </summary>
    /// <param name="liveSandboxIds">The sandboxes to keep.</param>
    /// <param name="cancellationToken">Cancels the wait for the lock.</param>
    /// <exception cref="CniException">The kernel transaction failed.</exception>
    Task ReconcileAsync(IEnumerable<string> liveSandboxIds, CancellationToken cancellationToken);
}

/// <summary>The kernel mechanism a port mapper uses.</summary>
public enum PortMappingBackend
{
    /// <summary>nftables when <c>nft</c> and the kernel have what it needs, otherwise iptables (chosen at the first operation).</summary>
    Automatic,

    /// <summary>nftables, through <c>nft -f -</c>, with maps keyed by protocol and port (O(1) per mapping).</summary>
    Nftables,

    /// <summary>
    /// iptables (either variant, as <c>iptables-restore</c> is installed), through <c>iptables-restore --noflush</c>:
    /// a chain per sandbox; changes cost the same whatever the number of mappings, packets pass a rule per mapping.
    /// </summary>
    Iptables,
}

/// <summary>Settings of a port mapper.</summary>
public sealed record PortMapperOptions
{
    /// <summary>Where the state files live, e.g. <c>&lt;cacheDir&gt;/portmap</c>. Required.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The backend; <see cref="PortMappingBackend.Automatic"/> by default.</summary>
    public PortMappingBackend Backend { get; init; } = PortMappingBackend.Automatic;

    /// <summary>The <c>nft</c> binary.</summary>
    public string NftPath { get; init; } = "/usr/sbin/nft";

    /// <summary>The <c>iptables-restore</c> binary (IPv4).</summary>
    public string IptablesRestorePath { get; init; } = "/usr/sbin/iptables-restore";

    /// <summary>The <c>iptables-save</c> binary (IPv4), read when the kernel has to be rebuilt.</summary>
    public string IptablesSavePath { get; init; } = "/usr/sbin/iptables-save";

    /// <summary>The <c>ip6tables-restore</c> binary.</summary>
    public string Ip6tablesRestorePath { get; init; } = "/usr/sbin/ip6tables-restore";

    /// <summary>The <c>ip6tables-save</c> binary.</summary>
    public string Ip6tablesSavePath { get; init; } = "/usr/sbin/ip6tables-save";

    /// <summary>The <c>conntrack</c> binary; null or a missing file skips conntrack hygiene.</summary>
    public string? ConntrackPath { get; init; } = "/usr/sbin/conntrack";

    /// <summary>
    /// Whether host IP 127.0.0.1 may be published (kernel loopback DNAT, with <c>route_localnet</c> set only on the
    /// interface towards the container and 127.0.0.0/8 arriving on any other interface than <c>lo</c> dropped).
    /// Off by default: 127.0.0.1 and ::1 are refused, and connections to loopback are not DNAT'd.
    /// </summary>
    public bool AllowLocalhost { get; init; }

    /// <summary>Whether to refuse ports a host process has bound (probed by binding them); on by default.</summary>
    public bool ProbeHostListeners { get; init; } = true;

    /// <summary>The largest number of ports one publication may expand to.</summary>
    public int MaxPortsPerSandbox { get; init; } = 20_000;

    /// <summary>
    /// The name of what is ours in the kernel: the nft tables (one <c>ip</c>, one <c>ip6</c>), and in upper case the
    /// prefix of the iptables chains. 1-12 lower-case letters, digits or <c>_</c>, starting with a letter. One state
    /// directory per table name: a rebuild makes the tables hold exactly that directory's publications.
    /// </summary>
    public string TableName { get; init; } = "cnirt";

    /// <summary>How long one <c>nft</c>, <c>iptables-restore</c> or <c>conntrack</c> run may take.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock for lock waits.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>One kernel-level port forward: a host address (or any) and port to a container address and port.</summary>
/// <param name="Protocol"><c>tcp</c>, <c>udp</c> or <c>sctp</c>.</param>
/// <param name="HostAddress">The host address matched, or null for any address of the family.</param>
/// <param name="HostPort">The host port.</param>
/// <param name="ContainerAddress">The DNAT target; its family is the family of the forward.</param>
/// <param name="ContainerPort">The container port.</param>
public sealed record PublishedPort(string Protocol, IPAddress? HostAddress, int HostPort, IPAddress ContainerAddress, int ContainerPort)
{
    /// <summary>True for an IPv6 forward.</summary>
    public bool IsIPv6 => ContainerAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Protocol} {(HostAddress is null ? (IsIPv6 ? "[::]" : "0.0.0.0") : IsIPv6 ? $"[{HostAddress}]" : HostAddress.ToString())}:{HostPort} -> {(IsIPv6 ? $"[{ContainerAddress}]" : ContainerAddress.ToString())}:{ContainerPort}";
}

/// <summary>The ports a sandbox publishes.</summary>
/// <param name="SandboxId">The sandbox.</param>
/// <param name="Mappings">The mappings as requested.</param>
/// <param name="ContainerAddresses">The container addresses given.</param>
/// <param name="Ports">The kernel forwards they expanded to (one per family, protocol and port).</param>
/// <param name="Backend">The backend that holds them (<see cref="PortMappingBackend.Nftables"/> or <see cref="PortMappingBackend.Iptables"/>).</param>
public sealed record PortPublication(
    string SandboxId,
    IReadOnlyList<PortMapping> Mappings,
    IReadOnlyList<IpPrefix> ContainerAddresses,
    IReadOnlyList<PublishedPort> Ports,
    PortMappingBackend Backend);

/// <summary>Helpers to build mappings.</summary>
public static class PortMappings
{
    /// <summary>
    /// <paramref name="count"/> consecutive mappings: host ports <paramref name="hostPort"/>.. to container ports
    /// <paramref name="containerPort"/>.. (a range is one element per port in the kernel, so lookups stay O(1)).
    /// </summary>
    /// <param name="hostPort">The first host port.</param>
    /// <param name="containerPort">The first container port.</param>
    /// <param name="count">How many ports.</param>
    /// <param name="protocol"><c>tcp</c>, <c>udp</c> or <c>sctp</c>.</param>
    /// <param name="hostIp">The host address, or null for all.</param>
    /// <returns>The mappings.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A port would leave 1-65535, or the count is not positive.</exception>
    public static IReadOnlyList<PortMapping> Range(int hostPort, int containerPort, int count, string protocol = "tcp", string? hostIp = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hostPort, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(containerPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostPort + count - 1, 65535, nameof(count));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(containerPort + count - 1, 65535, nameof(count));
        var result = new PortMapping[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = new PortMapping(hostPort + i, containerPort + i, protocol, hostIp);
        }

        return result;
    }
}
