using CniRuntime.Caching;
using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;
using static CniRuntime.Tests.Networks.CniClientFixture;

namespace CniRuntime.Tests.Networks;

/// <summary>ADD of a list: libcni's api_test cases with the fake executor.</summary>
public sealed class CniClientAddTests : IDisposable
{
    private const string ThreePlugins = """
        {"cniVersion":"1.0.0","name":"some-list","plugins":[
          {"type":"noop","some-key":"some-value","capabilities":{"portMappings":true,"otherCapability":true}},
          {"type":"noop2","capabilities":{"otherCapability":true,"bandwidth":false}},
          {"type":"noop3","name":"own-name","cniVersion":"0.4.0"}]}
        """;

    private readonly CniClientFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Every_plugin_gets_ADD_in_order_with_the_list_name_and_version_and_the_previous_result()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"}]}"""));
        _f.Executor.On("noop3", call =>
        {
            var result = call.Stdin["prevResult"]!.DeepClone().AsObject();
            result["dns"] = new JsonObject { ["nameservers"] = new JsonArray("1.2.3.4") };
            return FakePluginExecutor.Success(result.ToJsonString());
        });

        var result = await _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime());

        Assert.Equal(["ADD noop", "ADD noop2", "ADD noop3"], _f.Executor.Log);
        var calls = _f.Executor.Calls;
        Assert.All(calls, c => Assert.Equal(("some-list", "1.0.0"), (c.Stdin["name"]!.GetValue<string>(), c.Stdin["cniVersion"]!.GetValue<string>())));
        Assert.Null(calls[0].Stdin["prevResult"]);
        Assert.Equal("10.1.2.3/24", calls[1].Stdin["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Equal("10.1.2.3/24", calls[2].Stdin["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.Equal("some-value", calls[0].Stdin["some-key"]!.GetValue<string>());
        Assert.Equal("10.1.2.3/24", result.Ips.Single().Address.ToString());
        Assert.Equal(["1.2.3.4"], result.Dns!.Nameservers.ToArray());
    }

    [Fact]
    public async Task The_environment_carries_all_six_CNI_variables()
    {
        await _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime());

        var env = _f.Executor.Calls[0].Environment;
        Assert.Equal("ADD", env["CNI_COMMAND"]);
        Assert.Equal("some-container-id", env["CNI_CONTAINERID"]);
        Assert.Equal("/some/netns/path", env["CNI_NETNS"]);
        Assert.Equal("eth0", env["CNI_IFNAME"]);
        Assert.Equal("DEBUG=value;K8S_POD_NAME=web", env["CNI_ARGS"]);
        Assert.Equal(FakePluginExecutor.Directory, env["CNI_PATH"]);
    }

    [Fact]
    public async Task RuntimeConfig_holds_only_the_capabilities_a_plugin_declares_true_and_the_runtime_provides()
    {
        var runtime = Runtime() with
        {
            CapabilityArgs = Caps("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"otherCapability":{"a":1},"bandwidth":{"ingressRate":1},"unknownCapability":true}"""),
        };

        await _f.Client.AddNetworkListAsync(List(ThreePlugins), runtime);

        var calls = _f.Executor.Calls;
        Assert.Equal(
            """{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"otherCapability":{"a":1}}""",
            calls[0].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.Equal("""{"otherCapability":{"a":1}}""", calls[1].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.False(calls[2].Stdin.ContainsKey("runtimeConfig"));
    }

    [Fact]
    public async Task The_result_is_cached_in_libcnis_format_with_config_args_and_capabilities()
    {
        var list = List(ThreePlugins);
        var runtime = Runtime() with { CapabilityArgs = Caps("""{"portMappings":[]}""") };

        var result = await _f.Client.AddNetworkListAsync(list, runtime);

        var path = _f.CachePath("some-list");
        var cached = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal("cniCacheV1", cached["kind"]!.GetValue<string>());
        Assert.Equal("some-container-id", cached["containerId"]!.GetValue<string>());
        Assert.Equal(list.Bytes.ToArray(), Convert.FromBase64String(cached["config"]!.GetValue<string>()));
        Assert.Equal("eth0", cached["ifName"]!.GetValue<string>());
        Assert.Equal("some-list", cached["networkName"]!.GetValue<string>());
        Assert.Equal("/some/netns/path", cached["netns"]!.GetValue<string>());
        Assert.Equal("""[["DEBUG","value"],["K8S_POD_NAME","web"]]""", cached["cniArgs"]!.ToJsonString());
        Assert.Equal("""{"portMappings":[]}""", cached["capabilityArgs"]!.ToJsonString());
        Assert.Equal(result, CniResultJson.Parse(Encoding.UTF8.GetBytes(cached["result"]!.ToJsonString())));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        Assert.Equal(result, await _f.Client.GetCachedResultAsync(list, runtime));
        var all = await _f.Client.GetCachedAttachmentsAsync();
        var mine = await _f.Client.GetCachedAttachmentsAsync("some-container-id");
        Assert.Equal("some-list", Assert.Single(all).NetworkName);
        Assert.Equal("/some/netns/path", Assert.Single(mine).NetworkNamespace);
        Assert.Empty(await _f.Client.GetCachedAttachmentsAsync("other"));
    }

    [Fact]
    public async Task A_list_without_plugins_caches_the_attachment_without_a_result_as_libcni_does()
    {
        var list = List("""{"cniVersion":"1.0.0","name":"empty"}""");
        Assert.Empty(list.Plugins);

        var result = await _f.Client.AddNetworkListAsync(list, Runtime());

        Assert.Equal(CniResult.Empty(CniVersion.V100), result);
        var cached = JsonNode.Parse(File.ReadAllText(_f.CachePath("empty")))!.AsObject();
        Assert.Equal(["kind", "containerId", "config", "ifName", "networkName", "netns", "cniArgs"], cached.Select(p => p.Key));
        Assert.Null(await _f.Client.GetCachedResultAsync(list, Runtime()));
        Assert.Equal("empty", Assert.Single(await _f.Client.GetCachedAttachmentsAsync()).NetworkName);

        await _f.Client.DeleteNetworkListAsync(list, Runtime());

        Assert.False(File.Exists(_f.CachePath("empty")));
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task The_cached_config_gives_back_what_ADD_used()
    {
        var list = List(ThreePlugins);
        await _f.Client.AddNetworkListAsync(list, Runtime() with { CapabilityArgs = Caps("""{"portMappings":[]}""") });

        var cached = await _f.Client.GetCachedConfigAsync(list, new() { ContainerId = "some-container-id", InterfaceName = "eth0" });

        Assert.NotNull(cached);
        Assert.Equal(list.Bytes.ToArray(), cached.Config.ToArray());
        Assert.Equal(Runtime().Args, cached.RuntimeConfig.Args);
        Assert.Equal("[]", cached.RuntimeConfig.CapabilityArgs["portMappings"].GetRawText());
        Assert.Null(await _f.Client.GetCachedConfigAsync(list, new() { ContainerId = "nobody", InterfaceName = "eth0" }));
    }

    [Theory]
    [InlineData("some-%%container-id", "eth0", CniErrorCode.InvalidEnvironmentVariables, "invalid characters in containerID")]
    [InlineData("", "eth0", CniErrorCode.UnknownContainer, "missing containerID")]
    [InlineData("cid", "", CniErrorCode.InvalidEnvironmentVariables, "interface name is empty")]
    [InlineData("cid", "0123456789abcdef", CniErrorCode.InvalidEnvironmentVariables, "interface name is too long")]
    [InlineData("cid", "..", CniErrorCode.InvalidEnvironmentVariables, "interface name is . or ..")]
    [InlineData("cid", "eth 0", CniErrorCode.InvalidEnvironmentVariables, "interface name contains / or : or whitespace characters")]
    public async Task Names_are_checked_before_any_plugin_runs(string containerId, string ifName, CniErrorCode code, string message)
    {
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime(containerId, ifName)));

        Assert.Equal((code, message), (error.Code, error.ErrorMessage));
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task A_network_name_outside_the_rule_is_refused_before_any_plugin_runs()
    {
        var list = List(ThreePlugins) with { Name = "some;name" };

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkListAsync(list, Runtime()));

        Assert.Equal((CniErrorCode.InvalidNetworkConfig, "invalid characters found in network name", "some;name"), (error.Code, error.ErrorMessage, error.Details));
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task CNI_ARGS_that_cannot_be_encoded_are_refused()
    {
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime() with { Args = [new("K", "a;b")] }));

        Assert.Equal("invalid CNI_ARGS value \"a;b\" for key \"K\": must not contain ';' or '='", error.Message);
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task A_missing_plugin_fails_with_the_directories_searched_and_the_whole_list_but_it_is_deleted()
    {
        _f.Executor.MissingPlugins.Add("noop2");

        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal($"plugin type=\"noop2\" name=\"some-list\" failed (add): failed to find plugin \"noop2\" in path [{FakePluginExecutor.Directory}]", error.Message);
        Assert.Equal(["ADD noop", "DEL noop3", "DEL noop"], _f.Executor.Log);
        Assert.False(File.Exists(_f.CachePath("some-list")));
    }

    [Fact]
    public async Task A_plugin_error_is_unmarshalled_and_named_with_the_plugin_and_network()
    {
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Error(7, "banana", "yellow"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal("plugin type=\"noop2\" name=\"some-list\" failed (add): banana; yellow", error.Message);
        Assert.Equal((CniErrorCode.InvalidNetworkConfig, "banana", "yellow", "noop2", "ADD", "some-list"), (error.Code, error.ErrorMessage, error.Details, error.PluginType, error.Command, error.NetworkName));
    }

    [Fact]
    public async Task When_the_last_plugin_fails_nothing_is_cached_and_every_plugin_is_deleted_in_reverse_with_the_last_result()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}"""));
        _f.Executor.OnCommand("noop3", CniCommand.Add, _ => FakePluginExecutor.Error(11 + 100, "boom"));

        await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(["ADD noop", "ADD noop2", "ADD noop3", "DEL noop3", "DEL noop2", "DEL noop"], _f.Executor.Log);
        Assert.Equal("10.1.2.3/24", _f.Executor.Calls[3].Stdin["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.False(File.Exists(_f.CachePath("some-list")));
        Assert.Empty(Directory.EnumerateFiles(_f.Dir.Combine("cache", "locks")));
    }

    [Fact]
    public async Task When_a_middle_plugin_fails_the_whole_list_is_deleted_in_reverse_with_the_last_result()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}"""));
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Error(100, "boom"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal("plugin type=\"noop2\" name=\"some-list\" failed (add): boom", error.Message);
        Assert.Equal(["ADD noop", "ADD noop2", "DEL noop3", "DEL noop2", "DEL noop"], _f.Executor.Log);
        Assert.All(_f.Executor.Calls.Skip(2), c => Assert.Equal("10.1.2.3/24", c.Stdin["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>()));
        Assert.False(File.Exists(_f.CachePath("some-list")));
    }

    [Fact]
    public async Task A_plugin_that_did_nothing_may_fail_the_rollback_DEL_without_stopping_it()
    {
        // noop2 refuses the version for every command; noop3 never ran and refuses DEL too.
        _f.Executor.On("noop2", _ => FakePluginExecutor.Error(1, "incompatible CNI versions"));
        _f.Executor.OnCommand("noop3", CniCommand.Del, _ => FakePluginExecutor.Error(100, "nothing to delete"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal(["ADD noop", "ADD noop2", "DEL noop3", "DEL noop2", "DEL noop"], _f.Executor.Log);
        Assert.False(File.Exists(_f.CachePath("some-list")));
    }

    [Fact]
    public async Task Rollback_can_be_turned_off()
    {
        using var f = new CniClientFixture(o => o with { RollbackFailedAdd = false });
        f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Error(100, "boom"));

        await Assert.ThrowsAsync<CniPluginException>(() => f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(["ADD noop", "ADD noop2"], f.Executor.Log);
    }

    [Fact]
    public async Task When_the_rollback_fails_too_both_errors_are_reported()
    {
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Error(100, "add broke"));
        _f.Executor.OnCommand("noop", CniCommand.Del, _ => FakePluginExecutor.Error(101, "del broke"));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(2, error.Errors.Count);
        Assert.Equal("plugin type=\"noop2\" name=\"some-list\" failed (add): add broke", error.Errors[0].Message);
        Assert.Equal("plugin type=\"noop\" name=\"some-list\" failed (delete): del broke", error.Errors[1].Message);
        Assert.Equal((CniErrorCode)100, error.Code);
        Assert.Equal(
            "ADD of network \"some-list\" failed and the rollback DEL failed too; the attachment may hold resources until DEL succeeds: "
            + "plugin type=\"noop2\" name=\"some-list\" failed (add): add broke; plugin type=\"noop\" name=\"some-list\" failed (delete): del broke",
            error.Message);
    }

    [Fact]
    public async Task A_failed_rollback_leaves_a_record_with_the_last_result_and_a_retried_DEL_sends_it()
    {
        const string First = """{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}""";
        var list = List(ThreePlugins);
        _f.Executor.OnCommand("noop", CniCommand.Add, _ => FakePluginExecutor.Success(First));
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Error(100, "add broke"));
        var delBroken = true;
        _f.Executor.OnCommand("noop", CniCommand.Del, _ => delBroken ? FakePluginExecutor.Error(101, "del broke") : FakePluginExecutor.Success());

        await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.AddNetworkListAsync(list, Runtime()));

        var leftover = await _f.Client.Cache.ReadAsync("some-list", "some-container-id", "eth0");
        Assert.NotNull(leftover);
        Assert.Equal("ADD", leftover.Pending);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(First), JsonNode.Parse(leftover.Result!.Value.GetRawText())), leftover.Result!.Value.GetRawText());
        Assert.Equal(list.Bytes.ToArray(), leftover.Config.ToArray());
        Assert.Equal("10.1.2.3/24", (await _f.Client.GetCachedResultAsync(list, Runtime()))!.Ips.Single().Address.ToString());

        delBroken = false;
        _f.Executor.Clear();
        await _f.Client.DeleteNetworkListAsync(list, Runtime());

        Assert.Equal(["DEL noop3", "DEL noop2", "DEL noop"], _f.Executor.Log);
        Assert.All(_f.Executor.Calls, c => Assert.True(JsonNode.DeepEquals(JsonNode.Parse(First), c.Stdin["prevResult"]), c.StdinText));
        Assert.False(File.Exists(_f.CachePath("some-list")));
    }

    [Fact]
    public async Task A_result_that_is_not_json_is_a_decoding_error_and_is_rolled_back()
    {
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Success("this is not json"));

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.StartsWith("plugin type=\"noop2\" name=\"some-list\" failed (add): failed to unmarshal raw result", error.Message, StringComparison.Ordinal);
        Assert.Contains("DEL noop", _f.Executor.Log);
    }

    [Fact]
    public async Task A_result_without_a_version_takes_the_lists()
    {
        _f.Executor.On("noop3", _ => FakePluginExecutor.Success("""{"ips":[{"address":"10.9.9.9/24"}]}"""));

        var result = await _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime());

        Assert.Equal(CniVersion.V100, result.CniVersion);
    }

    [Fact]
    public async Task A_result_without_a_version_in_a_list_without_one_is_010()
    {
        var list = List("""{"name":"old","plugins":[{"type":"noop"}]}""");
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1"},"dns":{}}"""));

        var result = await _f.Client.AddNetworkListAsync(list, Runtime());

        Assert.Equal(CniVersion.V010, result.CniVersion);
        Assert.Equal("10.1.2.3/24", result.Ips.Single().Address.ToString());
        Assert.Equal(string.Empty, _f.Executor.Calls[0].Stdin["cniVersion"]!.GetValue<string>());
        Assert.Equal(result, await _f.Client.GetCachedResultAsync(list, Runtime()));
    }

    [Fact]
    public async Task A_result_in_another_version_is_returned_as_the_plugin_wrote_it_and_converted_for_the_next_plugin()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.2.3/24"}]}"""));
        _f.Executor.On("noop2", call => FakePluginExecutor.Success(call.Stdin["prevResult"]!.ToJsonString()));
        _f.Executor.On("noop3", _ => FakePluginExecutor.Success("""{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.2.3/24"}]}"""));

        var result = await _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime());

        Assert.Equal("1.0.0", _f.Executor.Calls[1].Stdin["prevResult"]!["cniVersion"]!.GetValue<string>());
        Assert.Null(_f.Executor.Calls[1].Stdin["prevResult"]!["ips"]![0]!["version"]);
        Assert.Equal(CniVersion.V040, result.CniVersion);
    }

    [Fact]
    public async Task A_cache_that_cannot_be_written_fails_the_ADD_before_any_plugin_runs()
    {
        Directory.CreateDirectory(_f.Dir.Combine("cache"));
        File.WriteAllText(_f.Dir.Combine("cache", "results"), "a file where the directory should be");

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.StartsWith($"failed to write cache file {_f.CachePath("some-list")}", error.Message, StringComparison.Ordinal);
        Assert.Empty(_f.Executor.Log); // the intent could not be recorded, so nothing was changed
    }

    [Fact]
    public async Task A_cache_that_fails_after_the_plugins_ran_rolls_them_back_and_leaves_no_file()
    {
        var results = _f.Dir.Combine("cache", "results");
        _f.Executor.OnCommand("noop3", "ADD", _ =>
        {
            // The disk goes away under the running ADD: the final write fails.
            Directory.Delete(results, recursive: true);
            File.WriteAllText(results, "a file where the directory should be");
            return FakePluginExecutor.Success("""{"cniVersion":"1.0.0"}""");
        });

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.Equal(["DEL noop3", "DEL noop2", "DEL noop"], _f.Executor.Log.Skip(3));
    }

    [Fact]
    public async Task The_intent_is_on_disk_while_the_plugins_run_and_the_finished_file_is_libcnis()
    {
        NetworkAttachment? during = null;
        _f.Executor.On("noop2", _ =>
        {
            during = _f.Client.Cache.ReadAsync("some-list", "some-container-id", "eth0").GetAwaiter().GetResult();
            return FakePluginExecutor.Success("""{"cniVersion":"1.0.0"}""");
        });

        await _f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime());

        Assert.Equal("ADD", during!.Pending);
        Assert.Null(during.Result);
        Assert.Equal("DEBUG=value;K8S_POD_NAME=web", CniArgs.Format(during.CniArgs));
        var finished = await File.ReadAllTextAsync(_f.CachePath("some-list"));
        Assert.DoesNotContain(ResultCache.PendingKey, finished, StringComparison.Ordinal);
        Assert.Null((await _f.Client.Cache.ReadAsync("some-list", "some-container-id", "eth0"))!.Pending);
    }

    [Fact]
    public async Task Recovery_deletes_what_a_killed_ADD_left_with_the_configuration_it_recorded()
    {
        // What a runtime killed during the second plugin leaves: the intent, and plugins that ran.
        var list = List(ThreePlugins);
        await _f.Client.Cache.WriteAsync(new NetworkAttachment
        {
            ContainerId = "killed",
            NetworkName = list.Name,
            InterfaceName = "eth1",
            NetworkNamespace = "/nonexistent/netns",
            Config = list.Bytes,
            CniArgs = [new("K8S_POD_NAME", "web")],
            Pending = "ADD",
        });
        await _f.Client.AddNetworkListAsync(list, Runtime("finished"));
        _f.Executor.Clear();

        var undone = await _f.Client.RecoverAsync();

        Assert.Equal("killed", Assert.Single(undone).ContainerId);
        Assert.Equal(["DEL noop3", "DEL noop2", "DEL noop"], _f.Executor.Log);
        var del = _f.Executor.Calls[0];
        Assert.Equal(("killed", "eth1", "K8S_POD_NAME=web"), (del.Environment["CNI_CONTAINERID"], del.Environment["CNI_IFNAME"], del.Environment["CNI_ARGS"]));
        Assert.Equal(string.Empty, del.Environment["CNI_NETNS"]); // the namespace is gone: DEL without one
        Assert.False(del.Stdin.ContainsKey("prevResult"));
        Assert.Equal(["finished"], (await _f.Client.GetCachedAttachmentsAsync()).Select(a => a.ContainerId));
        Assert.Empty(await _f.Client.RecoverAsync());
    }

    [Fact]
    public async Task Without_rollback_a_failed_ADD_leaves_no_cache_file_as_libcni_does()
    {
        using var f = new CniClientFixture(o => o with { RollbackFailedAdd = false });
        f.Executor.On("noop2", _ => FakePluginExecutor.Error(7, "no"));

        await Assert.ThrowsAsync<CniPluginException>(() => f.Client.AddNetworkListAsync(List(ThreePlugins), Runtime()));

        Assert.False(File.Exists(f.CachePath("some-list")));
    }

    [Fact]
    public async Task Operations_on_one_attachment_never_overlap_and_different_attachments_run_together()
    {
        _f.Executor.Delay = TimeSpan.FromMilliseconds(30);
        var list = List("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}""");

        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _f.Client.AddNetworkListAsync(list, Runtime("same"))));

        Assert.Equal(1, _f.Executor.MaxRunning);

        _f.Executor.MaxRunning = 0;
        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => _f.Client.AddNetworkListAsync(list, Runtime($"c{i}"))));

        Assert.True(_f.Executor.MaxRunning > 1, $"max {_f.Executor.MaxRunning} concurrent");
    }

    [Fact]
    public async Task Cancellation_surfaces_as_OperationCanceledException_after_rolling_back()
    {
        _f.Executor.Delay = TimeSpan.FromSeconds(30);
        _f.Executor.DelayCommand = CniCommand.Add;
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var list = List("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}""");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _f.Client.AddNetworkListAsync(list, Runtime(), cts.Token));

        Assert.Equal(["ADD noop", "DEL noop"], _f.Executor.Log);
    }
}
