using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>Three real plugins in a list: order, chaining, capabilities, CNI_ARGS and the cache, through ADD, CHECK and DEL.</summary>
public sealed class PluginChainTests : IDisposable
{
    private const string FirstResult =
        """{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"00:11:22:33:44:55","sandbox":"/var/run/netns/ns-1"}],"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0}]}""";

    private readonly TestPluginFixture _fixture = new("noop", "noop2", "noop3");

    public void Dispose() => _fixture.Dispose();

    private static RuntimeConfig Runtime { get; } = new()
    {
        ContainerId = "ctr-1",
        NetworkNamespace = "/var/run/netns/ns-1",
        InterfaceName = "eth0",
        Args = [new("K", "V"), new("K2", "V2")],
        CapabilityArgs = new Dictionary<string, JsonElement>
        {
            ["portMappings"] = JsonElement.Parse("""[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]"""),
            ["otherCapability"] = JsonElement.Parse("""{"a":1}"""),
            ["ipRanges"] = JsonElement.Parse("""[[{"subnet":"10.9.0.0/16"}]]"""),
            ["bandwidth"] = JsonElement.Parse("""{"ingressRate":1}"""),
        },
    };

    private NetworkConfigList ThreePlugins() => TestPluginFixture.List(
        "net",
        "1.0.0",
        _fixture.Plugin(
            "noop",
            _fixture.WriteScript("first.json", $$"""{"result":{{FirstResult}}}"""),
            new JsonObject { ["portMappings"] = true, ["otherCapability"] = true }),
        _fixture.Plugin("noop2", capabilities: new JsonObject { ["otherCapability"] = true, ["ipRanges"] = false }),
        _fixture.Plugin("noop3", _fixture.WriteScript("third.json", """{"result":"INJECT-DNS"}""")));

    private static void AssertJsonEqual(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\nactual   {actual?.ToJsonString()}");

    private static void AssertJsonEqual(JsonNode? expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expected?.ToJsonString()}\nactual   {actual?.ToJsonString()}");

    [Fact(Timeout = 20_000)]
    public async Task ADD_CHECK_DEL_and_DEL_run_the_plugins_in_order_with_the_right_inputs_and_manage_the_cache()
    {
        var list = ThreePlugins();
        var client = _fixture.CreateClient();
        var cacheFile = Path.Combine(_fixture.CacheDirectory, "results", "net-ctr-1-eth0");
        var lockFile = Path.Combine(_fixture.CacheDirectory, "locks", "net-ctr-1-eth0");

        var result = await client.AddNetworkListAsync(list, Runtime);

        Assert.Equal("10.1.2.3/24", Assert.Single(result.Ips).Address.ToString());
        Assert.Equal(["1.2.3.4"], result.Dns!.Nameservers.ToArray());
        Assert.Equal(cacheFile, client.Cache.GetPath("net", "ctr-1", "eth0"));
        Assert.True(File.Exists(cacheFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cacheFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(cacheFile)!));
        var cached = JsonNode.Parse(await File.ReadAllTextAsync(cacheFile))!["result"];

        await client.CheckNetworkListAsync(list, Runtime);
        await client.DeleteNetworkListAsync(list, Runtime);

        Assert.False(File.Exists(cacheFile));
        Assert.False(File.Exists(lockFile));

        await client.DeleteNetworkListAsync(list, Runtime);

        Assert.Equal(
            ["ADD noop", "ADD noop2", "ADD noop3", "CHECK noop", "CHECK noop2", "CHECK noop3", "DEL noop3", "DEL noop2", "DEL noop", "DEL noop3", "DEL noop2", "DEL noop"],
            _fixture.ReadCalls());
        var log = _fixture.ReadLog();
        foreach (var call in log)
        {
            Assert.Equal("ctr-1", (string?)call["containerId"]);
            Assert.Equal("/var/run/netns/ns-1", (string?)call["netns"]);
            Assert.Equal("eth0", (string?)call["ifName"]);
            Assert.Equal("K=V;K2=V2", (string?)call["args"]);
            Assert.Equal(_fixture.PluginDirectory, (string?)call["path"]);
            Assert.Equal("net", (string?)call["stdin"]!["name"]);
            Assert.Equal("1.0.0", (string?)call["stdin"]!["cniVersion"]);

            // Only the capabilities a plugin declares as true and the runtime provides; no key at all when none.
            var runtimeConfig = call["stdin"]!.AsObject()["runtimeConfig"];
            switch ((string?)call["stdin"]!["type"])
            {
                case "noop":
                    AssertJsonEqual("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"otherCapability":{"a":1}}""", runtimeConfig);
                    break;
                case "noop2":
                    AssertJsonEqual("""{"otherCapability":{"a":1}}""", runtimeConfig);
                    break;
                default:
                    Assert.False(call["stdin"]!.AsObject().ContainsKey("runtimeConfig"));
                    break;
            }
        }

        // ADD chains: plugin 1 gets no prevResult, plugin 2 gets plugin 1's result, plugin 3 plugin 2's (a passthrough).
        Assert.False(log[0]["stdin"]!.AsObject().ContainsKey("prevResult"));
        AssertJsonEqual(FirstResult, log[1]["stdin"]!["prevResult"]);
        AssertJsonEqual(FirstResult, log[2]["stdin"]!["prevResult"]);

        // The cache holds the final result (with plugin 3's DNS); CHECK and the first DEL get it, the second DEL nothing.
        Assert.Equal("1.2.3.4", (string?)cached!["dns"]!["nameservers"]![0]);
        for (var i = 3; i < 9; i++)
        {
            AssertJsonEqual(cached, log[i]["stdin"]!["prevResult"]);
        }

        for (var i = 9; i < 12; i++)
        {
            Assert.False(log[i]["stdin"]!.AsObject().ContainsKey("prevResult"));
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task The_plugins_own_keys_reach_it_and_name_and_cniVersion_are_the_lists()
    {
        var plugin = _fixture.Plugin("noop");
        plugin["name"] = "not-the-list-name";
        plugin["cniVersion"] = "0.3.1";
        plugin["big"] = JsonNode.Parse("12345678901234567890");
        var list = TestPluginFixture.List("net", "1.0.0", plugin);
        var client = _fixture.CreateClient();

        await client.AddNetworkListAsync(list, Runtime with { CapabilityArgs = new Dictionary<string, JsonElement>() });

        var stdin = _fixture.ReadLog()[0]["stdin"]!;
        Assert.Equal("net", (string?)stdin["name"]);
        Assert.Equal("1.0.0", (string?)stdin["cniVersion"]);
        Assert.Equal("12345678901234567890", stdin["big"]!.ToJsonString());
        Assert.Equal("noop", (string?)stdin["type"]);
    }
}

/// <summary>A failed ADD is rolled back with a DEL of the whole list, last plugin first.</summary>
public sealed class PluginRollbackTests : IDisposable
{
    private static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0" };

    private readonly TestPluginFixture _fixture = new("noop", "noop2", "noop3");

    public void Dispose() => _fixture.Dispose();

    private NetworkConfigList FailingSecond(string secondScript) => TestPluginFixture.List(
        "net",
        "1.0.0",
        _fixture.Plugin("noop", _fixture.WriteScript("first.json", """{"result":{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}}""")),
        _fixture.Plugin("noop2", _fixture.WriteScript("second.json", secondScript)),
        _fixture.Plugin("noop3"));

    [Fact(Timeout = 20_000)]
    public async Task When_the_second_plugin_fails_ADD_the_whole_list_is_deleted_in_reverse_and_the_ADD_error_thrown()
    {
        var list = FailingSecond("""{"commands":{"ADD":{"error":"no more addresses","errorCode":7}}}""");
        var client = _fixture.CreateClient(o => o with { TransientRetries = 0 });

        var error = await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal("plugin type=\"noop2\" name=\"net\" failed (add): no more addresses", error.Message);
        Assert.Equal(["ADD noop", "ADD noop2", "DEL noop3", "DEL noop2", "DEL noop"], _fixture.ReadCalls());
        Assert.False(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
        Assert.Empty(await client.GetCachedAttachmentsAsync());

        // The rollback DEL carries what the ADD built so far.
        foreach (var call in _fixture.ReadLog().Skip(2))
        {
            Assert.Equal("10.1.2.3/24", (string?)call["stdin"]!["prevResult"]!["ips"]![0]!["address"]);
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task When_the_rollback_DEL_fails_too_both_errors_are_returned()
    {
        var list = FailingSecond("""{"commands":{"ADD":{"error":"no more addresses","errorCode":7},"DEL":{"error":"device busy","errorCode":11}}}""");
        var client = _fixture.CreateClient(o => o with { TransientRetries = 0 });

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal(2, error.Errors.Count);
        var addError = Assert.IsType<CniPluginException>(error.Errors[0]);
        Assert.Equal("ADD", addError.Command);
        Assert.Equal("no more addresses", addError.ErrorMessage);
        var delError = Assert.IsType<CniPluginException>(error.Errors[1]);
        Assert.Equal("DEL", delError.Command);
        Assert.Equal("plugin type=\"noop2\" name=\"net\" failed (delete): device busy", delError.Message);
        Assert.Equal(CniErrorCode.InvalidNetworkConfig, error.Code);
        Assert.StartsWith("ADD of network \"net\" failed and the rollback DEL failed too", error.Message, StringComparison.Ordinal);

        // DEL stops at the first failing plugin that ran (as libcni's does).
        Assert.Equal(["ADD noop", "ADD noop2", "DEL noop3", "DEL noop2"], _fixture.ReadCalls());

        // The record stays, pending, with the first plugin's result; once the plugin is fixed a DEL sends it to all.
        var leftover = await client.Cache.ReadAsync("net", "ctr-1", "eth0");
        Assert.Equal("ADD", leftover!.Pending);
        Assert.Equal("10.1.2.3/24", leftover.ParseResult()!.Ips.Single().Address.ToString());
        _fixture.WriteScript("second.json", "{}");

        await client.DeleteNetworkListAsync(list, Runtime);

        Assert.Equal(["DEL noop3", "DEL noop2", "DEL noop"], _fixture.ReadCalls().Skip(4));
        foreach (var call in _fixture.ReadLog().Skip(4))
        {
            Assert.Equal("10.1.2.3/24", (string?)call["stdin"]!["prevResult"]!["ips"]![0]!["address"]);
        }

        Assert.False(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
    }

    // A plugin that cannot be found never ran; the rollback passes over it rather than leak what the first one made.
    [Fact(Timeout = 20_000)]
    public async Task When_a_later_plugin_is_missing_the_rollback_still_deletes_the_plugins_that_ran()
    {
        var list = TestPluginFixture.List(
            "net",
            "1.0.0",
            _fixture.Plugin("noop", _fixture.WriteScript("first.json", """{"result":{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}}""")),
            _fixture.Plugin("does-not-exist"),
            _fixture.Plugin("noop3"));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginNotFoundException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal("ADD", error.Command);
        Assert.Equal(["ADD noop", "DEL noop3", "DEL noop"], _fixture.ReadCalls());
        Assert.False(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
    }

    [Fact(Timeout = 20_000)]
    public async Task Without_rollback_a_failed_ADD_runs_no_DEL()
    {
        var list = FailingSecond("""{"commands":{"ADD":{"error":"no more addresses","errorCode":7}}}""");
        var client = _fixture.CreateClient(o => o with { RollbackFailedAdd = false });

        await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal(["ADD noop", "ADD noop2"], _fixture.ReadCalls());
        Assert.False(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
    }
}
