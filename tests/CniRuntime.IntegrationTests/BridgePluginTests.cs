using System.Net;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>The reference bridge plugin with host-local IPAM, driven through CniClient into real namespaces.</summary>
[Trait("Category", "Integration")]
public sealed class BridgePluginTests : IAsyncLifetime
{
    private readonly NetnsFixture _sandbox = new();

    public Task InitializeAsync() => _sandbox.InitializeAsync();

    public Task DisposeAsync() => _sandbox.DisposeAsync();

    [IntegrationFact]
    public async Task Add_attaches_the_container_to_the_bridge_with_an_address_from_the_subnet_and_check_passes()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var subnet = NewSubnet();
        var list = Conflists.Bridge("cnirt-it-bridge", bridge, _sandbox.IpamDataDirectory, subnet);
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path, InterfaceName = "eth0" };

        var result = await client.AddNetworkListAsync(list, runtime);

        Assert.Equal(1, _sandbox.AssertEveryResultMatchesSchema());
        Assert.Equal(CniVersion.V100, result.CniVersion);
        Assert.Equal(3, result.Interfaces.Length);
        Assert.Equal((bridge, (string?)null), (result.Interfaces[0].Name, result.Interfaces[0].Sandbox));
        var hostVeth = result.Interfaces[1].Name;
        Assert.StartsWith("veth", hostVeth, StringComparison.Ordinal);
        Assert.Null(result.Interfaces[1].Sandbox);
        Assert.Equal(("eth0", netns.Path), (result.Interfaces[2].Name, result.Interfaces[2].Sandbox));
        var ip = Assert.Single(result.Ips);
        Assert.Equal(2, ip.Interface);
        Assert.Equal(subnet.Host(2) + "/24", ip.Address.ToString());
        Assert.Equal(IPAddress.Parse(subnet.Host(1)), ip.Gateway);
        var route = Assert.Single(result.Routes);
        Assert.Equal(("0.0.0.0/0", (IPAddress?)null), (route.Dst.ToString(), route.Gw));

        Assert.Equal([subnet.Host(2) + "/24"], await Ipv4AddressesAsync(netns, "eth0"));
        Assert.Equal(
            [$"default via {subnet.Host(1)} dev eth0", $"{subnet.Cidr} dev eth0"],
            await Ipv4RoutesAsync(netns));
        Assert.Equal([subnet.Host(1) + "/24"], await Ipv4AddressesAsync(null, bridge));
        Assert.Contains("UP", Flags((await FindLinkAsync(null, bridge))!));
        Assert.Equal([hostVeth], await BridgePortsAsync(bridge));
        Assert.True(File.Exists(client.Cache.GetPath(list.Name, runtime.ContainerId, "eth0")));
        Assert.True(File.Exists(Path.Combine(_sandbox.IpamDataDirectory, list.Name, subnet.Host(2))));

        await client.CheckNetworkListAsync(list, runtime);
    }

    [IntegrationFact]
    public async Task Delete_removes_both_veth_ends_frees_the_address_and_the_cache_file_and_can_be_repeated()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var subnet = NewSubnet();
        var list = Conflists.Bridge("cnirt-it-bridge", bridge, _sandbox.IpamDataDirectory, subnet);
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path, InterfaceName = "eth0" };
        var result = await client.AddNetworkListAsync(list, runtime);
        var hostVeth = result.Interfaces[1].Name;
        var cacheFile = client.Cache.GetPath(list.Name, runtime.ContainerId, "eth0");
        var reservation = Path.Combine(_sandbox.IpamDataDirectory, list.Name, subnet.Host(2));

        await client.DeleteNetworkListAsync(list, runtime);

        Assert.Null(await FindLinkAsync(netns, "eth0"));
        Assert.Null(await FindLinkAsync(null, hostVeth));
        Assert.Empty(await BridgePortsAsync(bridge));
        Assert.False(File.Exists(reservation));
        Assert.False(File.Exists(cacheFile));
        Assert.Empty(await client.GetCachedAttachmentsAsync(runtime.ContainerId));

        await client.DeleteNetworkListAsync(list, runtime);

        Assert.False(File.Exists(cacheFile));
    }

    [IntegrationFact]
    public async Task Two_containers_on_one_bridge_get_distinct_addresses_and_each_delete_frees_only_its_own()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var subnet = NewSubnet();
        var list = Conflists.Bridge("cnirt-it-bridge", bridge, _sandbox.IpamDataDirectory, subnet);
        var first = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = (await _sandbox.AddNamespaceAsync()).Path };
        var second = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = (await _sandbox.AddNamespaceAsync()).Path };
        var reservations = Path.Combine(_sandbox.IpamDataDirectory, list.Name);

        var firstResult = await client.AddNetworkListAsync(list, first);
        var secondResult = await client.AddNetworkListAsync(list, second);

        Assert.Equal(subnet.Host(2) + "/24", Assert.Single(firstResult.Ips).Address.ToString());
        Assert.Equal(subnet.Host(3) + "/24", Assert.Single(secondResult.Ips).Address.ToString());
        Assert.Equal(
            new[] { firstResult.Interfaces[1].Name, secondResult.Interfaces[1].Name }.Order(StringComparer.Ordinal),
            (await BridgePortsAsync(bridge)).Order(StringComparer.Ordinal));
        Assert.Equal(first.ContainerId, (await File.ReadAllLinesAsync(Path.Combine(reservations, subnet.Host(2))))[0]);
        Assert.Equal(second.ContainerId, (await File.ReadAllLinesAsync(Path.Combine(reservations, subnet.Host(3))))[0]);

        await client.DeleteNetworkListAsync(list, first);

        Assert.False(File.Exists(Path.Combine(reservations, subnet.Host(2))));
        Assert.True(File.Exists(Path.Combine(reservations, subnet.Host(3))));
        Assert.Equal([secondResult.Interfaces[1].Name], await BridgePortsAsync(bridge));
        await client.CheckNetworkListAsync(list, second);

        await client.DeleteNetworkListAsync(list, second);

        Assert.False(File.Exists(Path.Combine(reservations, subnet.Host(3))));
        Assert.Empty(await BridgePortsAsync(bridge));
        Assert.Empty(await client.GetCachedAttachmentsAsync());
    }

    [IntegrationFact]
    public async Task Add_fails_with_host_locals_error_when_the_range_is_exhausted_and_the_rollback_leaves_no_veth_and_no_cache_file()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var subnet = NewSubnet();
        var only = subnet.Host(2);
        var range = $$"""{ "subnet": "{{subnet.Prefix}}.0/30", "rangeStart": "{{only}}", "rangeEnd": "{{only}}" }""";
        var list = Conflists.Bridge("cnirt-it-full", bridge, _sandbox.IpamDataDirectory, range);
        var holder = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = (await _sandbox.AddNamespaceAsync()).Path };
        var latecomerNetns = await _sandbox.AddNamespaceAsync();
        var latecomer = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = latecomerNetns.Path };
        var held = await client.AddNetworkListAsync(list, holder);

        var error = await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkListAsync(list, latecomer));

        Assert.Equal(CniErrorCode.Internal, error.Code);
        Assert.Equal($"failed to allocate for range 0: no IP addresses available in range set: {only}-{only}", error.ErrorMessage);
        Assert.Null(error.Details);
        Assert.Equal(("bridge", "cnirt-it-full", "ADD"), (error.PluginType, error.NetworkName, error.Command));
        Assert.Equal(
            $"plugin type=\"bridge\" name=\"cnirt-it-full\" failed (add): failed to allocate for range 0: no IP addresses available in range set: {only}-{only}",
            error.Message);
        Assert.Null(await FindLinkAsync(latecomerNetns, "eth0"));
        Assert.Equal([held.Interfaces[1].Name], await BridgePortsAsync(bridge));
        Assert.False(File.Exists(client.Cache.GetPath(list.Name, latecomer.ContainerId, "eth0")));
        Assert.True(File.Exists(client.Cache.GetPath(list.Name, holder.ContainerId, "eth0")));
        Assert.Equal(holder.ContainerId, (await File.ReadAllLinesAsync(Path.Combine(_sandbox.IpamDataDirectory, list.Name, only)))[0]);
    }

    [IntegrationFact]
    public async Task Delete_after_the_namespace_is_gone_still_frees_the_address_and_the_cache_file()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var subnet = NewSubnet();
        var list = Conflists.Bridge("cnirt-it-bridge", bridge, _sandbox.IpamDataDirectory, subnet);
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path };
        await client.AddNetworkListAsync(list, runtime);
        await RunAsync(Prerequisites.Ip, "netns", "delete", netns.Name);

        await client.DeleteNetworkListAsync(list, runtime with { NetworkNamespace = null });

        Assert.False(File.Exists(Path.Combine(_sandbox.IpamDataDirectory, list.Name, subnet.Host(2))));
        Assert.False(File.Exists(client.Cache.GetPath(list.Name, runtime.ContainerId, "eth0")));
    }

    [IntegrationFact]
    public async Task Gc_deletes_the_cached_attachments_not_listed_as_valid_and_keeps_the_others()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var subnet = NewSubnet();
        var list = Conflists.Bridge("cnirt-it-bridge", bridge, _sandbox.IpamDataDirectory, subnet);
        var kept = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = (await _sandbox.AddNamespaceAsync()).Path };
        var staleNetns = await _sandbox.AddNamespaceAsync();
        var stale = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = staleNetns.Path };
        var keptResult = await client.AddNetworkListAsync(list, kept);
        await client.AddNetworkListAsync(list, stale);

        await client.GcNetworkListAsync(list, new GcArgs([new GcAttachment(kept.ContainerId, "eth0")]));

        Assert.True(File.Exists(Path.Combine(_sandbox.IpamDataDirectory, list.Name, subnet.Host(2))));
        Assert.False(File.Exists(Path.Combine(_sandbox.IpamDataDirectory, list.Name, subnet.Host(3))));
        Assert.Null(await FindLinkAsync(staleNetns, "eth0"));
        Assert.Equal([keptResult.Interfaces[1].Name], await BridgePortsAsync(bridge));
        var attachment = Assert.Single(await client.GetCachedAttachmentsAsync());
        Assert.Equal(kept.ContainerId, attachment.ContainerId);
    }
}
