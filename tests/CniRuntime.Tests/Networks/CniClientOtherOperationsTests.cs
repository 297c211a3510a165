using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;
using static CniRuntime.Tests.Networks.CniClientFixture;

namespace CniRuntime.Tests.Networks;

/// <summary>DEL, CHECK, STATUS, GC and validation: libcni's api_test cases with the fake executor.</summary>
public sealed class CniClientOtherOperationsTests : IDisposable
{
    private const string Result100 = """{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/some/netns/path"}],"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0}]}""";
    private readonly CniClientFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static string TwoPlugins(string version, string extra = "") =>
        "{\"cniVersion\":\"" + version + "\",\"name\":\"net\"" + extra
        + ",\"plugins\":[{\"type\":\"noop\",\"capabilities\":{\"portMappings\":true}},{\"type\":\"noop2\"}]}";

    private async Task AddAsync(string version, string extra = "")
    {
        _f.Executor.OnCommand("noop", CniCommand.Add, _ => FakePluginExecutor.Success(Result100.Replace("1.0.0", version, StringComparison.Ordinal)));
        await _f.Client.AddNetworkListAsync(List(TwoPlugins(version, extra)), Runtime());
    }

    [Fact]
    public async Task DEL_runs_in_reverse_with_the_cached_result_and_removes_the_cache()
    {
        await AddAsync("1.0.0");

        await _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime() with { CapabilityArgs = Caps("""{"portMappings":[]}""") });

        Assert.Equal(["DEL noop2", "DEL noop"], _f.Executor.Log.Skip(2));
        var del = _f.Executor.Calls[2];
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Result100), del.Stdin["prevResult"]), del.StdinText);
        Assert.Equal("DEL", del.Environment["CNI_COMMAND"]);
        Assert.Equal("""{"portMappings":[]}""", _f.Executor.Calls[3].Stdin["runtimeConfig"]!.ToJsonString());
        Assert.False(File.Exists(_f.CachePath("net")));
        Assert.Empty(await _f.Client.GetCachedAttachmentsAsync());
        Assert.Empty(Directory.EnumerateFiles(_f.Dir.Combine("cache", "locks")));
    }

    [Fact]
    public async Task DEL_twice_is_fine_and_the_second_has_no_prevResult()
    {
        await AddAsync("1.0.0");
        await _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        await _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        Assert.Null(_f.Executor.Calls[^1].Stdin["prevResult"]);
    }

    [Fact]
    public async Task DEL_below_040_gets_no_prevResult_but_still_drops_the_cache()
    {
        await AddAsync("0.3.1");

        await _f.Client.DeleteNetworkListAsync(List(TwoPlugins("0.3.1")), Runtime());

        Assert.All(_f.Executor.Calls.Skip(2), c => Assert.Null(c.Stdin["prevResult"]));
        Assert.False(File.Exists(_f.CachePath("net")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"kind\":\"cniCacheV1\",")]
    [InlineData("garbage")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"result\":{\"cniVersion\":\"0.4567.0\"}}")]
    public async Task DEL_tolerates_an_empty_corrupt_or_unconvertible_cache(string contents)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllText(_f.CachePath("net"), contents);

        await _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        Assert.Equal(["DEL noop2", "DEL noop"], _f.Executor.Log);
        Assert.All(_f.Executor.Calls, c => Assert.Null(c.Stdin["prevResult"]));
        Assert.False(File.Exists(_f.CachePath("net")));
    }

    [Fact]
    public async Task A_failing_DEL_keeps_the_cache_so_a_retry_still_has_prevResult()
    {
        await AddAsync("1.0.0");
        _f.Executor.OnCommand("noop", CniCommand.Del, _ => FakePluginExecutor.Error(100, "still busy"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime()));

        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (delete): still busy", error.Message);
        Assert.True(File.Exists(_f.CachePath("net")));
    }

    [Fact]
    public async Task DEL_with_a_missing_plugin_fails_naming_it_and_keeps_the_cache()
    {
        await AddAsync("1.0.0");
        _f.Executor.MissingPlugins.Add("noop");

        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime()));

        Assert.Equal($"plugin type=\"noop\" name=\"net\" failed (delete): failed to find plugin \"noop\" in path [{FakePluginExecutor.Directory}]", error.Message);
        Assert.Equal(["DEL noop2"], _f.Executor.Log.Skip(2));
        Assert.True(File.Exists(_f.CachePath("net")));
    }

    [Fact]
    public async Task CHECK_with_a_missing_plugin_fails_naming_it()
    {
        await AddAsync("1.0.0");
        _f.Executor.MissingPlugins.Add("noop2");

        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime()));

        Assert.Equal($"plugin type=\"noop2\" name=\"net\" failed (check): failed to find plugin \"noop2\" in path [{FakePluginExecutor.Directory}]", error.Message);
        Assert.Equal(["CHECK noop"], _f.Executor.Log.Skip(2));
    }

    [Fact]
    public async Task DEL_does_not_need_a_namespace_or_valid_names()
    {
        await _f.Client.DeleteNetworkListAsync(List(TwoPlugins("1.0.0")), new RuntimeConfig { ContainerId = "gone", InterfaceName = "eth0" });

        Assert.Equal(string.Empty, _f.Executor.Calls[0].Environment["CNI_NETNS"]);
    }

    [Fact]
    public async Task DEL_of_a_list_with_a_broken_version_is_an_error()
    {
        var error = await Assert.ThrowsAsync<CniConfigException>(() => _f.Client.DeleteNetworkListAsync(List(TwoPlugins("broken")), Runtime()));

        Assert.Equal("$.cniVersion: invalid cniVersion \"broken\": expected major.minor.patch", error.Message);
    }

    [Fact]
    public async Task CHECK_gives_every_plugin_the_cached_result_in_order()
    {
        await AddAsync("1.0.0");

        await _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        Assert.Equal(["CHECK noop", "CHECK noop2"], _f.Executor.Log.Skip(2));
        Assert.All(_f.Executor.Calls.Skip(2), c => Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Result100), c.Stdin["prevResult"])));
    }

    [Fact]
    public async Task CHECK_converts_an_older_cached_result_to_the_list_version()
    {
        await AddAsync("0.4.0");

        await _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        Assert.Equal("1.0.0", _f.Executor.Calls[2].Stdin["prevResult"]!["cniVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task CHECK_below_040_is_refused_with_libcnis_message()
    {
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkListAsync(List(TwoPlugins("0.3.1")), Runtime()));

        Assert.Equal("configuration version \"0.3.1\" does not support the CHECK command", error.Message);
        Assert.Empty(_f.Executor.Calls);
    }

    [Theory]
    [InlineData("1.0.0")]
    [InlineData("0.3.1")]
    public async Task DisableCheck_runs_nothing_whatever_the_version(string version)
    {
        await _f.Client.CheckNetworkListAsync(List(TwoPlugins(version, ",\"disableCheck\":true")), Runtime());

        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task CHECK_with_a_corrupt_cache_is_an_error()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllText(_f.CachePath("net"), "{\"kind\":");

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime()));

        Assert.StartsWith("failed to get network \"net\" cached result: cache file", error.Message, StringComparison.Ordinal);
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task CHECK_with_a_cache_of_an_unknown_result_version_is_an_error()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllText(_f.CachePath("net"), """{"kind":"cniCacheV1","containerId":"some-container-id","ifName":"eth0","networkName":"net","result":{"cniVersion":"0.4567.0"}}""");

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime()));

        Assert.Equal("failed to get network \"net\" cached result: unsupported CNI result version \"0.4567.0\"", error.Message);
    }

    [Fact]
    public async Task CHECK_with_a_legacy_cache_passes_only_the_result()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllText(_f.CachePath("net"), Result100);

        await _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        var prev = _f.Executor.Calls[0].Stdin["prevResult"]!.AsObject();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Result100), prev));
        Assert.False(prev.ContainsKey("kind"));
        Assert.False(prev.ContainsKey("config"));
    }

    [Fact]
    public async Task CHECK_without_a_cache_omits_prevResult()
    {
        await _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime());

        Assert.All(_f.Executor.Calls, c => Assert.False(c.Stdin.ContainsKey("prevResult")));
    }

    [Fact]
    public async Task A_failing_CHECK_stops_at_that_plugin()
    {
        _f.Executor.OnCommand("noop", CniCommand.Check, _ => FakePluginExecutor.Error(100, "drifted"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.CheckNetworkListAsync(List(TwoPlugins("1.0.0")), Runtime()));

        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (check): drifted", error.Message);
        Assert.Equal(["CHECK noop"], _f.Executor.Log);
    }

    [Fact]
    public async Task STATUS_asks_every_plugin_and_stops_at_the_first_error_keeping_its_code()
    {
        const string Three = """{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"noop"},{"type":"noop2"},{"type":"noop3"}]}""";
        _f.Executor.On("noop2", _ => FakePluginExecutor.Error(50, "plugin not available"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.GetStatusNetworkListAsync(List(Three)));

        Assert.Equal(CniErrorCode.PluginNotAvailable, error.Code);
        Assert.Equal(["STATUS noop", "STATUS noop2"], _f.Executor.Log);
        var env = _f.Executor.Calls[0].Environment;
        Assert.Equal((string.Empty, string.Empty, string.Empty), (env["CNI_CONTAINERID"], env["CNI_NETNS"], env["CNI_IFNAME"]));
        Assert.False(_f.Executor.Calls[0].Stdin.ContainsKey("prevResult"));
        Assert.Equal("1.1.0", _f.Executor.Calls[0].Stdin["cniVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task STATUS_below_110_runs_nothing()
    {
        await _f.Client.GetStatusNetworkListAsync(List(TwoPlugins("1.0.0")));

        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task GC_keeps_valid_attachments_and_tells_plugins_which_they_are()
    {
        await AddAsync("1.1.0");

        await _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0")), new GcArgs([new GcAttachment("some-container-id", "eth0")]));

        Assert.Equal(["ADD noop", "ADD noop2", "GC noop", "GC noop2"], _f.Executor.Log);
        var gc = _f.Executor.Calls[2].Stdin;
        Assert.Equal("""[{"containerID":"some-container-id","ifname":"eth0"}]""", gc["cni.dev/valid-attachments"]!.ToJsonString());
        Assert.Equal("""[{"containerID":"some-container-id","ifname":"eth0"}]""", gc["cni.dev/attachments"]!.ToJsonString());
        Assert.False(gc.ContainsKey("runtimeConfig"));
        Assert.False(gc.ContainsKey("prevResult"));
        Assert.Equal("GC", _f.Executor.Calls[2].Environment["CNI_COMMAND"]);
        Assert.True(File.Exists(_f.CachePath("net")));
    }

    [Fact]
    public async Task GC_deletes_stale_attachments_from_the_cache_then_collects()
    {
        await AddAsync("1.1.0");

        await _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0")), new GcArgs([]));

        Assert.Equal(["ADD noop", "ADD noop2", "DEL noop2", "DEL noop", "GC noop", "GC noop2"], _f.Executor.Log);
        var del = _f.Executor.Calls[2];
        Assert.Equal(("some-container-id", "/some/netns/path", "DEBUG=value;K8S_POD_NAME=web"), (del.Environment["CNI_CONTAINERID"], del.Environment["CNI_NETNS"], del.Environment["CNI_ARGS"]));
        Assert.Equal("[]", _f.Executor.Calls[4].Stdin["cni.dev/valid-attachments"]!.ToJsonString());
        Assert.False(File.Exists(_f.CachePath("net")));
    }

    [Fact]
    public async Task GC_without_args_deletes_everything_and_sends_no_attachment_list()
    {
        await AddAsync("1.1.0");

        await _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0")), null);

        Assert.Contains("DEL noop", _f.Executor.Log);
        Assert.False(_f.Executor.Calls[^1].Stdin.ContainsKey("cni.dev/valid-attachments"));
    }

    [Fact]
    public async Task GC_with_null_valid_attachments_sends_json_null()
    {
        await _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0")), new GcArgs(null));

        Assert.Equal(JsonValueKindNull, _f.Executor.Calls[0].Stdin["cni.dev/valid-attachments"]?.GetValueKind() ?? JsonValueKindNull);
        Assert.True(_f.Executor.Calls[0].Stdin.ContainsKey("cni.dev/valid-attachments"));
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task GC_leaves_other_networks_alone_and_below_110_sends_no_GC()
    {
        await AddAsync("1.0.0");
        await _f.Client.AddNetworkListAsync(List("""{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"noop"}]}"""), Runtime());

        await _f.Client.GcNetworkListAsync(List(TwoPlugins("1.0.0")), new GcArgs([]));

        Assert.Equal(["DEL noop2", "DEL noop"], _f.Executor.Log.Skip(3));
        Assert.Equal("other", Assert.Single(await _f.Client.GetCachedAttachmentsAsync()).NetworkName);
    }

    [Fact]
    public async Task GC_reports_every_error_and_keeps_going()
    {
        await AddAsync("1.1.0");
        _f.Executor.OnCommand("noop2", CniCommand.Del, _ => FakePluginExecutor.Error(100, "del failed"));
        _f.Executor.OnCommand("noop", CniCommand.Gc, _ => FakePluginExecutor.Error(101, "gc failed"));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0")), new GcArgs([])));

        Assert.Equal(
            ["plugin type=\"noop2\" name=\"net\" failed (delete): del failed", "plugin type=\"noop\" name=\"net\" failed (gc): gc failed"],
            error.Errors.Select(e => e.Message));
        Assert.Equal(["GC noop", "GC noop2"], _f.Executor.Log.Skip(3));
    }

    [Fact]
    public async Task GC_reports_each_unusable_cache_file_of_the_network_by_name_and_leaves_it()
    {
        await AddAsync("1.1.0");
        var results = Path.GetDirectoryName(_f.CachePath("net"))!;
        var truncated = Path.Combine(results, "net-truncated-eth0");
        var empty = Path.Combine(results, "net-empty-eth0");
        var foreign = Path.Combine(results, "net-foreign-eth0");
        var nameless = Path.Combine(results, "net-nameless-eth0");
        File.WriteAllText(truncated, "{\"kind\":\"cniCacheV1\",");
        File.WriteAllText(empty, string.Empty);
        File.WriteAllText(foreign, "{\"kind\":\"cniCacheV2\"}");
        File.WriteAllText(nameless, "{\"kind\":\"cniCacheV1\",\"containerId\":\"nameless\",\"networkName\":\"net\"}");
        File.WriteAllText(Path.Combine(results, "net-legacy-eth0"), Result100.Replace("1.0.0", "1.1.0", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(results, "other-broken-eth0"), "{");

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0")), new GcArgs([])));

        Assert.Equal(
            [
                $"cache file {empty} is empty",
                $"cache file {foreign} has wrong kind",
                $"cache file {nameless} names no interface or no network",
                truncated,
            ],
            error.Errors.Select(e => e.Message.StartsWith($"cache file {truncated} is not valid JSON: ", StringComparison.Ordinal) ? truncated : e.Message));
        Assert.Equal([empty, foreign, nameless, truncated], error.Errors.Select(e => Assert.IsType<CniCacheException>(e).Path));
        Assert.StartsWith("GC of network \"net\" failed: ", error.Message, StringComparison.Ordinal);
        Assert.Equal(["DEL noop2", "DEL noop", "GC noop", "GC noop2"], _f.Executor.Log.Skip(2));
        Assert.All([truncated, empty, foreign, nameless], f => Assert.True(File.Exists(f), f));
        Assert.False(File.Exists(_f.CachePath("net")));
    }

    [Fact]
    public async Task DisableGC_runs_nothing()
    {
        await AddAsync("1.1.0", ",\"disableGC\":true");

        await _f.Client.GcNetworkListAsync(List(TwoPlugins("1.1.0", ",\"disableGC\":true")), new GcArgs([]));

        Assert.Equal(2, _f.Executor.Calls.Count);
    }

    [Fact]
    public async Task Validation_returns_the_enabled_capabilities_once_each()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0"]}"""));
        _f.Executor.On("noop2", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["1.0.0"]}"""));
        var list = List("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop","capabilities":{"portMappings":true,"bandwidth":false}},{"type":"noop2","capabilities":{"portMappings":true,"ips":true}}]}""");

        var capabilities = await _f.Client.ValidateNetworkListAsync(list);

        Assert.Equal(["portMappings", "ips"], capabilities);
        var version = _f.Executor.Calls[0];
        Assert.Equal("""{"cniVersion":"1.1.0"}""", version.StdinText);
        Assert.Equal(("VERSION", "dummy", "dummy", "dummy"), (version.Environment["CNI_COMMAND"], version.Environment["CNI_NETNS"], version.Environment["CNI_IFNAME"], version.Environment["CNI_PATH"]));
    }

    [Theory]
    [InlineData(",\"cniVersion\":\"\"")]
    [InlineData("")]
    public async Task Validation_of_a_list_without_a_version_asks_for_010(string version)
    {
        var list = List("{\"name\":\"net\"" + version + ",\"plugins\":[{\"type\":\"noop\"},{\"type\":\"noop2\"}]}");
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0"]}"""));
        _f.Executor.On("noop2", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.3.1","1.0.0"]}"""));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.ValidateNetworkListAsync(list));

        Assert.Equal("plugin noop2 does not support config version \"0.1.0\"; it supports 0.3.1, 1.0.0", Assert.Single(error.Errors).Message);
    }

    [Fact]
    public async Task Validation_collects_every_problem()
    {
        _f.Executor.MissingPlugins.Add("noop");
        _f.Executor.On("noop2", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.4.0"]}"""));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.ValidateNetworkListAsync(List(TwoPlugins("1.0.0"))));

        Assert.Equal(
            [
                $"plugin type=\"noop\" failed (version): failed to find plugin \"noop\" in path [{FakePluginExecutor.Directory}]",
                "plugin noop2 does not support config version \"1.0.0\"; it supports 0.4.0",
            ],
            error.Errors.Select(e => e.Message));
    }

    [Fact]
    public void A_version_reply_that_is_not_utf8_is_a_decoding_error()
    {
        byte[] reply = [.. "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\""u8, 0xc3, .. "\"]}"u8];

        var error = Assert.Throws<CniException>(() => PluginVersionInfo.Parse(reply));

        Assert.Equal("decoding version info: the reply is not valid UTF-8", error.Message);
    }

    [Fact]
    public async Task A_plugin_that_predates_VERSION_supports_010()
    {
        _f.Executor.On("old", _ => FakePluginExecutor.Error(4, "unknown CNI_COMMAND: VERSION"));

        var info = await _f.Client.GetVersionInfoAsync("old");

        Assert.Equal(["0.1.0"], info.SupportedVersions);
    }

    [Theory]
    [InlineData("""{"cniVersion":"0.2.0"}""", "0.1.0,0.2.0")]
    [InlineData("""{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}""", "1.0.0,1.1.0")]
    public void Version_replies_decode_with_libcnis_rules(string json, string expected)
    {
        Assert.Equal(expected, string.Join(",", PluginVersionInfo.Parse(Encoding.UTF8.GetBytes(json)).SupportedVersions));
    }

    [Theory]
    [InlineData("""{"supportedVersions":["1.0.0"]}""", "decoding version info: missing field cniVersion")]
    [InlineData("""{"cniVersion":"1.0.0"}""", "decoding version info: missing field supportedVersions")]
    [InlineData("[]", "decoding version info: missing field cniVersion")]
    public void Bad_version_replies_are_decoding_errors(string json, string message)
    {
        var error = Assert.Throws<CniException>(() => PluginVersionInfo.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Equal((CniErrorCode.DecodingFailure, message), (error.Code, error.Message));
    }

    [Fact]
    public async Task A_code_11_failure_is_retried_then_succeeds()
    {
        var calls = 0;
        _f.Executor.On("noop", call => Interlocked.Increment(ref calls) <= 2 ? FakePluginExecutor.Error(11, "try again later") : FakePluginExecutor.Default(call));

        await _f.Client.AddNetworkListAsync(List("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}"""), Runtime());

        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Code_11_retries_are_bounded()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Error(11, "try again later"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.GetStatusNetworkListAsync(List("""{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"noop"}]}""")));

        Assert.True(error.IsTransient);
        Assert.Equal(1 + _f.Client.Options.TransientRetries, _f.Executor.Calls.Count);
    }

    [Fact]
    public async Task A_cache_path_needs_every_part()
    {
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.GetCachedResultAsync(List(TwoPlugins("1.0.0")), new RuntimeConfig { ContainerId = "x", InterfaceName = string.Empty }));

        Assert.Equal("cache file path requires network name (\"net\"), container ID (\"x\"), and interface name (\"\")", error.Message);
    }
}
