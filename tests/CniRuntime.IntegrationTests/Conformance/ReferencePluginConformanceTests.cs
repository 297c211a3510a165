using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Conformance;
using CniRuntime.IntegrationTests.Cli;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.IntegrationTests.Matrix;
using static CniRuntime.Testing.CniTestNode;

namespace CniRuntime.IntegrationTests.Conformance;

/// <summary>
/// The conformance run of every reference plugin, each in an isolated node prepared for it (a parent link, a
/// device, a DHCP server), compared with its row of README's conformance table, so the table is what the plugins do.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ReferencePluginConformanceTests : IAsyncLifetime
{
    private readonly MatrixNode _world = new();

    public Task InitializeAsync() => _world.InitializeAsync();

    public Task DisposeAsync() => _world.DisposeAsync();

    private CniTestNode Node => _world.Node;

    public static TheoryData<string> Plugins { get; } = new(
        "bridge", "ptp", "macvlan", "ipvlan", "vlan", "host-device", "loopback", "host-local", "static", "dhcp",
        "portmap", "firewall", "tuning", "bandwidth", "sbr", "vrf");

    [IntegrationTheory]
    [MemberData(nameof(Plugins))]
    public async Task The_conformance_report_is_the_readme_row(string plugin)
    {
        var report = await RunAsync(plugin);

        var row = ConformanceTable.Row(report);
        Assert.True(ConformanceTable.ReadmeRow(plugin) == row, $"README's conformance row for {plugin} is not what this run found; the run's row:\n{row}\n\n{report}");
    }

    // What each plugin is run with: the list and what the node needs for it.
    private async Task<ConformanceReport> RunAsync(string plugin)
    {
        var subnet = NewSubnet();
        var ipam = Conflists.HostLocal(Node.IpamDataDirectory, subnet);
        var capabilities = new Dictionary<string, JsonElement>();
        var ifName = "eth0";
        Configuration.NetworkConfigList list;
        switch (plugin)
        {
            case "bridge":
                list = Conflists.Bridge("conf-bridge", Node.NewBridgeName(), Node.IpamDataDirectory, subnet);
                break;
            case "ptp" or "host-local":
                list = Conflists.PtpChain("conf-" + plugin, Node.IpamDataDirectory, subnet);
                break;
            case "macvlan" or "ipvlan":
                list = Conflists.List("conf-" + plugin, "1.0.0", $$"""{ "type": "{{plugin}}", "master": "{{await ParentAsync()}}", "ipam": {{ipam}} }""");
                break;
            case "vlan":
                list = Conflists.List("conf-vlan", "1.0.0", $$"""{ "type": "vlan", "master": "{{await ParentAsync()}}", "vlanId": 100, "ipam": {{ipam}} }""");
                break;
            case "host-device" or "static":
                var device = await ParentAsync();
                var main = plugin == "static" ? $"\"type\": \"macvlan\", \"master\": \"{device}\"" : $"\"type\": \"host-device\", \"device\": \"{device}\"";
                list = Conflists.List("conf-" + plugin, "1.0.0", $$"""
                    { {{main}}, "ipam": { "type": "static", "addresses": [{ "address": "{{subnet.Host(5)}}/24", "gateway": "{{subnet.Host(1)}}" }] } }
                    """);
                break;
            case "loopback":
                list = Conflists.Loopback("conf-loopback");
                ifName = "lo";
                break;
            case "dhcp":
                list = (await DhcpWorld.StartAsync(Node, "conf-dhcp")).List;
                break;
            default:
                var meta = plugin switch
                {
                    "portmap" => """{ "type": "portmap", "capabilities": { "portMappings": true } }""",
                    "firewall" => """{ "type": "firewall", "backend": "iptables" }""",
                    "tuning" => """{ "type": "tuning", "mtu": 1400, "sysctl": { "net.ipv4.conf.eth0.arp_ignore": "1" } }""",
                    "bandwidth" => """{ "type": "bandwidth", "ingressRate": 1000000, "ingressBurst": 100000, "egressRate": 2000000, "egressBurst": 200000 }""",
                    "sbr" => """{ "type": "sbr" }""",
                    "vrf" => """{ "type": "vrf", "vrfname": "blue" }""",
                    _ => throw new ArgumentOutOfRangeException(nameof(plugin), plugin, "no conformance case"),
                };
                list = Conflists.PtpChain("conf-" + plugin, Node.IpamDataDirectory, subnet, meta);
                capabilities["portMappings"] = JsonSerializer.SerializeToElement(new JsonArray(new JsonObject { ["hostPort"] = 8080, ["containerPort"] = 80, ["protocol"] = "tcp" }));
                break;
        }

        return await ConformanceRunner.RunAsync(new ConformanceOptions
        {
            Network = list,
            PluginType = plugin,
            PluginDirectories = [Prerequisites.PluginDirectory],
            Node = ConformanceNode.Existing(Node.Namespace!.Name),
            InterfaceName = ifName,
            CapabilityArgs = capabilities,
        });
    }

    private async Task<string> ParentAsync()
    {
        var link = Node.NewLinkName("cnirt-m");
        await Node.AddVethAsync(link);
        return link;
    }
}

/// <summary>README's table of conformance results: one row per plugin, as <see cref="Row"/> writes it.</summary>
public static class ConformanceTable
{
    /// <summary>
    /// <c>| plugin | passed | failed (MUST) | warnings (SHOULD) | not applicable |</c>, the failed and warned
    /// requirements by identifier.
    /// </summary>
    public static string Row(ConformanceReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        static string Ids(IReadOnlyList<string> ids) => ids.Count == 0 ? "–" : string.Join(", ", ids.Select(id => $"`{id}`"));
        return $"| {report.PluginType} | {report.IdsWith(CheckOutcome.Passed).Count} | {Ids(report.IdsWith(CheckOutcome.Failed))} | {Ids(report.IdsWith(CheckOutcome.Warning))} | {report.IdsWith(CheckOutcome.NotApplicable).Count} |";
    }

    /// <summary>README's row for a plugin, or null when it has none.</summary>
    public static string? ReadmeRow(string plugin) =>
        File.ReadLines(Path.Combine(CnirtBinary.RepositoryRoot, "README.md"))
            .FirstOrDefault(l => l.StartsWith($"| {plugin} | ", StringComparison.Ordinal) && l.Count(c => c == '|') == 6);
}
