using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Caching;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;
using static CniRuntime.Tests.Networks.CniClientFixture;

namespace CniRuntime.Tests.Networks;

/// <summary>The engine's use of the result cache: libcni's api_test cache cases and the backwards-compatibility ones.</summary>
public sealed class CniClientCacheTests : IDisposable
{
    private const string NetworkList = """{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop","capabilities":{"portMappings":true}}]}""";
    private readonly CniClientFixture _f = new();

    public void Dispose() => _f.Dispose();

    private void AnswerWithAnAddressPerInterface() =>
        _f.Executor.OnCommand("noop", CniCommand.Add, call => FakePluginExecutor.Success(
            $$"""{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.{{(call.Environment["CNI_IFNAME"] == "eth0" ? 3 : 4)}}/24"}]}"""));

    [Fact]
    public async Task Two_interfaces_on_one_network_give_two_cache_files_each_with_its_own_address()
    {
        AnswerWithAnAddressPerInterface();

        await _f.Client.AddNetworkListAsync(List(NetworkList), Runtime(ifName: "eth0"));
        await _f.Client.AddNetworkListAsync(List(NetworkList), Runtime(ifName: "net1"));

        foreach (var (ifName, address) in new[] { ("eth0", "10.1.2.3/24"), ("net1", "10.1.2.4/24") })
        {
            var file = JsonNode.Parse(File.ReadAllText(_f.CachePath("net", ifName: ifName)))!;
            Assert.Equal("cniCacheV1", file["kind"]!.GetValue<string>());
            Assert.Equal("some-container-id", file["containerId"]!.GetValue<string>());
            Assert.Equal("net", file["networkName"]!.GetValue<string>());
            Assert.Equal(ifName, file["ifName"]!.GetValue<string>());
            Assert.Equal(address, file["result"]!["ips"]![0]!["address"]!.GetValue<string>());
            Assert.Equal(address, (await _f.Client.GetCachedResultAsync(List(NetworkList), Runtime(ifName: ifName)))!.Ips[0].Address.ToString());
        }
    }

    [Fact]
    public async Task A_cached_attachment_holds_every_field_ADD_used()
    {
        AnswerWithAnAddressPerInterface();
        var list = List(NetworkList);
        var runtime = Runtime() with { CapabilityArgs = Caps("""{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000}}""") };
        await _f.Client.AddNetworkListAsync(list, runtime);
        AnswerWithAnAddressPerInterface();
        await _f.Client.AddNetworkListAsync(list, Runtime("other-container"));

        var all = await _f.Client.GetCachedAttachmentsAsync();
        var mine = Assert.Single(await _f.Client.GetCachedAttachmentsAsync("some-container-id"));

        Assert.Equal(["other-container", "some-container-id"], all.Select(a => a.ContainerId).Order(StringComparer.Ordinal));
        Assert.Equal(mine, all.Single(a => a.ContainerId == "some-container-id"), AttachmentText.Instance);
        Assert.Equal("some-container-id", mine.ContainerId);
        Assert.Equal("net", mine.NetworkName);
        Assert.Equal("eth0", mine.InterfaceName);
        Assert.Equal("/some/netns/path", mine.NetworkNamespace);
        Assert.Equal(NetworkList, Encoding.UTF8.GetString(mine.Config.Span));
        Assert.Equal([new("DEBUG", "value"), new("K8S_POD_NAME", "web")], mine.CniArgs);
        Assert.Equal(["bandwidth", "portMappings"], mine.CapabilityArgs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("""[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]""", mine.CapabilityArgs["portMappings"].GetRawText());
        Assert.Equal("""{"ingressRate":1000}""", mine.CapabilityArgs["bandwidth"].GetRawText());
        Assert.Equal("""{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}""", mine.Result!.Value.GetRawText());
        Assert.False(mine.IsLegacy);
        Assert.Null(mine.Pending);
    }

    [Fact]
    public async Task A_cached_config_that_is_not_json_gives_libcnis_message()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllText(_f.CachePath("net"), "{\"kind\":\"cniCacheV1\",");
        string jsonError;
        try
        {
            var reader = new Utf8JsonReader("{\"kind\":\"cniCacheV1\","u8);
            JsonElement.ParseValue(ref reader);
            throw new InvalidOperationException("the text parsed");
        }
        catch (JsonException ex)
        {
            jsonError = ex.Message;
        }

        var error = await Assert.ThrowsAsync<CniCacheException>(() => _f.Client.GetCachedConfigAsync(List(NetworkList), Runtime()));

        Assert.Equal($"failed to unmarshal cached network \"net\" config: cache file {_f.CachePath("net")} is not valid JSON: {jsonError}", error.Message);
        Assert.Equal(_f.CachePath("net"), error.Path);
    }

    [Fact]
    public async Task CHECK_of_a_040_list_converts_a_031_cache_to_040()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllText(_f.CachePath("net"), """{"kind":"cniCacheV1","containerId":"some-container-id","ifName":"eth0","networkName":"net","result":{"cniVersion":"0.3.1","dns":{},"interfaces":[{"name":"eth0","sandbox":"/some/netns/path"}],"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0,"version":"4"}]}}""");

        await _f.Client.CheckNetworkListAsync(List(NetworkList.Replace("1.0.0", "0.4.0", StringComparison.Ordinal)), Runtime());

        var call = Assert.Single(_f.Executor.Calls);
        Assert.Equal(CniCommand.Check, call.Command);
        Assert.Equal(
            """{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/some/netns/path"}],"ips":[{"interface":0,"version":"4","address":"10.1.2.3/24","gateway":"10.1.2.1"}]}""",
            call.Stdin["prevResult"]!.ToJsonString());
    }

    [Fact]
    public async Task CHECK_with_a_zero_byte_cache_is_an_error_naming_the_file()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_f.CachePath("net"))!);
        File.WriteAllBytes(_f.CachePath("net"), []);

        var error = await Assert.ThrowsAsync<CniException>(() => _f.Client.CheckNetworkListAsync(List(NetworkList.Replace("1.0.0", "0.4.0", StringComparison.Ordinal)), Runtime()));

        Assert.Equal($"failed to get network \"net\" cached result: cache file {_f.CachePath("net")} is empty", error.Message);
        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.Empty(_f.Executor.Calls);
    }

    [Theory]
    [InlineData("0.1.0")]
    [InlineData("0.2.0")]
    public async Task ADD_and_DEL_of_a_legacy_list_handle_its_ip4_result(string version)
    {
        var list = List($$"""{"cniVersion":"{{version}}","name":"net","plugins":[{"type":"noop"}]}""");
        _f.Executor.OnCommand("noop", CniCommand.Add, _ => FakePluginExecutor.Success(
            $$$"""{"cniVersion":"{{{version}}}","ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{"nameservers":["10.1.2.1"]}}"""));

        var result = await _f.Client.AddNetworkListAsync(list, Runtime());
        var cached = JsonNode.Parse(File.ReadAllText(_f.CachePath("net")))!["result"]!.ToJsonString();
        await _f.Client.DeleteNetworkListAsync(list, Runtime());

        Assert.Equal(CniVersion.Parse(version), result.CniVersion);
        Assert.Equal("10.1.2.3/24", Assert.Single(result.Ips).Address.ToString());
        Assert.Equal("0.0.0.0/0", Assert.Single(result.Routes).Dst.ToString());
        Assert.Equal($$$"""{"cniVersion":"{{{version}}}","dns":{"nameservers":["10.1.2.1"]},"ip4":{"gateway":"10.1.2.1","ip":"10.1.2.3/24","routes":[{"dst":"0.0.0.0/0"}]}}""", cached);
        var del = _f.Executor.Calls[^1];
        Assert.Equal(CniCommand.Del, del.Command);
        Assert.Null(del.Stdin["prevResult"]); // below 0.4.0, DEL gets no prevResult
        Assert.False(File.Exists(_f.CachePath("net")));
    }

    /// <summary>Compares attachments by their serialised text.</summary>
    private sealed class AttachmentText : IEqualityComparer<NetworkAttachment>
    {
        public static readonly AttachmentText Instance = new();

        public bool Equals(NetworkAttachment? x, NetworkAttachment? y) =>
            x is not null && y is not null && ResultCache.Serialize(x).AsSpan().SequenceEqual(ResultCache.Serialize(y));

        public int GetHashCode(NetworkAttachment obj) => 0;
    }
}
