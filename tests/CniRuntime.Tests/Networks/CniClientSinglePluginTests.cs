using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;
using static CniRuntime.Tests.Networks.CniClientFixture;

namespace CniRuntime.Tests.Networks;

/// <summary>
/// The single-plugin operations (libcni's AddNetwork, CheckNetwork, DelNetwork, ValidateNetwork and
/// GetNetworkCached*): libcni's api_test cases with the fake executor.
/// </summary>
public sealed class CniClientSinglePluginTests : IDisposable
{
    private const string Result100 = """{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"}],"dns":{"nameservers":["1.2.3.4"]}}""";

    private readonly CniClientFixture _f = new();

    public CniClientSinglePluginTests()
    {
        _f.Executor.MissingPlugins.Add("does-not-exist");
    }

    public void Dispose() => _f.Dispose();

    private static PluginConfig Plugin(string version = "1.0.0", string type = "noop") => PluginConfig.Parse(Encoding.UTF8.GetBytes(
        "{ \"cniVersion\": \"" + version + "\", \"name\": \"apitest\", \"type\": \"" + type + "\", \"some-key\": \"some-value\","
        + " \"capabilities\": { \"portMappings\": true, \"otherCapability\": false } }"));

    private static RuntimeConfig RuntimeWithCaps() => Runtime() with
    {
        CapabilityArgs = Caps("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"otherCapability":{"a":1}}"""),
    };

    private string CacheFile(string contents)
    {
        var path = _f.CachePath("apitest");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, contents);
        return path;
    }

    private async Task AddAsync(string version = "1.0.0")
    {
        _f.Executor.OnCommand("noop", CniCommand.Add, _ => FakePluginExecutor.Success(Result100.Replace("1.0.0", version, StringComparison.Ordinal)));
        await _f.Client.AddNetworkAsync(Plugin(version), RuntimeWithCaps());
        _f.Executor.Clear();
    }

    private static void AssertJsonEqual(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\nactual   {actual?.ToJsonString()}");

    [Fact]
    public async Task AddNetwork_sends_ADD_with_the_plugins_name_version_and_runtimeConfig_and_returns_the_result()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success(Result100));

        var result = await _f.Client.AddNetworkAsync(Plugin(), RuntimeWithCaps());

        var call = Assert.Single(_f.Executor.Calls);
        Assert.Equal("ADD", call.Command);
        Assert.Equal(
            [
                new("CNI_ARGS", "DEBUG=value;K8S_POD_NAME=web"), new("CNI_COMMAND", "ADD"), new("CNI_CONTAINERID", "some-container-id"),
                new("CNI_IFNAME", "eth0"), new("CNI_NETNS", "/some/netns/path"), new("CNI_PATH", FakePluginExecutor.Directory),
            ],
            call.Environment.Where(e => e.Key.StartsWith("CNI_", StringComparison.Ordinal)).OrderBy(e => e.Key, StringComparer.Ordinal).ToArray());
        AssertJsonEqual(
            """
            {"cniVersion":"1.0.0","name":"apitest","type":"noop","some-key":"some-value",
             "capabilities":{"portMappings":true,"otherCapability":false},
             "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}}
            """,
            call.Stdin);
        Assert.Equal("10.1.2.3/24", result.Ips.Single().Address.ToString());
        Assert.Equal(["1.2.3.4"], result.Dns!.Nameservers.ToArray());
    }

    [Fact]
    public async Task AddNetwork_caches_the_plugins_own_configuration_the_arguments_and_the_result()
    {
        var plugin = Plugin();
        _f.Executor.On("noop", _ => FakePluginExecutor.Success(Result100));

        var result = await _f.Client.AddNetworkAsync(plugin, RuntimeWithCaps());

        var file = JsonNode.Parse(File.ReadAllText(_f.CachePath("apitest")))!.AsObject();
        Assert.Equal(plugin.ToUtf8Bytes(), Convert.FromBase64String(file["config"]!.GetValue<string>()));
        Assert.Equal(("cniCacheV1", "apitest"), (file["kind"]!.GetValue<string>(), file["networkName"]!.GetValue<string>()));

        var config = await _f.Client.GetCachedConfigAsync(plugin, new() { ContainerId = "some-container-id", InterfaceName = "eth0" });
        Assert.NotNull(config);
        Assert.Equal(plugin.ToUtf8Bytes(), config.Config.ToArray());
        Assert.Equal(Runtime().Args, config.RuntimeConfig.Args);
        AssertJsonEqual(
            """{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"otherCapability":{"a":1}}""",
            JsonNode.Parse(JsonSerializeCaps(config.RuntimeConfig)));
        Assert.Equal(result, await _f.Client.GetCachedResultAsync(plugin, Runtime()));

        foreach (var attachments in new[] { await _f.Client.GetCachedAttachmentsAsync(), await _f.Client.GetCachedAttachmentsAsync("some-container-id") })
        {
            var attachment = Assert.Single(attachments);
            Assert.Equal(
                ("some-container-id", "apitest", "eth0", "/some/netns/path", null),
                (attachment.ContainerId, attachment.NetworkName, attachment.InterfaceName, attachment.NetworkNamespace, attachment.Pending));
            Assert.Equal(Runtime().Args, attachment.CniArgs);
            Assert.Equal(plugin.ToUtf8Bytes(), attachment.Config.ToArray());
            Assert.Equal(["otherCapability", "portMappings"], attachment.CapabilityArgs.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(result, attachment.ParseResult());
        }
    }

    private static string JsonSerializeCaps(RuntimeConfig runtime) =>
        new JsonObject(runtime.CapabilityArgs.Select(c => KeyValuePair.Create(c.Key, JsonNode.Parse(c.Value.GetRawText())))).ToJsonString();

    [Fact]
    public async Task AddNetwork_of_a_missing_plugin_reports_libcnis_message_as_it_is()
    {
        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.AddNetworkAsync(Plugin(type: "does-not-exist"), Runtime()));

        Assert.Equal($"failed to find plugin \"does-not-exist\" in path [{FakePluginExecutor.Directory}]", error.Message);
        Assert.Equal(("does-not-exist", "ADD", "apitest"), (error.PluginType, error.Command, error.NetworkName));
        Assert.False(File.Exists(_f.CachePath("apitest")));
    }

    [Fact]
    public async Task AddNetwork_unmarshals_the_plugins_error_and_reports_it_as_it_is()
    {
        _f.Executor.OnCommand("noop", CniCommand.Add, _ => FakePluginExecutor.Error(100, "plugin error: banana"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.AddNetworkAsync(Plugin(), Runtime()));

        Assert.Equal("plugin error: banana", error.Message);
        Assert.Equal(((CniErrorCode)100, "noop", "ADD", "apitest"), (error.Code, error.PluginType, error.Command, error.NetworkName));
        Assert.Equal(["ADD noop", "DEL noop"], _f.Executor.Log);
        Assert.False(File.Exists(_f.CachePath("apitest")));
    }

    [Fact]
    public async Task AddNetwork_whose_rollback_fails_reports_both_errors_as_the_plugin_gave_them()
    {
        _f.Executor.OnCommand("noop", CniCommand.Add, _ => FakePluginExecutor.Error(100, "add broke"));
        _f.Executor.OnCommand("noop", CniCommand.Del, _ => FakePluginExecutor.Error(101, "del broke"));

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => _f.Client.AddNetworkAsync(Plugin(), Runtime()));

        Assert.Equal(["add broke", "del broke"], error.Errors.Select(e => e.Message));
        Assert.Equal(
            "ADD of network \"apitest\" failed and the rollback DEL failed too; the attachment may hold resources until DEL succeeds: add broke; del broke",
            error.Message);
        Assert.Equal("ADD", (await _f.Client.Cache.ReadAsync("apitest", "some-container-id", "eth0"))!.Pending);
    }

    [Fact]
    public async Task AddNetwork_with_a_cache_that_cannot_be_written_fails_and_runs_nothing()
    {
        Directory.CreateDirectory(_f.Dir.Combine("cache"));
        File.WriteAllText(_f.Dir.Combine("cache", "results"), "afdsasdfasdf");

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkAsync(Plugin(), Runtime()));

        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task AddNetwork_checks_the_names_first()
    {
        var nameless = PluginConfig.Parse("""{"cniVersion":"1.0.0","type":"noop"}"""u8);

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.AddNetworkAsync(nameless, Runtime()));

        Assert.Equal((CniErrorCode.InvalidNetworkConfig, "missing network name:"), (error.Code, error.ErrorMessage));
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task CheckNetwork_sends_CHECK_with_the_cached_result()
    {
        await AddAsync();

        await _f.Client.CheckNetworkAsync(Plugin(), RuntimeWithCaps());

        var call = Assert.Single(_f.Executor.Calls);
        Assert.Equal("CHECK", call.Command);
        AssertJsonEqual(Result100, call.Stdin["prevResult"]);
        Assert.Equal("apitest", call.Stdin["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task CheckNetwork_below_040_is_refused_with_libcnis_message_and_runs_nothing()
    {
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkAsync(Plugin("0.3.1"), Runtime()));

        Assert.Equal("configuration version \"0.3.1\" does not support the CHECK command", error.Message);
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task CheckNetwork_at_040_gets_the_cached_result()
    {
        await AddAsync("0.4.0");

        await _f.Client.CheckNetworkAsync(Plugin("0.4.0"), Runtime());

        Assert.Equal("0.4.0", _f.Executor.Calls[0].Stdin["prevResult"]!["cniVersion"]!.GetValue<string>());
        Assert.Equal("4", _f.Executor.Calls[0].Stdin["prevResult"]!["ips"]![0]!["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task CheckNetwork_with_a_legacy_cache_passes_only_the_result()
    {
        CacheFile(Result100);

        await _f.Client.CheckNetworkAsync(Plugin(), Runtime());

        var prev = _f.Executor.Calls[0].Stdin["prevResult"]!.AsObject();
        AssertJsonEqual(Result100, prev);
        Assert.False(prev.ContainsKey("kind"));
        Assert.False(prev.ContainsKey("config"));
    }

    [Fact]
    public async Task CheckNetwork_converts_a_031_cache_to_the_plugins_version()
    {
        CacheFile("""{"kind":"cniCacheV1","containerId":"some-container-id","ifName":"eth0","networkName":"apitest","result":{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.1.2.3/24"}]}}""");

        await _f.Client.CheckNetworkAsync(Plugin(), Runtime());

        AssertJsonEqual("""{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}""", _f.Executor.Calls[0].Stdin["prevResult"]);
    }

    [Fact]
    public async Task CheckNetwork_with_an_empty_or_foreign_cache_is_an_error_naming_the_file()
    {
        var path = CacheFile(string.Empty);
        var empty = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkAsync(Plugin(), Runtime()));
        CacheFile("""{"kind":"somethingElse"}""");
        var foreign = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkAsync(Plugin(), Runtime()));

        Assert.Equal($"failed to get network \"apitest\" cached result: cache file {path} is empty", empty.Message);
        Assert.Equal($"failed to get network \"apitest\" cached result: cache file {path} has wrong kind", foreign.Message);
        Assert.Empty(_f.Executor.Calls);
    }

    [Fact]
    public async Task CheckNetwork_with_a_cache_of_an_unknown_version_is_an_error()
    {
        CacheFile("""{"kind":"cniCacheV1","containerId":"some-container-id","ifName":"eth0","networkName":"apitest","result":{"cniVersion":"0.4567.0"}}""");

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkAsync(Plugin(), Runtime()));

        Assert.Equal("failed to get network \"apitest\" cached result: unsupported CNI result version \"0.4567.0\"", error.Message);
    }

    [Fact]
    public async Task CheckNetwork_reports_the_plugins_error_as_it_is()
    {
        _f.Executor.OnCommand("noop", CniCommand.Check, _ => FakePluginExecutor.Error(100, "drifted"));

        var error = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.CheckNetworkAsync(Plugin(), Runtime()));

        Assert.Equal(("drifted", "CHECK"), (error.Message, error.Command));
    }

    [Fact]
    public async Task CheckNetwork_of_a_missing_plugin_reports_libcnis_message()
    {
        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.CheckNetworkAsync(Plugin(type: "does-not-exist"), Runtime()));

        Assert.Equal($"failed to find plugin \"does-not-exist\" in path [{FakePluginExecutor.Directory}]", error.Message);
    }

    [Fact]
    public async Task DelNetwork_sends_DEL_with_the_cached_result_and_then_nothing_of_the_attachment_is_left()
    {
        await AddAsync();
        var plugin = Plugin();

        await _f.Client.DeleteNetworkAsync(plugin, RuntimeWithCaps());

        var call = Assert.Single(_f.Executor.Calls);
        Assert.Equal("DEL", call.Command);
        AssertJsonEqual(Result100, call.Stdin["prevResult"]);
        Assert.Null(await _f.Client.GetCachedResultAsync(plugin, Runtime()));
        Assert.Null(await _f.Client.GetCachedConfigAsync(plugin, Runtime()));
        Assert.Empty(await _f.Client.GetCachedAttachmentsAsync());

        await _f.Client.DeleteNetworkAsync(plugin, Runtime());

        Assert.Null(_f.Executor.Calls[1].Stdin["prevResult"]);
    }

    [Theory]
    [InlineData("0.3.1", false)]
    [InlineData("0.4.0", true)]
    public async Task DelNetwork_gets_the_cached_result_from_040_on(string version, bool expected)
    {
        await AddAsync(version);

        await _f.Client.DeleteNetworkAsync(Plugin(version), Runtime());

        Assert.Equal(expected, _f.Executor.Calls[0].Stdin.ContainsKey("prevResult"));
        Assert.False(File.Exists(_f.CachePath("apitest")));
    }

    [Theory]
    [InlineData("{\"kind\":\"cniCacheV1\",")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"result\":{\"cniVersion\":\"0.4567.0\"}}")]
    public async Task DelNetwork_tolerates_an_invalid_or_unconvertible_cache(string contents)
    {
        CacheFile(contents);

        await _f.Client.DeleteNetworkAsync(Plugin(), Runtime());

        Assert.False(Assert.Single(_f.Executor.Calls).Stdin.ContainsKey("prevResult"));
        Assert.False(File.Exists(_f.CachePath("apitest")));
    }

    [Fact]
    public async Task DelNetwork_reports_a_missing_plugin_or_its_error_as_it_is_and_keeps_the_cache()
    {
        await AddAsync();
        _f.Executor.OnCommand("noop", CniCommand.Del, _ => FakePluginExecutor.Error(100, "still busy"));

        var missing = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.DeleteNetworkAsync(Plugin(type: "does-not-exist"), Runtime()));
        var failed = await Assert.ThrowsAsync<CniPluginException>(() => _f.Client.DeleteNetworkAsync(Plugin(), Runtime()));

        Assert.Equal($"failed to find plugin \"does-not-exist\" in path [{FakePluginExecutor.Directory}]", missing.Message);
        Assert.Equal(("still busy", "DEL"), (failed.Message, failed.Command));
        Assert.True(File.Exists(_f.CachePath("apitest")));
    }

    [Fact]
    public async Task ValidateNetwork_passes_a_supported_plugin_and_returns_only_its_enabled_capabilities()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0"]}"""));

        var capabilities = await _f.Client.ValidateNetworkAsync(Plugin());

        Assert.Equal(["portMappings"], capabilities);
        Assert.Equal("VERSION", Assert.Single(_f.Executor.Calls).Command);
    }

    [Fact]
    public async Task ValidateNetwork_of_a_missing_plugin_reports_libcnis_message_unaggregated()
    {
        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => _f.Client.ValidateNetworkAsync(Plugin(type: "does-not-exist")));

        Assert.Equal($"failed to find plugin \"does-not-exist\" in path [{FakePluginExecutor.Directory}]", error.Message);
    }

    [Fact]
    public async Task ValidateNetwork_refuses_a_version_the_plugin_does_not_list()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0"]}"""));

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.ValidateNetworkAsync(Plugin("broken")));

        Assert.Equal((CniErrorCode.IncompatibleCniVersion, "plugin noop does not support config version \"broken\"", "it supports 0.4.0, 1.0.0"), (error.Code, error.ErrorMessage, error.Details));
    }

    [Fact]
    public async Task ValidateNetwork_takes_an_empty_version_as_010()
    {
        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0"]}"""));
        var unversioned = PluginConfig.Parse("""{"name":"apitest","type":"noop"}"""u8);

        Assert.Empty(await _f.Client.ValidateNetworkAsync(unversioned));

        _f.Executor.On("noop", _ => FakePluginExecutor.Success("""{"cniVersion":"1.1.0","supportedVersions":["1.0.0"]}"""));
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.ValidateNetworkAsync(unversioned));
        Assert.Equal("plugin noop does not support config version \"0.1.0\"", error.ErrorMessage);
    }

    [Fact]
    public async Task The_cached_calls_need_every_part_of_the_path()
    {
        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.GetCachedConfigAsync(Plugin(), new() { ContainerId = string.Empty, InterfaceName = "eth0" }));

        Assert.Equal("cache file path requires network name (\"apitest\"), container ID (\"\"), and interface name (\"eth0\")", error.Message);
        Assert.Null(await _f.Client.GetCachedResultAsync(Plugin(), Runtime()));
    }

    [Fact]
    public async Task Recovery_undoes_a_single_plugin_ADD_with_the_configuration_it_recorded()
    {
        var plugin = Plugin();
        await _f.Client.Cache.WriteAsync(new NetworkAttachment
        {
            ContainerId = "killed",
            NetworkName = "apitest",
            InterfaceName = "eth0",
            Config = plugin.ToUtf8Bytes(),
            Pending = "ADD",
        });

        var undone = await _f.Client.RecoverAsync();

        Assert.Equal("killed", Assert.Single(undone).ContainerId);
        var call = Assert.Single(_f.Executor.Calls);
        Assert.Equal(("DEL", "noop", "apitest", "some-value"), (call.Command, call.Type, call.Stdin["name"]!.GetValue<string>(), call.Stdin["some-key"]!.GetValue<string>()));
        Assert.Empty(await _f.Client.GetCachedAttachmentsAsync());
    }
}
