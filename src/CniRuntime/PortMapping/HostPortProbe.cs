using System.Net;
using System.Net.Sockets;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Refuses host ports that a host process holds, by binding each (address or any, protocol, port) and releasing the
/// socket at once, as Docker and the kubelet do. A specific address that is not local is not checked.
/// </summary>
internal static class HostPortProbe
{
    private const ProtocolType Sctp = (ProtocolType)132;

    /// <exception cref="CniException">A host socket holds one of the ports.</exception>
    public static void Check(string sandboxId, IEnumerable<PublishedPort> ports)
    {
        foreach (var p in ports)
        {
            var family = p.IsIPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
            var address = p.HostAddress ?? (p.IsIPv6 ? IPAddress.IPv6Any : IPAddress.Any);
            Socket socket;
            try
            {
                socket = p.Protocol switch
                {
                    "udp" => new Socket(family, SocketType.Dgram, ProtocolType.Udp),
                    "sctp" => new Socket(family, SocketType.Stream, Sctp),
                    _ => new Socket(family, SocketType.Stream, ProtocolType.Tcp),
                };
            }
            catch (SocketException)
            {
                // No SCTP (module not loaded) or no IPv6 on this host: nothing can listen there either.
                continue;
            }

            using (socket)
            {
                try
                {
                    if (p.IsIPv6)
                    {
                        socket.DualMode = false;
                    }

                    if (p.Protocol != "udp")
                    {
                        // Lets a port in TIME_WAIT pass; a listener still fails the bind.
                        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    }

                    socket.Bind(new IPEndPoint(address, p.HostPort));
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    throw new CniException(
                        CniErrorCode.InvalidNetworkConfig,
                        $"cannot publish {PortPlan.Key(p)} for sandbox {sandboxId}: a host process already uses the port (bind failed: address in use)");
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported)
                {
                    // Not a local address (yet): nothing on this host can hold it.
                }
            }
        }
    }
}
