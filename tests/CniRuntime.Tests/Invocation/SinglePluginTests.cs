using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>The single-plugin operations with the test plugin as a real process.</summary>
public sealed class SinglePluginTests : IDisposable
{
    private const string Result =
        """{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/ns-1"}],"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0}]}""";

    private static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0", Args = [new("K", "V")] };

    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    private PluginConfig Plugin(string script, string version = "1.0.0")
    {
        var plugin = _fixture.Plugin("noop", _fixture.WriteScript("script.json", script));
        plugin["name"] = "single";
        plugin["cniVersion"] = version;
        return PluginConfig.Parse(Encoding.UTF8.GetBytes(plugin.ToJsonString()));
    }

    [Fact(Timeout = 20_000)]
    public async Task ADD_CHECK_and_DEL_of_one_plugin_cache_its_own_configuration_and_pass_the_result_on()
    {
        var plugin = Plugin($$"""{"result":{{Result}}}""");
        var client = _fixture.CreateClient();
        var cacheFile = client.Cache.GetPath("single", "ctr-1", "eth0");

        var result = await client.AddNetworkAsync(plugin, Runtime);

        Assert.Equal("10.1.2.3/24", result.Ips.Single().Address.ToString());
        var cached = JsonNode.Parse(await File.ReadAllTextAsync(cacheFile))!;
        Assert.Equal(plugin.ToUtf8Bytes(), Convert.FromBase64String((string)cached["config"]!));

        await client.CheckNetworkAsync(plugin, Runtime);
        await client.DeleteNetworkAsync(plugin, Runtime);

        Assert.False(File.Exists(cacheFile));
        Assert.Equal(["ADD noop", "CHECK noop", "DEL noop"], _fixture.ReadCalls());
        var log = _fixture.ReadLog();
        Assert.All(log, call =>
        {
            Assert.Equal(("ctr-1", "eth0", "K=V"), ((string?)call["containerId"], (string?)call["ifName"], (string?)call["args"]));
            Assert.Equal(("single", "1.0.0"), ((string?)call["stdin"]!["name"], (string?)call["stdin"]!["cniVersion"]));
        });
        Assert.False(log[0]["stdin"]!.AsObject().ContainsKey("prevResult"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Result), log[1]["stdin"]!["prevResult"]), log[1].ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Result), log[2]["stdin"]!["prevResult"]), log[2].ToJsonString());
    }

    [Fact(Timeout = 20_000)]
    public async Task A_plugins_error_is_reported_as_the_plugin_gave_it()
    {
        var plugin = Plugin("""{"commands":{"ADD":{"error":"plugin error: banana","errorCode":7,"stderr":"some stderr"}}}""");
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkAsync(plugin, Runtime));

        Assert.Equal("plugin error: banana", error.Message);
        Assert.Equal((CniErrorCode.InvalidNetworkConfig, 1, "some stderr", "noop", "ADD", "single"), (error.Code, error.ExitCode, error.Stderr, error.PluginType, error.Command, error.NetworkName));
        Assert.Equal(["ADD noop", "DEL noop"], _fixture.ReadCalls());
    }

    [Fact(Timeout = 20_000)]
    public async Task ValidateNetwork_asks_the_plugin_for_its_versions()
    {
        // VERSION carries no configuration, so the plugin is scripted through a wrapper in a directory of its own.
        using var scripted = new TestPluginFixture();
        scripted.AddScriptedPlugin("noop", scripted.WriteScript("versions.json", """{"supportedVersions":["0.4.0","1.0.0"]}"""));
        var client = scripted.CreateClient();
        var supported = PluginConfig.Parse("""{"cniVersion":"1.0.0","name":"single","type":"noop","capabilities":{"portMappings":true}}"""u8);
        var unsupported = PluginConfig.Parse("""{"cniVersion":"1.1.0","name":"single","type":"noop"}"""u8);

        Assert.Equal(["portMappings"], await client.ValidateNetworkAsync(supported));
        var error = await Assert.ThrowsAsync<CniException>(() => client.ValidateNetworkAsync(unsupported));

        Assert.Equal("plugin noop does not support config version \"1.1.0\"; it supports 0.4.0, 1.0.0", error.Message);
    }
}
