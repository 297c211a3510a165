using System.Net;

namespace CniRuntime.Protocol;

/// <summary>A route a plugin installed (<c>routes[]</c>; before 0.3.0, <c>ip4.routes</c>/<c>ip6.routes</c>).</summary>
public sealed record CniRoute
{
    /// <summary>The destination (<c>dst</c>).</summary>
    public required IpPrefix Dst { get; init; }

    /// <summary>The next hop (<c>gw</c>); absent means the subnet's default gateway.</summary>
    public IPAddress? Gw { get; init; }

    /// <summary>The route MTU (<c>mtu</c>).</summary>
    public int? Mtu { get; init; }

    /// <summary>The advertised TCP MSS (<c>advmss</c>).</summary>
    public int? AdvMss { get; init; }

    /// <summary>The route priority, or metric (<c>priority</c>).</summary>
    public int? Priority { get; init; }

    /// <summary>The routing table (<c>table</c>).</summary>
    public int? Table { get; init; }

    /// <summary>The route scope (<c>scope</c>), e.g. 0 for universe, 253 for link.</summary>
    public int? Scope { get; init; }

    /// <summary>The same route with only <c>dst</c> and <c>gw</c>, as results before 0.3.0 carry it.</summary>
    internal CniRoute DstAndGwOnly() =>
        Mtu is null && AdvMss is null && Priority is null && Table is null && Scope is null
            ? this
            : new CniRoute { Dst = Dst, Gw = Gw };
}
