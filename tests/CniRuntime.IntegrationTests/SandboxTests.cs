using CniRuntime.Configuration;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Namespaces;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>Sandboxes with the reference plugins: namespaces created by the library, several networks, rollback, teardown.</summary>
[Trait("Category", "Integration")]
public sealed class SandboxTests : IAsyncLifetime
{
    private readonly NetnsFixture _node = new();
    private string _configDirectory = string.Empty;
    private string _bridge = string.Empty;
    private Subnet _bridgeSubnet = null!;
    private Subnet _ptpSubnet = null!;
    private SandboxManager _manager = null!;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _configDirectory = _node.NewTempDirectory("net.d");
        _bridge = _node.NewBridgeName();
        _bridgeSubnet = NewSubnet();
        _ptpSubnet = NewSubnet();
        Write("10-bridge.conflist", Conflists.Bridge("sb-bridge", _bridge, _node.IpamDataDirectory, _bridgeSubnet));
        Write("20-ptp.conflist", Conflists.Ptp("sb-ptp", _node.IpamDataDirectory, _ptpSubnet));
        _manager = new SandboxManager(
            new SandboxManagerOptions
            {
                Cni = new CniClientOptions { PluginDirectories = [Prerequisites.PluginDirectory], CacheDirectory = _node.CacheDirectory },
                ConfigDirectory = _configDirectory,
                NamespacePrefix = "cnirt-it-sb-",
            });
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _manager.GcAsync([]);
        }
        finally
        {
            await _node.DisposeAsync();
        }
    }

    private void Write(string file, NetworkConfigList list) => File.WriteAllBytes(Path.Combine(_configDirectory, file), list.Bytes.ToArray());

    private static SandboxRequest TwoNetworks() => new()
    {
        Networks = [new SandboxNetworkRequest("sb-bridge"), new SandboxNetworkRequest("sb-ptp") { InterfaceName = "net1" }],
        AttachLoopback = true,
        Labels = new Dictionary<string, string> { ["K8S_POD_NAMESPACE"] = "default", ["K8S_POD_NAME"] = "web" },
    };

    private static Netns NetnsOf(Sandbox sandbox) => new(Path.GetFileName(sandbox.NetworkNamespace));

    // The node's links holding an address of the subnet (ptp puts the gateway on its host-side veth). Other test
    // classes add links to the node meanwhile, so the whole list cannot be compared.
    private static async Task<List<string>> NodeLinksWithAddressInAsync(Subnet subnet)
    {
        using var json = System.Text.Json.JsonDocument.Parse(await NetnsFixture.RunAsync(Prerequisites.Ip, "-j", "addr", "show"));
        return [.. json.RootElement.EnumerateArray()
            .Where(l => l.TryGetProperty("addr_info", out var addresses) && addresses.EnumerateArray().Any(a => a.GetProperty("local").GetString()!.StartsWith(subnet.Prefix + ".", StringComparison.Ordinal)))
            .Select(l => l.GetProperty("ifname").GetString()!)];
    }

    private string[] IpamReservations() =>
        [.. Directory.EnumerateFiles(_node.IpamDataDirectory, "*", SearchOption.AllDirectories)
            .Select(Path.GetFileName).OfType<string>()
            .Where(f => char.IsAsciiDigit(f[0]))];

    [IntegrationFact]
    public async Task A_sandbox_joins_two_networks_with_the_addresses_the_plugins_report()
    {
        Prerequisites.Require();

        var sandbox = await _manager.SetupAsync(TwoNetworks());

        var netns = NetnsOf(sandbox);
        Assert.True(new NetworkNamespaces().Exists(sandbox.NetworkNamespace));
        Assert.Equal(["lo", "eth0", "net1"], sandbox.Interfaces.Select(i => i.Name));
        var eth0 = sandbox.Interfaces[1].Addresses.Single();
        var net1 = sandbox.Interfaces[2].Addresses.Single();
        Assert.Equal(_bridgeSubnet.Host(1), eth0.Gateway?.ToString());
        Assert.StartsWith(_ptpSubnet.Prefix + ".", net1.Address.Address.ToString(), StringComparison.Ordinal);
        Assert.Equal([eth0.Address.ToString()], await Ipv4AddressesAsync(netns, "eth0"));
        Assert.Equal([net1.Address.ToString()], await Ipv4AddressesAsync(netns, "net1"));
        Assert.Contains("UP", Flags((await FindLinkAsync(netns, "lo"))!));
        Assert.Equal(2, IpamReservations().Length);
    }

    [IntegrationFact]
    public async Task Teardown_removes_links_addresses_cache_files_and_the_namespace()
    {
        Prerequisites.Require();
        var sandbox = await _manager.SetupAsync(TwoNetworks());

        Assert.True(await _manager.TeardownAsync(sandbox.Id));

        Assert.False(File.Exists(sandbox.NetworkNamespace));
        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Empty(IpamReservations());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
        Assert.Empty(await _manager.ListAsync());
        Assert.False(await _manager.TeardownAsync(sandbox.Id));
    }

    [IntegrationFact]
    public async Task When_the_second_network_fails_nothing_is_left_behind()
    {
        Prerequisites.Require();
        // A ptp network whose range is a single address, already taken by another sandbox.
        var full = NewSubnet();
        Write("30-full.conflist", NetworkConfigList.Parse(System.Text.Encoding.UTF8.GetBytes($$$"""
            {"cniVersion":"1.0.0","name":"sb-full","plugins":[{"type":"ptp","ipam":{"type":"host-local","dataDir":"{{{_node.IpamDataDirectory}}}",
              "ranges":[[{"subnet":"{{{full.Cidr}}}","rangeStart":"{{{full.Host(2)}}}","rangeEnd":"{{{full.Host(2)}}}"}]]}}]}
            """)));
        var holder = await _manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("sb-full")] });
        var reservationsBefore = IpamReservations();

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _manager.SetupAsync(new SandboxRequest
        {
            Id = "cnirt-it-rollback",
            Networks = [new SandboxNetworkRequest("sb-bridge"), new SandboxNetworkRequest("sb-full")],
        }));

        Assert.StartsWith("plugin type=\"ptp\" name=\"sb-full\" failed (add): failed to allocate", error.Message, StringComparison.Ordinal);
        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Equal(reservationsBefore, IpamReservations());
        Assert.Equal([holder.Id], (await _manager.ListAsync()).Select(s => s.Id));
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")), f => f.Contains("rollback", StringComparison.Ordinal));
        Assert.DoesNotContain(new NetworkNamespaces().List(), n => n.StartsWith("cnirt-it-sb-cnirt-it-rol", StringComparison.Ordinal));
    }

    [IntegrationFact]
    public async Task When_a_later_plugin_of_the_failing_network_fails_its_own_link_and_address_are_undone_too()
    {
        Prerequisites.Require();
        // ptp creates its veth pair and takes an address, then tuning fails on a sysctl that does not exist.
        var subnet = NewSubnet();
        Write("40-tuning-fails.conflist", Conflists.PtpChain("sb-tuning-fails", _node.IpamDataDirectory, subnet, """{"type":"tuning","sysctl":{"net.ipv4.conf.eth1.no_such_setting":"1"}}"""));
        var reservationsBefore = IpamReservations();

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _manager.SetupAsync(new SandboxRequest
        {
            Id = "cnirt-it-rollback-tuning",
            Networks = [new SandboxNetworkRequest("sb-bridge"), new SandboxNetworkRequest("sb-tuning-fails")],
        }));

        Assert.StartsWith("plugin type=\"tuning\" name=\"sb-tuning-fails\" failed (add):", error.Message, StringComparison.Ordinal);
        Assert.Empty(await NodeLinksWithAddressInAsync(subnet));
        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Equal(reservationsBefore, IpamReservations());
        Assert.Empty(await _manager.ListAsync());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
        Assert.DoesNotContain(new NetworkNamespaces().List(), n => n.StartsWith("cnirt-it-sb-", StringComparison.Ordinal));
    }

    [IntegrationFact]
    public async Task Teardown_works_after_the_configuration_was_deleted()
    {
        Prerequisites.Require();
        var sandbox = await _manager.SetupAsync(TwoNetworks());
        foreach (var file in Directory.EnumerateFiles(_configDirectory))
        {
            File.Delete(file);
        }

        Assert.True(await _manager.TeardownAsync(sandbox.Id));

        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Empty(IpamReservations());
    }

    [IntegrationFact]
    public async Task Teardown_uses_the_configuration_ADD_used_when_the_file_has_changed_since()
    {
        Prerequisites.Require();
        var sandbox = await _manager.SetupAsync(TwoNetworks());
        // Another bridge and subnet under the same network name: DEL must still undo what ADD did.
        Write("10-bridge.conflist", Conflists.Bridge("sb-bridge", _node.NewBridgeName(), _node.IpamDataDirectory, NewSubnet()));

        Assert.True(await _manager.TeardownAsync(sandbox.Id));

        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Empty(IpamReservations());
    }

    [IntegrationFact]
    public async Task Teardown_with_a_plugin_binary_missing_fails_naming_it_keeps_the_record_and_succeeds_once_it_is_back()
    {
        Prerequisites.Require();
        var plugins = _node.NewTempDirectory("bin");
        foreach (var plugin in new[] { "bridge", "host-local", "ptp", "loopback" })
        {
            File.CreateSymbolicLink(Path.Combine(plugins, plugin), Path.Combine(Prerequisites.PluginDirectory, plugin));
        }

        var manager = new SandboxManager(new SandboxManagerOptions
        {
            Cni = new CniClientOptions { PluginDirectories = [plugins], CacheDirectory = _node.CacheDirectory },
            ConfigDirectory = _configDirectory,
            NamespacePrefix = "cnirt-it-sb-",
        });
        var sandbox = await manager.SetupAsync(TwoNetworks());
        File.Delete(Path.Combine(plugins, "ptp"));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => manager.TeardownAsync(sandbox.Id));

        Assert.Contains("failed to find plugin \"ptp\"", error.Message + string.Join(" ", error.Errors.Select(e => e.Message)), StringComparison.Ordinal);
        Assert.NotNull(await manager.FindAsync(sandbox.Id));
        Assert.Empty(await BridgePortsAsync(_bridge)); // the other networks were torn down all the same
        File.CreateSymbolicLink(Path.Combine(plugins, "ptp"), Path.Combine(Prerequisites.PluginDirectory, "ptp"));
        Assert.True(await manager.TeardownAsync(sandbox.Id));
        Assert.Empty(IpamReservations());
        Assert.Null(await manager.FindAsync(sandbox.Id));
    }

    [IntegrationFact]
    public async Task Teardown_works_after_the_namespace_was_deleted()
    {
        Prerequisites.Require();
        var sandbox = await _manager.SetupAsync(TwoNetworks());
        await RunAsync(Prerequisites.Ip, "netns", "delete", NetnsOf(sandbox).Name);

        Assert.True(await _manager.TeardownAsync(sandbox.Id));

        Assert.Empty(await BridgePortsWhenEmptyAsync(_bridge, TimeSpan.FromSeconds(10)));
        Assert.Empty(IpamReservations());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
    }

    [IntegrationFact]
    public async Task Twenty_sandboxes_set_up_in_parallel_get_distinct_addresses_and_leave_nothing()
    {
        Prerequisites.Require();

        var sandboxes = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => _manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("sb-bridge")] })));

        var addresses = sandboxes.Select(s => s.Addresses.Single().Address.ToString()).ToList();
        Assert.Equal(20, addresses.Distinct().Count());
        Assert.Equal(20, (await BridgePortsAsync(_bridge)).Count);
        foreach (var sandbox in sandboxes)
        {
            Assert.Equal([sandbox.Addresses.Single().Address.ToString()], await Ipv4AddressesAsync(NetnsOf(sandbox), "eth0"));
        }

        await Task.WhenAll(sandboxes.Select(s => _manager.TeardownAsync(s.Id)));

        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Empty(IpamReservations());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
        Assert.DoesNotContain(new NetworkNamespaces().List(), n => n.StartsWith("cnirt-it-sb-", StringComparison.Ordinal));
        Assert.Empty(await _manager.ListAsync());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "sandboxes")));
        Assert.Equal(["gc"], Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "locks")).Select(Path.GetFileName));
    }

    [IntegrationFact]
    public async Task Readiness_and_check_use_the_real_plugins()
    {
        Prerequisites.Require();
        var sandbox = await _manager.SetupAsync(TwoNetworks());

        var readiness = await _manager.GetReadinessAsync(["sb-bridge", "sb-ptp"]);
        await _manager.CheckAsync(sandbox.Id);

        Assert.True(readiness.IsReady, string.Join("; ", readiness.Networks.Select(n => n.Problem)));
    }
}
