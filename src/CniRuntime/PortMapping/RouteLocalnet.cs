using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// The localhost opt-in: DNAT of 127.0.0.1 needs <c>route_localnet=1</c> on the interface that leads to the
/// container (the bridge), never globally. The guard rule in our raw chain drops 127.0.0.0/8 arriving on any other
/// interface than <c>lo</c>, so neighbours cannot reach loopback-published ports with forged frames.
/// </summary>
internal static class RouteLocalnet
{
    /// <summary>Sets <c>route_localnet=1</c> on the interfaces whose IPv4 subnet holds each address.</summary>
    /// <exception cref="CniException">No interface holds an address, or the sysctl cannot be written.</exception>
    public static void Enable(IEnumerable<IPAddress> containers)
    {
        var interfaces = NetworkInterface.GetAllNetworkInterfaces();
        foreach (var container in containers.Where(c => c.AddressFamily == AddressFamily.InterNetwork).Distinct())
        {
            var name = interfaces.FirstOrDefault(i => i.GetIPProperties().UnicastAddresses.Any(u =>
                u.Address.AddressFamily == AddressFamily.InterNetwork && SameSubnet(u.Address, container, u.PrefixLength)))?.Name
                ?? throw new CniException(CniErrorCode.InvalidNetworkConfig, $"publishing on 127.0.0.1: no host interface has a subnet holding container address {container}");
            var path = $"/proc/sys/net/ipv4/conf/{name}/route_localnet";
            try
            {
                if (File.ReadAllText(path).Trim() != "1")
                {
                    File.WriteAllText(path, "1");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CniException(CniErrorCode.IoFailure, $"publishing on 127.0.0.1: cannot set {path}: {ex.Message}", null, ex);
            }
        }
    }

    private static bool SameSubnet(IPAddress a, IPAddress b, int prefixLength)
    {
        if (prefixLength is <= 0 or >= 32)
        {
            return false;
        }

        var mask = uint.MaxValue << (32 - prefixLength);
        return (BitConverter.ToUInt32([.. a.GetAddressBytes().Reverse()]) & mask) == (BitConverter.ToUInt32([.. b.GetAddressBytes().Reverse()]) & mask);
    }
}
