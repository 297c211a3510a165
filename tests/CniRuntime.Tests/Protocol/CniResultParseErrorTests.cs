using System.Text;
using System.Text.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class CniResultParseErrorTests
{
    private static CniException ParseFails(string json, CniVersion? versionIfMissing = null) =>
        ParseFails(Encoding.UTF8.GetBytes(json), versionIfMissing);

    private static CniException ParseFails(byte[] utf8, CniVersion? versionIfMissing = null)
    {
        // Assert.Throws demands the exact type, so no other exception type can slip through.
        return Assert.Throws<CniException>(() => CniResultJson.Parse(utf8, versionIfMissing));
    }

    private static string ReaderMessage(byte[] utf8)
    {
        var e = Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(utf8).Dispose());
        return e.Message;
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("{\"cniVersion\": \"1.0.0\",}")]
    [InlineData("{} {}")]
    [InlineData("{} x")]
    [InlineData("// comment\n{}")]
    public void Text_that_is_not_json_is_a_decoding_failure(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);

        var error = ParseFails(bytes);

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.Equal("failed to unmarshal raw result: " + ReaderMessage(bytes), error.Message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"1.0.0\"")]
    [InlineData("42")]
    [InlineData("true")]
    public void Json_that_is_not_an_object_is_a_decoding_failure(string text)
    {
        var error = ParseFails(text);

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.Equal("failed to unmarshal raw result: expected a JSON object", error.Message);
    }

    [Theory]
    [InlineData("""{"cniVersion": "0.5.0"}""", "0.5.0")]
    [InlineData("""{"cniVersion": "2.0.0"}""", "2.0.0")]
    [InlineData("""{"cniVersion": "1.0"}""", "1.0")]
    [InlineData("""{"cniVersion": "v1.0.0"}""", "v1.0.0")]
    [InlineData("""{"cniVersion": "latest"}""", "latest")]
    public void Unknown_version_is_incompatible(string json, string version)
    {
        var error = ParseFails(json, CniVersion.V100);

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal($"unsupported CNI result version \"{version}\"", error.Message);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("null")]
    public void Unknown_version_if_missing_is_incompatible(string json)
    {
        var error = ParseFails(json, new CniVersion(0, 5, 0));

        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
        Assert.Equal("unsupported CNI result version \"0.5.0\"", error.Message);
    }

    [Theory]
    // Wrong types.
    [InlineData("""{"cniVersion": 1}""", "$.cniVersion: expected a string")]
    [InlineData("""{"cniVersion": "1.0.0", "interfaces": {}}""", "$.interfaces: expected an array")]
    [InlineData("""{"cniVersion": "1.0.0", "interfaces": ["eth0"]}""", "$.interfaces[0]: expected an object")]
    [InlineData("""{"cniVersion": "1.0.0", "interfaces": [{"mac": "aa:bb:cc:dd:ee:ff"}]}""", "$.interfaces[0].name: required field is missing")]
    [InlineData("""{"cniVersion": "1.0.0", "interfaces": [{"name": 0}]}""", "$.interfaces[0].name: expected a string")]
    [InlineData("""{"cniVersion": "1.1.0", "interfaces": [{"name": "a"}, {"name": "b", "mtu": "1500"}]}""", "$.interfaces[1].mtu: expected an integer")]
    [InlineData("""{"cniVersion": "1.1.0", "interfaces": [{"name": "b", "mtu": 1500.5}]}""", "$.interfaces[0].mtu: expected an integer")]
    [InlineData("""{"cniVersion": "1.1.0", "interfaces": [{"name": "b", "mtu": 4294967296}]}""", "$.interfaces[0].mtu: expected an integer")]
    [InlineData("""{"cniVersion": "1.1.0", "interfaces": [{"name": "b", "pciID": 3}]}""", "$.interfaces[0].pciID: expected a string")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": 10}]}""", "$.ips[0].address: expected a string")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "interface": "0"}]}""", "$.ips[0].interface: expected an integer")]
    [InlineData("""{"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "table": true}]}""", "$.routes[0].table: expected an integer")]
    [InlineData("""{"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "advmss": []}]}""", "$.routes[0].advmss: expected an integer")]
    [InlineData("""{"cniVersion": "1.0.0", "dns": []}""", "$.dns: expected an object")]
    [InlineData("""{"cniVersion": "1.0.0", "dns": {"nameservers": "10.0.0.1"}}""", "$.dns.nameservers: expected an array")]
    [InlineData("""{"cniVersion": "1.0.0", "dns": {"search": ["a", 1]}}""", "$.dns.search[1]: expected a string")]
    [InlineData("""{"cniVersion": "1.0.0", "dns": {"domain": {}}}""", "$.dns.domain: expected a string")]
    [InlineData("""{"cniVersion": "0.2.0", "ip4": "10.0.0.2/24"}""", "$.ip4: expected an object")]
    [InlineData("""{"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24", "routes": {}}}""", "$.ip4.routes: expected an array")]
    // Invalid addresses and prefixes.
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24"}, {"address": "10.0.0/24"}]}""", "$.ips[1].address: \"10.0.0/24\" is not an IP address with a prefix length")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2"}]}""", "$.ips[0].address: \"10.0.0.2\" is not an IP address with a prefix length")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/33"}]}""", "$.ips[0].address: \"10.0.0.2/33\" is not an IP address with a prefix length")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "fd00::2/129"}]}""", "$.ips[0].address: \"fd00::2/129\" is not an IP address with a prefix length")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": ""}]}""", "$.ips[0].address: \"\" is not an IP address with a prefix length")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"gateway": "10.0.0.1"}]}""", "$.ips[0].address: required field is missing")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.256"}]}""", "$.ips[0].gateway: \"10.0.0.256\" is not an IP address")]
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1/24"}]}""", "$.ips[0].gateway: \"10.0.0.1/24\" is not an IP address")]
    [InlineData("""{"cniVersion": "1.0.0", "routes": [{"gw": "10.0.0.1"}]}""", "$.routes[0].dst: required field is missing")]
    [InlineData("""{"cniVersion": "1.0.0", "routes": [{"dst": "default"}]}""", "$.routes[0].dst: \"default\" is not an IP address with a prefix length")]
    [InlineData("""{"cniVersion": "1.0.0", "routes": [{"dst": "::/0", "gw": "fe80::1%eth0"}]}""", "$.routes[0].gw: \"fe80::1%eth0\" is not an IP address")]
    [InlineData("""{"cniVersion": "0.1.0", "ip4": {}}""", "$.ip4.ip: required field is missing")]
    [InlineData("""{"cniVersion": "0.1.0", "ip4": {"ip": "fd00::2/64"}}""", "$.ip4.ip: \"fd00::2/64\" is not an IPv4 address")]
    [InlineData("""{"cniVersion": "0.2.0", "ip6": {"ip": "10.0.0.2/24"}}""", "$.ip6.ip: \"10.0.0.2/24\" is not an IPv6 address")]
    [InlineData("""{"cniVersion": "0.2.0", "ip6": {"ip": "fd00::2/64", "gateway": "fd00::x"}}""", "$.ip6.gateway: \"fd00::x\" is not an IP address")]
    [InlineData("""{"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24", "routes": [{"dst": "::/0"}]}}""", "$.ip4.routes[0].dst: \"::/0\" is not an IPv4 destination, as a route under ip4 must be")]
    // ips[].version in 0.3.x/0.4.0.
    [InlineData("""{"cniVersion": "0.3.1", "ips": [{"version": 4, "address": "10.0.0.2/24"}]}""", "$.ips[0].version: expected a string")]
    [InlineData("""{"cniVersion": "0.3.0", "ips": [{"version": "5", "address": "10.0.0.2/24"}]}""", "$.ips[0].version: \"5\" is not \"4\" or \"6\"")]
    [InlineData("""{"cniVersion": "0.4.0", "ips": [{"version": "6", "address": "10.0.0.2/24"}]}""", "$.ips[0].version: \"6\" does not match the address \"10.0.0.2/24\"")]
    [InlineData("""{"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.0.0.2/24"}, {"version": "4", "address": "fd00::2/64"}]}""", "$.ips[1].version: \"4\" does not match the address \"fd00::2/64\"")]
    // Interface indexes.
    [InlineData("""{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "interface": 0}]}""", "$.ips[0].interface: index 0 is out of range: the result has 0 interfaces")]
    [InlineData("""{"cniVersion": "0.4.0", "interfaces": [{"name": "eth0"}], "ips": [{"version": "4", "address": "10.0.0.2/24", "interface": 1}]}""", "$.ips[0].interface: index 1 is out of range: the result has 1 interfaces")]
    [InlineData("""{"cniVersion": "1.1.0", "interfaces": [{"name": "eth0"}], "ips": [{"address": "10.0.0.2/24", "interface": -1}]}""", "$.ips[0].interface: index -1 is out of range: the result has 1 interfaces")]
    public void Invalid_field_is_a_decoding_failure_naming_its_path(string json, string expected)
    {
        var error = ParseFails(json);

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.Equal("invalid result: " + expected, error.Message);
    }

    [Fact]
    public void Invalid_utf8_is_a_decoding_failure()
    {
        byte[] bytes = [.. "{\"cniVersion\": \"1.0.0\", \"interfaces\": [{\"name\": \""u8, 0xff, 0xfe, .. "\"}]}"u8];

        var error = ParseFails(bytes);

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
    }

    [Fact]
    public void Deep_nesting_is_a_decoding_failure()
    {
        var json = "{\"cniVersion\": \"1.0.0\", \"x\": " + new string('[', 100) + new string(']', 100) + "}";

        var error = ParseFails(json);

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
        Assert.StartsWith("failed to unmarshal raw result: ", error.Message, StringComparison.Ordinal);
    }
}
