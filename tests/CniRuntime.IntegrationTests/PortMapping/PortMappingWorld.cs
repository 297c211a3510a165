using System.Diagnostics;
using System.Globalization;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Ports;

/// <summary>
/// A node (the test process's namespace) with a bridge network, sandboxes on it with TCP and UDP echo servers
/// (python3), and a client namespace linked to the node by a veth pair, standing for another host.
/// </summary>
internal sealed class PortMappingWorld : IAsyncDisposable
{
    private const string Server = """
        import socket, sys, threading
        def tcp(port):
            s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', port)); s.listen(64)
            while True:
                c, a = s.accept()
                try:
                    d = c.recv(1024); c.sendall(b'tcp:' + d + b':' + a[0].removeprefix('::ffff:').encode())
                finally:
                    c.close()
        def udp(port):
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', port))
            while True:
                d, a = s.recvfrom(1024); s.sendto(b'udp:' + d + b':' + a[0].removeprefix('::ffff:').encode(), a)
        threading.Thread(target=tcp, args=(int(sys.argv[1]),), daemon=True).start()
        udp(int(sys.argv[2]))
        """;

    private const string Client = """
        import socket, sys
        h, p, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        fam = socket.AF_INET6 if ':' in h else socket.AF_INET
        if proto == 'tcp':
            s = socket.create_connection((h, p), timeout=3); s.sendall(b'hi'); print(s.recv(1024).decode())
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(float(sys.argv[5]) if len(sys.argv) > 5 else 3)
            if len(sys.argv) > 4: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('', int(sys.argv[4])))
            s.sendto(b'hi', (h, p)); print(s.recvfrom(1024)[0].decode())
        """;

    // Prints "ready", then the destination (address:port) of the first IPv4 packet of the protocol from the source
    // address, or "none" when none comes in time. A raw socket sees packets of protocols the kernel has no sockets
    // for (SCTP here), and packets before any socket takes them.
    private const string Sniffer = """
        import select, socket, sys, time
        proto, src, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
        print('ready', flush=True)
        end = time.time() + secs
        while time.time() < end:
            if not select.select([s], [], [], max(0, end - time.time()))[0]:
                break
            d = s.recv(65535); ihl = (d[0] & 15) * 4
            if socket.inet_ntoa(d[12:16]) == src:
                print(socket.inet_ntoa(d[16:20]) + ':' + str(int.from_bytes(d[ihl + 2:ihl + 4], 'big')), flush=True); sys.exit(0)
        print('none', flush=True)
        """;

    // Sends an SCTP INIT (common header with verification tag 0, CRC32c checksum) to address:port over a raw socket.
    private const string SctpInit = """
        import socket, struct, sys
        def crc32c(data):
            crc = 0xffffffff
            for b in data:
                crc ^= b
                for _ in range(8):
                    crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
            return crc ^ 0xffffffff
        dst, port = sys.argv[1], int(sys.argv[2])
        init = struct.pack('!BBHIIHHI', 1, 0, 20, 0x1234567, 65535, 1, 1, 1)
        head = struct.pack('!HH', 40000, port) + b'\0' * 8
        packet = head[:8] + struct.pack('<I', crc32c(head + init)) + init
        socket.socket(socket.AF_INET, socket.SOCK_RAW, 132).sendto(packet, (dst, 0))
        """;

    // Forges an Ethernet frame carrying a TCP SYN from src to dst:port and sends it out of ifname to the MAC given:
    // what a neighbour on the link can do, whatever the destination address.
    private const string ForgedSyn = """
        import socket, struct, sys
        ifname, mac, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        def csum(b):
            b += b'\0' * (len(b) % 2); t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
            while t >> 16: t = (t & 0xffff) + (t >> 16)
            return ~t & 0xffff
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((ifname, 0))
        a, b = socket.inet_aton(src), socket.inet_aton(dst)
        tcp = struct.pack('!HHIIBBHHH', 40001, port, 1, 0, 5 << 4, 2, 64240, 0, 0)
        tcp = tcp[:16] + struct.pack('!H', csum(a + b + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, a, b)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        s.send(bytes.fromhex(mac.replace(':', '')) + s.getsockname()[4] + b'\x08\x00' + ip + tcp)
        """;

    private readonly NetnsFixture _fixture;
    private readonly List<Process> _servers = [];

    private PortMappingWorld(NetnsFixture fixture) => _fixture = fixture;

    public CniClient CniClient { get; private set; } = null!;

    public NetworkConfigList Network { get; private set; } = null!;

    public Subnet BridgeSubnet { get; private set; } = null!;

    public Subnet LinkSubnet { get; private set; } = null!;

    /// <summary>The bridge's IPv6 /64 without its "::/64" (e.g. <c>fd42:0:12</c>).</summary>
    public string BridgeSubnet6 { get; private set; } = null!;

    /// <summary>The IPv6 /64 of the link to the client, without "::/64".</summary>
    public string LinkSubnet6 { get; private set; } = null!;

    /// <summary>The node's IPv6 address on the link to the client.</summary>
    public string HostIp6 => LinkSubnet6 + "::1";

    /// <summary>The other host.</summary>
    public Netns ClientNs { get; private set; } = null!;

    /// <summary>The node's address on the link to the client: the host IP clients connect to.</summary>
    public string HostIp => LinkSubnet.Host(1);

    /// <summary>The client's address on the link.</summary>
    public string ClientIp => LinkSubnet.Host(2);

    /// <summary>The node's end of the link to the client.</summary>
    public string NodeInterface { get; private set; } = null!;

    /// <summary>The client's end of the link.</summary>
    public string ClientInterface { get; private set; } = null!;

    public static async Task<PortMappingWorld> CreateAsync(NetnsFixture fixture)
    {
        var world = new PortMappingWorld(fixture)
        {
            CniClient = fixture.CreateClient(),
            BridgeSubnet = NewSubnet(),
            LinkSubnet = NewSubnet(),
            BridgeSubnet6 = string.Create(CultureInfo.InvariantCulture, $"fd42:{NextUnique():x}:1"),
            LinkSubnet6 = string.Create(CultureInfo.InvariantCulture, $"fd42:{NextUnique():x}:2"),
        };
        // hairpinMode: with br_netfilter loaded (bridge-nf-call-iptables=1), a DNAT back to the sender is bridged
        // out of the port it came in on, which the bridge only does in hairpin mode (as the Docker bridge does).
        world.Network = NetworkConfigList.Parse(System.Text.Encoding.UTF8.GetBytes($$"""
            {
              "cniVersion": "1.0.0",
              "name": "cnirt-it-pm",
              "plugins": [
                {
                  "type": "bridge",
                  "bridge": "{{fixture.NewBridgeName()}}",
                  "isGateway": true,
                  "ipMasq": false,
                  "hairpinMode": true,
                  "ipam": {
                    "type": "host-local",
                    "dataDir": "{{fixture.IpamDataDirectory}}",
                    "routes": [{ "dst": "0.0.0.0/0" }, { "dst": "::/0" }],
                    "ranges": [[{ "subnet": "{{world.BridgeSubnet.Cidr}}" }], [{ "subnet": "{{world.BridgeSubnet6}}::/64" }]]
                  }
                }
              ]
            }
            """));
        await RunAsync("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
        world.ClientNs = await fixture.AddNamespaceAsync();
        var n = NextUnique();
        var nodeEnd = world.NodeInterface = string.Create(CultureInfo.InvariantCulture, $"pmn{n}");
        var clientEnd = world.ClientInterface = string.Create(CultureInfo.InvariantCulture, $"pmc{n}");
        await RunAsync(Prerequisites.Ip, "link", "add", nodeEnd, "type", "veth", "peer", "name", clientEnd, "netns", world.ClientNs.Name);
        await RunAsync(Prerequisites.Ip, "addr", "add", world.LinkSubnet.Host(1) + "/24", "dev", nodeEnd);
        await RunAsync(Prerequisites.Ip, "link", "set", nodeEnd, "up");
        await ExecAsync(world.ClientNs, Prerequisites.Ip, "addr", "add", world.LinkSubnet.Host(2) + "/24", "dev", clientEnd);
        await ExecAsync(world.ClientNs, Prerequisites.Ip, "link", "set", clientEnd, "up");
        await ExecAsync(world.ClientNs, Prerequisites.Ip, "link", "set", "lo", "up");
        await ExecAsync(world.ClientNs, Prerequisites.Ip, "route", "add", "default", "via", world.LinkSubnet.Host(1));
        await RunAsync(Prerequisites.Ip, "addr", "add", world.HostIp6 + "/64", "dev", nodeEnd, "nodad");
        await ExecAsync(world.ClientNs, Prerequisites.Ip, "addr", "add", world.LinkSubnet6 + "::2/64", "dev", clientEnd, "nodad");
        await ExecAsync(world.ClientNs, Prerequisites.Ip, "-6", "route", "add", "default", "via", world.HostIp6);
        return world;
    }

    /// <summary>Attaches a sandbox to the bridge and starts echo servers on <paramref name="tcpPort"/> and <paramref name="udpPort"/>.</summary>
    public async Task<(Netns Netns, string Id, IReadOnlyList<IpPrefix> Addresses)> AddSandboxAsync(int tcpPort, int udpPort)
    {
        var netns = await _fixture.AddNamespaceAsync();
        var id = "pm-" + Guid.NewGuid().ToString("N")[..12];
        var result = await CniClient.AddNetworkListAsync(Network, new RuntimeConfig { ContainerId = id, NetworkNamespace = netns.Path, InterfaceName = "eth0" });
        await ExecAsync(netns, Prerequisites.Ip, "link", "set", "lo", "up");
        var start = new ProcessStartInfo(Prerequisites.Ip) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", netns.Name, "python3", "-c", Server, tcpPort.ToString(CultureInfo.InvariantCulture), udpPort.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(a);
        }

        _servers.Add(Process.Start(start)!);
        for (var i = 0; ; i++)
        {
            try
            {
                await ExecAsync(netns, "python3", "-c", Client, "127.0.0.1", tcpPort.ToString(CultureInfo.InvariantCulture), "tcp");
                break;
            }
            catch (InvalidOperationException) when (i < 50)
            {
                await Task.Delay(100);
            }
        }

        return (netns, id, [.. result.Ips.Select(ip => ip.Address)]);
    }

    /// <summary>Sends "hi" from a namespace (null: the node) and returns the echo, e.g. <c>tcp:hi:10.1.2.1</c>.</summary>
    public static async Task<string> AskAsync(Netns? from, string host, int port, string protocol, int? sourcePort = null, double timeoutSeconds = 3)
    {
        string[] args = ["-c", Client, host, port.ToString(CultureInfo.InvariantCulture), protocol];
        if (sourcePort is { } source)
        {
            args = [.. args, source.ToString(CultureInfo.InvariantCulture), timeoutSeconds.ToString(CultureInfo.InvariantCulture)];
        }

        var output = from is null ? await RunAsync("python3", args) : await ExecAsync(from, "python3", args);
        return output.Trim();
    }

    /// <summary>Whether a request fails (times out or is refused).</summary>
    public static async Task<bool> FailsAsync(Netns? from, string host, int port, string protocol, int? sourcePort = null, double timeoutSeconds = 3)
    {
        try
        {
            await AskAsync(from, host, port, protocol, sourcePort, timeoutSeconds);
            return false;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    /// <summary>
    /// Starts a raw-socket sniffer in <paramref name="netns"/> for IPv4 packets of <paramref name="protocol"/> from
    /// <paramref name="source"/>, runs <paramref name="send"/> once it listens, and returns where the first such
    /// packet was addressed (<c>address:port</c>), or null when none arrived within <paramref name="seconds"/>.
    /// </summary>
    public static async Task<string?> SniffAsync(Netns netns, int protocol, string source, Func<Task> send, double seconds = 2)
    {
        var start = new ProcessStartInfo(Prerequisites.Ip) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", netns.Name, "python3", "-c", Sniffer, protocol.ToString(CultureInfo.InvariantCulture), source, seconds.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(a);
        }

        using var sniffer = Process.Start(start)!;
        try
        {
            var ready = await sniffer.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
            if (ready != "ready")
            {
                throw new InvalidOperationException($"the sniffer did not start: {ready} {await sniffer.StandardError.ReadToEndAsync()}");
            }

            await send();
            var seen = await sniffer.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(seconds + 10));
            return seen == "none" ? null : seen;
        }
        finally
        {
            if (!sniffer.HasExited)
            {
                sniffer.Kill();
            }

            await sniffer.WaitForExitAsync();
        }
    }

    /// <summary>Sends an SCTP INIT from the client namespace to <paramref name="host"/>:<paramref name="port"/>.</summary>
    public Task SendSctpInitAsync(string host, int port) =>
        ExecAsync(ClientNs, "python3", "-c", SctpInit, host, port.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Forges, in the client namespace, a TCP SYN from the client to <paramref name="destination"/>:<paramref name="port"/>
    /// inside a frame sent straight to the node's MAC address on the link, as a neighbour can.
    /// </summary>
    public async Task SendForgedSynAsync(string destination, int port)
    {
        var mac = (string)(await FindLinkAsync(null, NodeInterface))!["address"]!;
        await ExecAsync(ClientNs, "python3", "-c", ForgedSyn, ClientInterface, mac, ClientIp, destination, port.ToString(CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            try
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }

            server.Dispose();
        }
    }
}
