using System.Text.Json.Nodes;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Sandboxes;

/// <summary>The sandbox layer with a fake executor, fake namespaces and networks in memory.</summary>
public sealed class SandboxManagerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakePluginExecutor _executor = new();
    private readonly FakeNetworkNamespaces _namespaces = new();
    private readonly InMemoryNetworkConfigSource _configs = new();
    private readonly SandboxManager _manager;

    public SandboxManagerTests()
    {
        var cni = new CniClientOptions { PluginDirectories = [FakePluginExecutor.Directory], CacheDirectory = _dir.Combine("cache"), TransientRetries = 0 };
        _manager = new SandboxManager(new SandboxManagerOptions { Cni = cni }, _namespaces, new CniClient(cni, _executor), _configs);
        _configs.Add("""{"cniVersion":"1.0.0","name":"bridge-net","plugins":[{"type":"bridge","capabilities":{"portMappings":true}},{"type":"portmap","capabilities":{"portMappings":true,"bandwidth":true}}]}""");
        _configs.Add("""{"cniVersion":"1.0.0","name":"ptp-net","plugins":[{"type":"ptp","capabilities":{"bandwidth":true}}]}""");
        _configs.Add("""{"cniVersion":"1.1.0","name":"new-net","plugins":[{"type":"macvlan"}]}""");
        _executor.OnCommand("bridge", CniCommand.Add, call => Result(call, "10.88.0.5/16", "10.88.0.1", withHostSide: true));
        _executor.OnCommand("ptp", CniCommand.Add, call => Result(call, "10.99.0.7/24", "10.99.0.1", withHostSide: false));
        _executor.OnCommand("loopback", CniCommand.Add, call => FakePluginExecutor.Success(
            $$"""{"cniVersion":"1.0.0","interfaces":[{"name":"lo","sandbox":"{{call.Environment["CNI_NETNS"]}}"}],"ips":[{"address":"127.0.0.1/8","interface":0}]}"""));
    }

    public void Dispose() => _dir.Dispose();

    private static PluginProcessResult Result(RecordedCall call, string address, string gateway, bool withHostSide)
    {
        var ifName = call.Environment["CNI_IFNAME"];
        var netns = call.Environment["CNI_NETNS"];
        var interfaces = withHostSide
            ? $$"""[{"name":"cni0","mac":"aa:00:00:00:00:01"},{"name":"{{ifName}}","mac":"aa:00:00:00:00:02","sandbox":"{{netns}}"}]"""
            : $$"""[{"name":"{{ifName}}","mac":"aa:00:00:00:00:03","sandbox":"{{netns}}"}]""";
        var index = withHostSide ? 1 : 0;
        return FakePluginExecutor.Success($$"""{"cniVersion":"1.0.0","interfaces":{{interfaces}},"ips":[{"address":"{{address}}","gateway":"{{gateway}}","interface":{{index}}}],"routes":[{"dst":"0.0.0.0/0"}]}""");
    }

    private static SandboxRequest TwoNetworks(string? name = null) => new()
    {
        Name = name,
        Networks = [new SandboxNetworkRequest("bridge-net"), new SandboxNetworkRequest("ptp-net") { Labels = new Dictionary<string, string> { ["K8S_POD_NAME"] = "override" } }],
        Labels = new Dictionary<string, string> { ["K8S_POD_NAMESPACE"] = "default", ["K8S_POD_NAME"] = "web-0" },
        Capabilities = new CapabilityArgs
        {
            PortMappings = [new PortMapping(8080, 80)],
            Bandwidth = new BandwidthLimits { IngressRate = 1000 },
        },
    };

    [Fact]
    public async Task Setup_allocates_an_id_and_a_namespace_and_attaches_each_network_in_order()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks());

        Assert.Matches("^[0-9a-f]{64}$", sandbox.Id);
        Assert.Equal($"/run/netns/cnirt-{sandbox.Id[..12]}", sandbox.NetworkNamespace);
        Assert.True(sandbox.OwnsNetworkNamespace);
        Assert.Equal(["ADD bridge", "ADD portmap", "ADD ptp"], _executor.Log);
        Assert.Equal(["eth0", "eth0", "eth1"], _executor.Calls.Select(c => c.Environment["CNI_IFNAME"]));
        Assert.All(_executor.Calls, c => Assert.Equal(sandbox.NetworkNamespace, c.Environment["CNI_NETNS"]));
        Assert.All(_executor.Calls, c => Assert.Equal(sandbox.Id, c.Environment["CNI_CONTAINERID"]));
        Assert.Equal(["bridge-net/eth0", "ptp-net/eth1"], sandbox.Attachments.Select(a => $"{a.NetworkName}/{a.InterfaceName}"));
        Assert.Equal(
            ["eth0 10.88.0.5/16 via 10.88.0.1 (bridge-net)", "eth1 10.99.0.7/24 via 10.99.0.1 (ptp-net)"],
            sandbox.Addresses.Select(a => $"{a.InterfaceName} {a.Address} via {a.Gateway} ({a.NetworkName})"));
        Assert.Equal("aa:00:00:00:00:02", sandbox.Interfaces[0].Mac);
    }

    [Fact]
    public async Task Labels_become_CNI_ARGS_after_IgnoreUnknown_and_per_network_labels_win()
    {
        await _manager.SetupAsync(TwoNetworks());

        Assert.Equal("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0", _executor.Calls[0].Environment["CNI_ARGS"]);
        Assert.Equal("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=override", _executor.Calls[2].Environment["CNI_ARGS"]);
    }

    [Fact]
    public async Task A_pod_becomes_ocicnis_CNI_ARGS_with_the_sandbox_id_and_labels_follow()
    {
        var request = new SandboxRequest
        {
            Id = "0123456789abcdef",
            Networks = [new SandboxNetworkRequest("ptp-net")],
            Pod = new PodIdentity("default", "web-0") { Uid = "7b0c2b5e-1c1d-4c8e-9b2a-3f1f1d0e8a11" },
            Labels = new Dictionary<string, string> { ["K8S_POD_NAME"] = "renamed", ["team"] = "db" },
        };

        var sandbox = await _manager.SetupAsync(request);

        Assert.Equal(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=renamed;K8S_POD_INFRA_CONTAINER_ID=0123456789abcdef;K8S_POD_UID=7b0c2b5e-1c1d-4c8e-9b2a-3f1f1d0e8a11;team=db",
            _executor.Calls.Single().Environment["CNI_ARGS"]);
        Assert.Equal("0123456789abcdef", sandbox.Labels["K8S_POD_INFRA_CONTAINER_ID"]);
        Assert.Equal(sandbox.Labels, (await _manager.FindAsync("0123456789abcdef"))!.Labels);
    }

    [Fact]
    public async Task A_pod_without_a_uid_sends_no_K8S_POD_UID_and_an_allocated_id_is_the_infra_container_id()
    {
        var sandbox = await _manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("ptp-net")], Pod = new PodIdentity("kube-system", "dns") });

        Assert.Equal($"IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns;K8S_POD_INFRA_CONTAINER_ID={sandbox.Id}", _executor.Calls.Single().Environment["CNI_ARGS"]);
    }

    [Fact]
    public async Task Per_network_capability_args_replace_the_sandboxs_for_that_network_only()
    {
        var request = TwoNetworks() with
        {
            Networks =
            [
                new SandboxNetworkRequest("bridge-net"),
                new SandboxNetworkRequest("ptp-net") { Capabilities = new CapabilityArgs { Bandwidth = new BandwidthLimits { EgressRate = 7 } } },
            ],
        };

        await _manager.SetupAsync(request);

        Assert.Equal("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000}}""", _executor.Calls[1].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Equal("""{"bandwidth":{"egressRate":7}}""", _executor.Calls[2].Stdin["runtimeConfig"]!.ToJsonString());
    }

    [Fact]
    public async Task Ids_that_share_their_first_12_characters_get_namespaces_of_their_own()
    {
        var first = await _manager.SetupAsync(TwoNetworks() with { Id = "mycontainer-1" });
        var second = await _manager.SetupAsync(TwoNetworks() with { Id = "mycontainer-2" });
        await _manager.TeardownAsync("mycontainer-1");

        Assert.Equal("/run/netns/cnirt-mycontainer-", first.NetworkNamespace);
        Assert.Equal("/run/netns/cnirt-mycontainer-2", second.NetworkNamespace);
        Assert.Equal("/run/netns/cnirt-mycontainer-2", (await _manager.FindAsync("mycontainer-2"))!.NetworkNamespace);
        Assert.All(_executor.Calls.Where(c => c.Environment["CNI_CONTAINERID"] == "mycontainer-2"), c => Assert.Equal(second.NetworkNamespace, c.Environment["CNI_NETNS"]));
        Assert.Equal(["/run/netns/cnirt-mycontainer-2"], _namespaces.Existing);
    }

    [Fact]
    public async Task A_given_namespace_name_means_the_one_under_run_netns()
    {
        _namespaces.Add("/run/netns/made-by-podman");

        var sandbox = await _manager.SetupAsync(TwoNetworks() with { NetworkNamespace = "made-by-podman" });

        Assert.Equal("/run/netns/made-by-podman", sandbox.NetworkNamespace);
        Assert.All(_executor.Calls, c => Assert.Equal("/run/netns/made-by-podman", c.Environment["CNI_NETNS"]));
    }

    [Fact]
    public async Task A_given_namespace_that_does_not_exist_fails_before_any_plugin_runs()
    {
        var missing = await Assert.ThrowsAsync<CniRuntime.Namespaces.NetworkNamespaceException>(() => _manager.SetupAsync(TwoNetworks() with { Id = "s1", NetworkNamespace = "/run/netns/gone" }));
        var file = _dir.Combine("not-a-netns");
        await File.WriteAllTextAsync(file, "x");
        var notNetns = await Assert.ThrowsAsync<CniRuntime.Namespaces.NetworkNamespaceException>(() => _manager.SetupAsync(TwoNetworks() with { Id = "s1", NetworkNamespace = file }));

        Assert.Equal("the sandbox's network namespace /run/netns/gone does not exist", missing.Message);
        Assert.Equal(CniRuntime.Namespaces.NetworkNamespaceError.NotFound, missing.Error);
        Assert.Equal($"the sandbox's network namespace {file} is not a network namespace", notNetns.Message);
        Assert.Equal(CniRuntime.Namespaces.NetworkNamespaceError.NotNetworkNamespace, notNetns.Error);
        Assert.Empty(_executor.Calls);
        Assert.Empty(await _manager.ListAsync());
    }

    [Fact]
    public async Task The_result_has_each_interfaces_sandbox_path_and_each_networks_routes_dns_and_raw_result()
    {
        _executor.OnCommand("ptp", CniCommand.Add, call => FakePluginExecutor.Success(
            $$$"""{"cniVersion":"1.0.0","interfaces":[{"name":"eth1","mac":"aa:00:00:00:00:03","sandbox":"{{{call.Environment["CNI_NETNS"]}}}"}],"ips":[{"address":"10.99.0.7/24","gateway":"10.99.0.1","interface":0}],"routes":[{"dst":"10.99.0.0/16","gw":"10.99.0.1"}],"dns":{"nameservers":["10.99.0.1"],"domain":"cluster.local","search":["svc.cluster.local"],"options":["ndots:5"]}}"""));

        var sandbox = await _manager.SetupAsync(TwoNetworks());
        var loaded = (await _manager.FindAsync(sandbox.Id))!;

        foreach (var view in new[] { sandbox, loaded })
        {
            Assert.Equal([sandbox.NetworkNamespace, sandbox.NetworkNamespace], view.Interfaces.Select(i => i.SandboxPath));
            Assert.Equal(["eth0", "eth1"], view.Interfaces.Select(i => i.Name));
            Assert.Equal("0.0.0.0/0", view.Attachments[0].Routes.Single().Dst.ToString());
            Assert.Null(view.Attachments[0].Dns);
            Assert.Equal("10.99.0.0/16 via 10.99.0.1", string.Join(",", view.Attachments[1].Routes.Select(r => $"{r.Dst} via {r.Gw}")));
            Assert.Equal(["10.99.0.1"], view.Attachments[1].Dns!.Nameservers.ToArray());
            Assert.Equal("cluster.local", view.Attachments[1].Dns!.Domain);
            Assert.Equal(["svc.cluster.local"], view.Attachments[1].Dns!.Search.ToArray());
            Assert.Equal(["ndots:5"], view.Attachments[1].Dns!.Options.ToArray());
            Assert.Equal(["cni0", "eth0"], view.Attachments[0].Result!.Interfaces.Select(i => i.Name));
            Assert.Equal("1.0.0", view.Attachments[1].Result!.CniVersion.ToString());
        }
    }

    [Fact]
    public async Task Addresses_of_a_result_without_interfaces_are_on_the_attachments_interface()
    {
        _configs.Add("""{"cniVersion":"0.2.0","name":"old-net","plugins":[{"type":"old"}]}""");
        _executor.OnCommand("old", CniCommand.Add, _ => FakePluginExecutor.Success("""{"cniVersion":"0.2.0","ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1"}}"""));

        var sandbox = await _manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("old-net") { InterfaceName = "net5" }] });

        var iface = Assert.Single(sandbox.Interfaces);
        Assert.Equal("net5", iface.Name);
        Assert.Null(iface.Mac);
        Assert.Null(iface.SandboxPath);
        Assert.Equal("10.1.2.3/24 via 10.1.2.1", string.Join(",", iface.Addresses.Select(a => $"{a.Address} via {a.Gateway}")));
    }

    [Fact]
    public async Task Capability_args_use_the_spec_keys_and_reach_only_plugins_that_declare_them()
    {
        await _manager.SetupAsync(TwoNetworks());

        Assert.Equal("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}""", _executor.Calls[0].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Equal("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000}}""", _executor.Calls[1].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Equal("""{"bandwidth":{"ingressRate":1000}}""", _executor.Calls[2].Stdin["runtimeConfig"]!.ToJsonString());
    }

    [Fact]
    public async Task The_loopback_is_attached_first_as_lo_and_reported()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks() with { AttachLoopback = true });

        Assert.Equal(["ADD loopback", "ADD bridge", "ADD portmap", "ADD ptp"], _executor.Log);
        Assert.Equal("lo", _executor.Calls[0].Environment["CNI_IFNAME"]);
        Assert.Equal("127.0.0.1/8", sandbox.Interfaces[0].Addresses.Single().Address.ToString());
    }

    [Fact]
    public async Task A_given_id_and_namespace_are_used_and_the_namespace_is_not_ours_to_delete()
    {
        _namespaces.Add("/run/netns/theirs");

        var sandbox = await _manager.SetupAsync(TwoNetworks() with { Id = "abc123", NetworkNamespace = "/run/netns/theirs" });
        await _manager.TeardownAsync("abc123");

        Assert.False(sandbox.OwnsNetworkNamespace);
        Assert.Empty(_namespaces.Created);
        Assert.Empty(_namespaces.Deleted);
    }

    [Fact]
    public async Task Without_networks_the_default_network_is_attached()
    {
        var sandbox = await _manager.SetupAsync(new SandboxRequest());

        Assert.Equal("bridge-net", sandbox.Attachments.Single().NetworkName);
    }

    [Fact]
    public async Task When_a_later_network_fails_the_earlier_ones_and_the_namespace_are_removed()
    {
        _executor.OnCommand("ptp", CniCommand.Add, _ => FakePluginExecutor.Error(100, "no addresses"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _manager.SetupAsync(TwoNetworks() with { Id = "c1" }));

        Assert.Equal("plugin type=\"ptp\" name=\"ptp-net\" failed (add): no addresses", error.Message);
        Assert.Equal(["ADD bridge", "ADD portmap", "ADD ptp", "DEL ptp", "DEL portmap", "DEL bridge"], _executor.Log);
        Assert.Empty(_namespaces.Existing);
        Assert.Null(await _manager.FindAsync("c1"));
        Assert.Empty(Directory.EnumerateFiles(_dir.Combine("cache", "results")));
    }

    [Fact]
    public async Task When_the_cleanup_fails_too_both_are_reported_and_teardown_finishes_it_later()
    {
        _executor.OnCommand("ptp", CniCommand.Add, _ => FakePluginExecutor.Error(100, "no addresses"));
        _executor.OnCommand("portmap", CniCommand.Del, _ => FakePluginExecutor.Error(101, "rule busy"));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _manager.SetupAsync(TwoNetworks() with { Id = "c1" }));
        Assert.Equal(2, error.Errors.Count);
        Assert.Single(_namespaces.Existing);

        _executor.OnCommand("portmap", CniCommand.Del, _ => FakePluginExecutor.Success());
        Assert.True(await _manager.TeardownAsync("c1"));

        Assert.Empty(_namespaces.Existing);
        Assert.Null(await _manager.FindAsync("c1"));
    }

    [Fact]
    public async Task Nothing_is_created_when_the_request_is_wrong()
    {
        await Assert.ThrowsAsync<CniConfigNotFoundException>(() => _manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("missing")] }));
        var twice = await Assert.ThrowsAsync<CniException>(() => _manager.SetupAsync(new SandboxRequest
        {
            Networks = [new SandboxNetworkRequest("bridge-net") { InterfaceName = "net1" }, new SandboxNetworkRequest("ptp-net") { InterfaceName = "net1" }],
        }));
        var badPort = await Assert.ThrowsAsync<CniException>(() => _manager.SetupAsync(TwoNetworks() with { Capabilities = new CapabilityArgs { PortMappings = [new PortMapping(0, 80)] } }));
        var badLabel = await Assert.ThrowsAsync<CniException>(() => _manager.SetupAsync(TwoNetworks() with { Labels = new Dictionary<string, string> { ["a"] = "b;c" } }));

        Assert.Equal("interface name \"net1\" is used twice in the sandbox", twice.Message);
        Assert.Equal("invalid port mapping 0:80: ports must be 1-65535", badPort.Message);
        Assert.StartsWith("invalid CNI_ARGS value \"b;c\"", badLabel.Message, StringComparison.Ordinal);
        Assert.Empty(_namespaces.Created);
        Assert.Empty(_executor.Calls);
    }

    [Fact]
    public async Task Teardown_deletes_in_reverse_with_the_configuration_ADD_used_even_when_it_is_gone()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks() with { AttachLoopback = true });
        _configs.Remove("bridge-net");
        _configs.Remove("ptp-net");

        Assert.True(await _manager.TeardownAsync(sandbox.Id));

        Assert.Equal(["DEL ptp", "DEL portmap", "DEL bridge", "DEL loopback"], _executor.Log.Skip(4));
        var portmapDel = _executor.Calls[5];
        // As cached, so as libcni would pass them from its cache: the values' keys sorted.
        Assert.Equal("""{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000}}""", portmapDel.Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Equal("10.88.0.5/16", portmapDel.Stdin["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Equal([sandbox.NetworkNamespace], _namespaces.Deleted);
        Assert.False(await _manager.TeardownAsync(sandbox.Id));
    }

    [Fact]
    public async Task Teardown_after_the_namespace_vanished_passes_no_namespace()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks());
        _namespaces.Vanish(sandbox.NetworkNamespace);

        await _manager.TeardownAsync(sandbox.Id);

        Assert.All(_executor.Calls.Skip(3), c => Assert.Equal(string.Empty, c.Environment["CNI_NETNS"]));
    }

    [Fact]
    public async Task Teardown_tries_every_attachment_reports_all_failures_and_can_be_retried()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks());
        _executor.OnCommand("ptp", CniCommand.Del, _ => FakePluginExecutor.Error(100, "ptp stuck"));
        _executor.OnCommand("bridge", CniCommand.Del, _ => FakePluginExecutor.Error(101, "bridge stuck"));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _manager.TeardownAsync(sandbox.Id));

        Assert.Equal(2, error.Errors.Count);
        Assert.Contains("DEL bridge", _executor.Log);
        Assert.NotNull(await _manager.FindAsync(sandbox.Id));
        _executor.OnCommand("ptp", CniCommand.Del, _ => FakePluginExecutor.Success());
        _executor.OnCommand("bridge", CniCommand.Del, _ => FakePluginExecutor.Success());
        Assert.True(await _manager.TeardownAsync(sandbox.Id));
        Assert.Null(await _manager.FindAsync(sandbox.Id));
    }

    [Fact]
    public async Task Sandboxes_are_found_by_id_prefix_and_name()
    {
        var web = await _manager.SetupAsync(TwoNetworks("web") with { Id = "aaaa1111" });
        await _manager.SetupAsync(TwoNetworks("db") with { Id = "aaaa2222" });

        Assert.Equal(web.Id, (await _manager.FindAsync("web"))!.Id);
        Assert.Equal(web.Id, (await _manager.FindAsync("aaaa1"))!.Id);
        Assert.Null(await _manager.FindAsync("bbbb"));
        var ambiguous = await Assert.ThrowsAsync<CniException>(() => _manager.FindAsync("aaaa"));
        Assert.Equal("ID prefix \"aaaa\" is ambiguous: it matches aaaa1111, aaaa2222", ambiguous.Message);
        Assert.Equal(["aaaa1111", "aaaa2222"], (await _manager.ListAsync()).Select(s => s.Id));
        var found = (await _manager.FindAsync("web"))!;
        Assert.Equal(web.Addresses.Select(a => a.Address), found.Addresses.Select(a => a.Address));
        Assert.Equal("web-0", found.Labels["K8S_POD_NAME"]);
    }

    [Fact]
    public async Task A_name_can_be_used_by_one_sandbox_only()
    {
        var first = await _manager.SetupAsync(TwoNetworks("web"));

        var error = await Assert.ThrowsAsync<CniException>(() => _manager.SetupAsync(TwoNetworks("web")));

        Assert.Equal($"sandbox name \"web\" is already used by sandbox {first.Id}", error.Message);
    }

    [Fact]
    public async Task Check_runs_CHECK_on_every_attachment()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks());

        await _manager.CheckAsync(sandbox.Id);

        Assert.Equal(["CHECK bridge", "CHECK portmap", "CHECK ptp"], _executor.Log.Skip(3).Order(StringComparer.Ordinal).ToList().OrderBy(x => x.Contains("ptp", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Readiness_reports_each_network_with_its_problem()
    {
        _executor.MissingPlugins.Add("ptp");
        _executor.On("macvlan", call => call.Command == CniCommand.Status ? FakePluginExecutor.Error(50, "no uplink") : FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["1.1.0"]}"""));
        _executor.On("bridge", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["1.0.0"]}"""));
        _executor.On("portmap", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["1.0.0"]}"""));

        var readiness = await _manager.GetReadinessAsync(["bridge-net", "ptp-net", "new-net", "nope"]);
        var byDefault = await _manager.GetReadinessAsync();

        Assert.False(readiness.IsReady);
        Assert.Null(readiness.Networks[0].Problem);
        Assert.Contains("failed to find plugin \"ptp\"", readiness.Networks[1].Problem, StringComparison.Ordinal);
        Assert.Equal("plugin type=\"macvlan\" name=\"new-net\" failed (status): no uplink", readiness.Networks[2].Problem);
        Assert.Equal("no net configuration with name \"nope\" in (memory)", readiness.Networks[3].Problem);
        Assert.True(byDefault.IsReady);
    }

    [Fact]
    public async Task Readiness_without_any_configuration_is_not_ready_and_says_why()
    {
        foreach (var name in new[] { "bridge-net", "ptp-net", "new-net" })
        {
            _configs.Remove(name);
        }

        var readiness = await _manager.GetReadinessAsync();

        Assert.False(readiness.IsReady);
        var network = Assert.Single(readiness.Networks);
        Assert.Equal("(default)", network.NetworkName);
        Assert.Equal("no network configuration found", network.Problem);
        Assert.False(new SandboxReadiness([]).IsReady);
    }

    [Fact]
    public async Task Gc_removes_every_sandbox_not_kept_and_tells_110_networks_what_is_in_use()
    {
        var keep = await _manager.SetupAsync(new SandboxRequest { Id = "keep", Networks = [new SandboxNetworkRequest("new-net")] });
        var drop = await _manager.SetupAsync(new SandboxRequest { Id = "drop", Networks = [new SandboxNetworkRequest("new-net"), new SandboxNetworkRequest("ptp-net")] });

        var removed = await _manager.GcAsync(["keep"]);

        Assert.Equal(["drop"], removed);
        Assert.Null(await _manager.FindAsync("drop"));
        Assert.NotNull(await _manager.FindAsync("keep"));
        Assert.Equal([keep.NetworkNamespace], _namespaces.Existing);
        Assert.Contains(drop.NetworkNamespace, _namespaces.Deleted);
        var gc = _executor.Calls.Single(c => c.Command == CniCommand.Gc);
        Assert.Equal("""[{"containerID":"keep","ifname":"eth0"}]""", gc.Stdin["cni.dev/valid-attachments"]!.ToJsonString());
    }

    [Fact]
    public async Task Gc_deletes_our_namespaces_that_no_kept_sandbox_explains_and_leaves_others_alone()
    {
        var keep = await _manager.SetupAsync(new SandboxRequest { Id = "keep", Networks = [new SandboxNetworkRequest("ptp-net")] });
        _namespaces.Add("/run/netns/cnirt-orphan123456");
        _namespaces.Add("/run/netns/someone-elses");

        await _manager.GcAsync(["keep"]);

        Assert.Equal([keep.NetworkNamespace, "/run/netns/someone-elses"], _namespaces.Existing.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Recovery_undoes_a_setup_the_runtime_died_in_and_leaves_ready_sandboxes_alone()
    {
        var ready = await _manager.SetupAsync(new SandboxRequest { Id = "ready", Networks = [new SandboxNetworkRequest("ptp-net")] });
        // An exception the manager does not handle stands for the process dying in the middle of the ptp ADD.
        _executor.OnCommand("ptp", CniCommand.Add, _ => throw new ProcessDied());
        await Assert.ThrowsAsync<ProcessDied>(() => _manager.SetupAsync(TwoNetworks() with { Id = "crashed" }));
        _executor.OnCommand("ptp", CniCommand.Add, call => Result(call, "10.99.0.7/24", "10.99.0.1", withHostSide: false));
        Assert.Equal(["crashed", "ready"], (await _manager.ListAsync()).Select(s => s.Id).Order(StringComparer.Ordinal));
        _executor.Clear();

        var removed = await _manager.RecoverAsync();

        Assert.Equal(["crashed"], removed);
        // The half-done ptp attachment (only its intent was recorded) and the finished bridge one, last first.
        Assert.Equal(["DEL ptp", "DEL portmap", "DEL bridge"], _executor.Log);
        Assert.All(_executor.Calls, c => Assert.Equal("crashed", c.Environment["CNI_CONTAINERID"]));
        Assert.Equal(["ready"], (await _manager.ListAsync()).Select(s => s.Id));
        Assert.Equal([ready.NetworkNamespace], _namespaces.Existing);
        Assert.Equal(["ptp-net-ready-eth0"], Directory.EnumerateFiles(_dir.Combine("cache", "results")).Select(Path.GetFileName));
        Assert.Empty(await _manager.RecoverAsync());

        // The same sandbox can be set up again.
        var again = await _manager.SetupAsync(TwoNetworks() with { Id = "crashed" });
        Assert.Equal(2, again.Attachments.Count);
    }

    [Fact]
    public async Task Recovery_finishes_a_teardown_the_runtime_died_in()
    {
        var sandbox = await _manager.SetupAsync(TwoNetworks() with { Id = "dying" });
        _executor.OnCommand("bridge", CniCommand.Del, _ => throw new ProcessDied());
        await Assert.ThrowsAsync<ProcessDied>(() => _manager.TeardownAsync("dying"));
        _executor.OnCommand("bridge", CniCommand.Del, _ => FakePluginExecutor.Success());
        _executor.Clear();

        Assert.Equal(["dying"], await _manager.RecoverAsync());

        Assert.Equal(["DEL portmap", "DEL bridge"], _executor.Log); // ptp was gone already
        Assert.Empty(await _manager.ListAsync());
        Assert.DoesNotContain(sandbox.NetworkNamespace, _namespaces.Existing);
    }

    private sealed class ProcessDied : Exception
    {
        public ProcessDied()
            : base("the runtime was killed here")
        {
        }
    }

    [Fact]
    public async Task Sandboxes_set_up_in_parallel_do_not_interfere()
    {
        _executor.Delay = TimeSpan.FromMilliseconds(5);

        var sandboxes = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => _manager.SetupAsync(TwoNetworks($"s{i}"))));
        await Task.WhenAll(sandboxes.Select(s => _manager.TeardownAsync(s.Id)));

        Assert.Equal(12, sandboxes.Select(s => s.Id).Distinct().Count());
        Assert.Empty(await _manager.ListAsync());
        Assert.Empty(_namespaces.Existing);
        Assert.Empty(Directory.EnumerateFiles(_dir.Combine("cache", "results")));
        Assert.Equal(["gc"], Directory.EnumerateFiles(_dir.Combine("cache", "locks")).Select(Path.GetFileName));
        _ = JsonNode.Parse("{}");
    }
}
