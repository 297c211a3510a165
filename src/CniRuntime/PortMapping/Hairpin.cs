using System.Net;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// One hairpin rule: connections DNAT'd to <see cref="Container"/> from its own subnet are masqueraded, so that the
/// container itself and its neighbours on the same bridge can use the published ports through the host IP.
/// </summary>
/// <param name="Subnet">The container's subnet (host bits cleared).</param>
/// <param name="Container">The container address.</param>
internal readonly record struct Hairpin(IpPrefix Subnet, IPAddress Container)
{
    public bool IsIPv4 => Subnet.IsIPv4;

    /// <summary>The hairpins of a publication: the subnet and address of each DNAT target.</summary>
    public static List<Hairpin> Of(IReadOnlyList<IpPrefix> addresses, IReadOnlyCollection<PublishedPort> ports)
    {
        var result = new List<Hairpin>();
        foreach (var target in ports.Select(p => p.ContainerAddress).Distinct())
        {
            var prefix = addresses.FirstOrDefault(a => target.Equals(a.Address));
            result.Add(new Hairpin(prefix.Address is null ? new IpPrefix(target, target.GetAddressBytes().Length * 8) : Network(prefix), target));
        }

        return result;
    }

    /// <summary>The network of a prefix (host bits cleared).</summary>
    public static IpPrefix Network(IpPrefix prefix)
    {
        var bytes = prefix.Address.GetAddressBytes();
        for (var bit = prefix.PrefixLength; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IpPrefix(new IPAddress(bytes), prefix.PrefixLength);
    }
}
