using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>Expands requested mappings into kernel forwards and finds conflicts between forwards.</summary>
internal static class PortPlan
{
    /// <summary>The protocols the kernel maps (<c>inet_proto</c> names).</summary>
    public static readonly IReadOnlyList<string> Protocols = ["tcp", "udp", "sctp"];

    /// <summary>Checks a sandbox ID, which names the state file and goes into element comments.</summary>
    public static void ValidateSandboxId(string sandboxId)
    {
        ArgumentNullException.ThrowIfNull(sandboxId);
        if (sandboxId.Length is 0 or > 200 || sandboxId[0] == '.'
            || !sandboxId.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"invalid sandbox ID \"{sandboxId}\" for port mapping: use 1-200 letters, digits, '_', '-' or '.', not starting with '.'");
        }
    }

    /// <summary>
    /// The forwards of <paramref name="mappings"/>: a null or empty host IP gives one forward per family the
    /// container has an address of; <c>0.0.0.0</c> and <c>::</c> one in their family; a specific IP one in its family.
    /// Identical duplicates collapse; other overlaps within the request are refused.
    /// </summary>
    public static List<PublishedPort> Expand(string sandboxId, IReadOnlyList<PortMapping> mappings, IReadOnlyList<IpPrefix> containerAddresses, bool allowLocalhost)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        ArgumentNullException.ThrowIfNull(containerAddresses);
        var v4 = containerAddresses.FirstOrDefault(a => a.Address is not null && a.IsIPv4).Address;
        var v6 = containerAddresses.FirstOrDefault(a => a.Address is not null && !a.IsIPv4).Address;
        var result = new List<PublishedPort>();
        var seen = new HashSet<PublishedPort>();
        foreach (var mapping in mappings)
        {
            ArgumentNullException.ThrowIfNull(mapping);
            var text = Describe(mapping);
            if (mapping.HostPort is < 1 or > 65535 || mapping.ContainerPort is < 1 or > 65535)
            {
                throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: ports must be 1-65535");
            }

            var protocol = (mapping.Protocol ?? "tcp").ToLowerInvariant();
            if (!Protocols.Contains(protocol))
            {
                throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: protocol must be tcp, udp or sctp");
            }

            var targets = new List<(IPAddress? Host, IPAddress Container)>(2);
            if (string.IsNullOrEmpty(mapping.HostIp))
            {
                if (v4 is not null)
                {
                    targets.Add((null, v4));
                }

                if (v6 is not null)
                {
                    targets.Add((null, v6));
                }

                if (targets.Count == 0)
                {
                    throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: the sandbox has no IPv4 or IPv6 address to forward to");
                }
            }
            else
            {
                if (!IPAddress.TryParse(mapping.HostIp, out var host) || (host.AddressFamily == AddressFamily.InterNetworkV6 && host.ScopeId != 0))
                {
                    throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: host IP \"{mapping.HostIp}\" is not an IP address (without zone)");
                }

                if (host.IsIPv4MappedToIPv6)
                {
                    host = host.MapToIPv4();
                }

                var isV6 = host.AddressFamily == AddressFamily.InterNetworkV6;
                if (IPAddress.IsLoopback(host))
                {
                    if (isV6)
                    {
                        throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: the kernel cannot DNAT ::1; publish on :: or a specific address");
                    }

                    if (!allowLocalhost)
                    {
                        throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: publishing on {host} needs the localhost opt-in (PortMapperOptions.AllowLocalhost)");
                    }
                }

                var container = isV6 ? v6 : v4;
                if (container is null)
                {
                    throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: the sandbox has no {(isV6 ? "IPv6" : "IPv4")} address to forward host IP {host} to");
                }

                var any = host.Equals(IPAddress.Any) || host.Equals(IPAddress.IPv6Any);
                targets.Add((any ? null : host, container));
            }

            foreach (var (host, container) in targets)
            {
                var port = new PublishedPort(protocol, host, mapping.HostPort, container, mapping.ContainerPort);
                if (!seen.Add(port))
                {
                    continue;
                }

                if (FindConflict(port, result) is { } clash)
                {
                    throw new CniException(CniErrorCode.InvalidNetworkConfig, $"port mapping {text} of sandbox {sandboxId}: {Key(port)} is requested twice ({clash} and {port})");
                }

                result.Add(port);
            }
        }

        return result;
    }

    /// <summary>Whether two forwards claim the same (family, protocol, host address or any, host port).</summary>
    public static bool Conflicts(PublishedPort a, PublishedPort b) =>
        a.IsIPv6 == b.IsIPv6 && a.Protocol == b.Protocol && a.HostPort == b.HostPort
        && (a.HostAddress is null || b.HostAddress is null || a.HostAddress.Equals(b.HostAddress));

    /// <summary>The first of <paramref name="existing"/> that conflicts with <paramref name="candidate"/>.</summary>
    public static PublishedPort? FindConflict(PublishedPort candidate, IEnumerable<PublishedPort> existing) =>
        existing.FirstOrDefault(e => Conflicts(candidate, e));

    /// <summary>The host side of a forward, e.g. <c>tcp 0.0.0.0:8080</c> or <c>udp [fd00::1]:53</c>.</summary>
    public static string Key(PublishedPort port)
    {
        var host = port.HostAddress is null ? (port.IsIPv6 ? "[::]" : "0.0.0.0") : port.IsIPv6 ? $"[{port.HostAddress}]" : port.HostAddress.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"{port.Protocol} {host}:{port.HostPort}");
    }

    private static string Describe(PortMapping m) =>
        string.Create(CultureInfo.InvariantCulture, $"{(string.IsNullOrEmpty(m.HostIp) ? "" : m.HostIp + ":")}{m.HostPort}->{m.ContainerPort}/{m.Protocol}");
}
