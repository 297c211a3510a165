using System.Net;

namespace CniRuntime.Protocol;

/// <summary>An IP address assigned by a plugin (<c>ips[]</c>, or <c>ip4</c>/<c>ip6</c> before 0.3.0).</summary>
public sealed record CniIpConfig
{
    /// <summary>The address with its prefix length (<c>address</c>; <c>ip</c> before 0.3.0).</summary>
    public required IpPrefix Address { get; init; }

    /// <summary>The default gateway for this subnet (<c>gateway</c>), if any.</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary>The index in <see cref="CniResult.Interfaces"/> of the interface holding the address (<c>interface</c>).</summary>
    public int? Interface { get; init; }
}
