using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
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
        var nodeEnd = string.Create(CultureInfo.InvariantCulture, $"pmn{n}");
        var clientEnd = string.Create(CultureInfo.InvariantCulture, $"pmc{n}");
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

    /// <summary>The number of elements in the maps and sets of our tables, and the number of rules in them.</summary>
    public static async Task<(int Elements, int Rules, int Tables)> CountOursAsync(string table)
    {
        using var document = JsonDocument.Parse(await RunAsync("nft", "-j", "list", "ruleset"));
        int elements = 0, rules = 0, tables = 0;
        foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            foreach (var kind in new[] { "map", "set" })
            {
                if (item.TryGetProperty(kind, out var s) && s.GetProperty("table").GetString() == table && s.TryGetProperty("elem", out var elem))
                {
                    elements += elem.GetArrayLength();
                }
            }

            if (item.TryGetProperty("rule", out var r) && r.GetProperty("table").GetString() == table)
            {
                rules++;
            }

            if (item.TryGetProperty("table", out var t) && t.ValueKind == JsonValueKind.Object && t.GetProperty("name").GetString() == table)
            {
                tables++;
            }
        }

        return (elements, rules, tables);
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
