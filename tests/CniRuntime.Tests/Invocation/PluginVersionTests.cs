using System.Text.Json.Nodes;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>libcni's GetVersionInfo and ValidateNetworkList checklist, with real processes of the test plugin.</summary>
public sealed class PluginVersionTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 10_000)]
    public async Task GetVersionInfo_returns_the_plugins_supported_versions()
    {
        _fixture.AddScriptedPlugin("noop", _fixture.WriteScript("script.json", """{"supportedVersions":["0.4.0","1.0.0","9.9.9"]}"""));
        var client = _fixture.CreateClient();

        var info = await client.GetVersionInfoAsync("noop");

        Assert.Equal("1.1.0", info.CniVersion);
        Assert.Equal(["0.4.0", "1.0.0", "9.9.9"], info.SupportedVersions);
    }

    [Fact(Timeout = 10_000)]
    public async Task GetVersionInfo_sends_VERSION_with_dummy_variables_and_a_1_1_0_request()
    {
        _fixture.AddScriptedPlugin("noop", _fixture.WriteScript("script.json", "{}"));
        var client = _fixture.CreateClient();

        await client.GetVersionInfoAsync("noop");

        var call = Assert.Single(_fixture.ReadLog());
        Assert.Equal("VERSION", (string?)call["command"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"cniVersion":"1.1.0"}"""), call["stdin"]), call["stdin"]!.ToJsonString());
        var env = call["env"]!.AsObject();
        Assert.Equal("VERSION", (string?)env["CNI_COMMAND"]);
        Assert.Equal("dummy", (string?)env["CNI_NETNS"]);
        Assert.Equal("dummy", (string?)env["CNI_IFNAME"]);
        Assert.Equal("dummy", (string?)env["CNI_PATH"]);
        Assert.Equal(string.Empty, (string?)env["CNI_CONTAINERID"]);
        Assert.Equal(string.Empty, (string?)env["CNI_ORIGINAL_ARGS"]);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_plugin_that_does_not_know_VERSION_supports_only_0_1_0()
    {
        _fixture.AddScriptedPlugin("noop", _fixture.WriteScript("script.json", """{"commands":{"VERSION":{"error":"unknown CNI_COMMAND: VERSION","errorCode":4}}}"""));
        var client = _fixture.CreateClient();

        var info = await client.GetVersionInfoAsync("noop");

        Assert.Equal(PluginVersionInfo.Legacy, info);
        Assert.Equal(["0.1.0"], info.SupportedVersions);
    }

    [Fact(Timeout = 10_000)]
    public async Task Another_VERSION_error_is_reported_with_the_plugin_and_command()
    {
        _fixture.AddScriptedPlugin("noop", _fixture.WriteScript("script.json", """{"commands":{"VERSION":{"error":"banana","errorCode":4}}}"""));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginException>(() => client.GetVersionInfoAsync("noop"));

        Assert.Equal("plugin type=\"noop\" failed (version): banana", error.Message);
        Assert.Equal(CniErrorCode.InvalidEnvironmentVariables, error.Code);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_undecodable_VERSION_reply_is_a_decoding_error()
    {
        _fixture.AddScriptedPlugin("noop", _fixture.WriteScript("script.json", """{"commands":{"VERSION":{"result":{"supportedVersions":["1.0.0"]}}}}"""));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniException>(() => client.GetVersionInfoAsync("noop"));

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.Equal("plugin type=\"noop\" failed (version): decoding version info: missing field cniVersion", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task GetVersionInfo_of_a_missing_plugin_names_the_plugin_and_the_path()
    {
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => client.GetVersionInfoAsync("does-not-exist"));

        Assert.Equal($"failed to find plugin \"does-not-exist\" in path [{_fixture.PluginDirectory}]", error.ErrorMessage);
        Assert.Equal("does-not-exist", error.RequestedType);
    }
}

/// <summary>ValidateNetworkList with real plugins: supported versions, missing plugins, collected errors.</summary>
public sealed class PluginValidationTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop", "noop2");

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 10_000)]
    public async Task A_supported_list_returns_the_enabled_capabilities()
    {
        var list = TestPluginFixture.List(
            "net",
            "1.0.0",
            _fixture.Plugin("noop", capabilities: new JsonObject { ["portMappings"] = true, ["otherCapability"] = true, ["disabled"] = false }),
            _fixture.Plugin("noop2", capabilities: new JsonObject { ["otherCapability"] = true, ["bandwidth"] = true }));
        var client = _fixture.CreateClient();

        var capabilities = await client.ValidateNetworkListAsync(list);

        Assert.Equal(["portMappings", "otherCapability", "bandwidth"], capabilities);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_plugin_lacking_the_list_version_is_not_valid()
    {
        _fixture.AddScriptedPlugin("old", _fixture.WriteScript("old.json", """{"supportedVersions":["0.3.1","0.4.0"]}"""));
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("old"));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => client.ValidateNetworkListAsync(list));

        var inner = Assert.IsAssignableFrom<CniException>(Assert.Single(error.Errors));
        Assert.Equal("plugin old does not support config version \"1.0.0\"", inner.ErrorMessage);
        Assert.Equal("it supports 0.3.1, 0.4.0", inner.Details);
        Assert.Equal(CniErrorCode.IncompatibleCniVersion, inner.Code);
        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_missing_plugin_is_not_valid()
    {
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("does-not-exist"));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => client.ValidateNetworkListAsync(list));

        var inner = Assert.IsType<CniPluginNotFoundException>(Assert.Single(error.Errors));
        Assert.Equal($"failed to find plugin \"does-not-exist\" in path [{_fixture.PluginDirectory}]", inner.ErrorMessage);
        Assert.Contains(inner.ErrorMessage, error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Every_error_of_the_list_is_collected_in_order()
    {
        _fixture.AddScriptedPlugin("old", _fixture.WriteScript("old.json", """{"supportedVersions":["0.3.1"]}"""));
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("does-not-exist"), _fixture.Plugin("noop"), _fixture.Plugin("old"));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => client.ValidateNetworkListAsync(list));

        Assert.Equal(2, error.Errors.Count);
        Assert.IsType<CniPluginNotFoundException>(error.Errors[0]);
        Assert.Equal("plugin old does not support config version \"1.0.0\"", Assert.IsAssignableFrom<CniException>(error.Errors[1]).ErrorMessage);
        Assert.StartsWith("network \"net\" is not valid: ", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_broken_list_version_is_reported_for_every_plugin()
    {
        var list = TestPluginFixture.List("net", "broken", _fixture.Plugin("noop"), _fixture.Plugin("noop2"));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => client.ValidateNetworkListAsync(list));

        Assert.Equal(
            ["plugin noop does not support config version \"broken\"", "plugin noop2 does not support config version \"broken\""],
            error.Errors.Select(e => ((CniException)e).ErrorMessage).ToArray());
    }
}
