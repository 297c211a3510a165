namespace CniRuntime.Protocol;

/// <summary>
/// libcni's conversions between result versions. Every conversion first reduces the source to what its own
/// version's shape can carry, so a converted result never holds data the source version could not express.
/// </summary>
internal static class ResultConversion
{
    public static CniResult Convert(CniResult source, CniVersion target)
    {
        if (source.CniVersion == target)
        {
            return source;
        }

        var sourceShape = ResultShapes.Require(source.CniVersion);
        var targetShape = ResultShapes.Of(target) ?? throw new CniException(
            CniErrorCode.IncompatibleCniVersion, $"no converter for CNI result version {source.CniVersion} to {target}");
        var reduced = ReduceTo(source, sourceShape);

        return targetShape switch
        {
            ResultShape.Legacy when sourceShape != ResultShape.Legacy => ToLegacy(reduced, requireAddress: true) with { CniVersion = target },
            ResultShape.Chained => ToChained(reduced) with { CniVersion = target },
            _ => reduced with { CniVersion = target },
        };
    }

    /// <summary>The part of a result its version's shape can carry; what <see cref="CniResultJson.Write"/> writes.</summary>
    public static CniResult ReduceTo(CniResult result, ResultShape shape) => shape switch
    {
        ResultShape.Legacy => ToLegacy(result, requireAddress: false),
        ResultShape.Chained => ToChained(result),
        _ => result,
    };

    /// <summary>
    /// 0.1.0/0.2.0 hold one IPv4 and one IPv6 address, each with its routes: keep the first address of each family,
    /// and the routes (destination and gateway only) of a family that kept an address.
    /// </summary>
    private static CniResult ToLegacy(CniResult result, bool requireAddress)
    {
        var ip4 = result.Ips.FirstOrDefault(ip => ip.Address.IsIPv4);
        var ip6 = result.Ips.FirstOrDefault(ip => !ip.Address.IsIPv4);
        if (requireAddress && ip4 is null && ip6 is null)
        {
            // libcni refuses too: a 0.2.0 result must have an address.
            throw new CniException(CniErrorCode.IncompatibleCniVersion, "cannot convert: no valid IP addresses");
        }

        var ips = new List<CniIpConfig>(2);
        if (ip4 is not null)
        {
            ips.Add(ip4.Interface is null ? ip4 : ip4 with { Interface = null });
        }

        if (ip6 is not null)
        {
            ips.Add(ip6.Interface is null ? ip6 : ip6 with { Interface = null });
        }

        // Routes live under ip4 or ip6 by destination family, so IPv4 routes come first when read back.
        var routes = new List<CniRoute>(result.Routes.Length);
        if (ip4 is not null)
        {
            routes.AddRange(result.Routes.Where(r => r.Dst.IsIPv4).Select(r => r.DstAndGwOnly()));
        }

        if (ip6 is not null)
        {
            routes.AddRange(result.Routes.Where(r => !r.Dst.IsIPv4).Select(r => r.DstAndGwOnly()));
        }

        return result with { Interfaces = [], Ips = [.. ips], Routes = [.. routes] };
    }

    /// <summary>0.3.x/0.4.0 interfaces have only a name, a MAC and a sandbox; addresses and routes pass whole.</summary>
    private static CniResult ToChained(CniResult result)
    {
        if (result.Interfaces.All(i => i.Mtu is null && i.SocketPath is null && i.PciId is null))
        {
            return result;
        }

        return result with
        {
            Interfaces = [.. result.Interfaces.Select(i => new CniInterface { Name = i.Name, Mac = i.Mac, Sandbox = i.Sandbox })],
        };
    }
}
