using CniRuntime.Configuration;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Configuration;

/// <summary>The embedded schemas accept every valid configuration and name each violation with its path.</summary>
public sealed class CniSchemasTests
{
    public static TheoryData<string> ValidLists() =>
        [.. TestData.ReadTable("conflists", "valid", "MANIFEST.tsv").Select(r => r["file"]).Where(f => f.EndsWith(".conflist", StringComparison.Ordinal))];

    [Fact]
    public void Validation_is_available_under_the_jit()
    {
        Assert.True(CniFeatures.SchemaValidationIsSupported);
        Assert.Equal(11, CniSchemas.ResourceNames.Count);
    }

    [Theory]
    [MemberData(nameof(ValidLists))]
    public void Every_valid_list_satisfies_the_list_schema(string file)
    {
        var path = TestData.Path("conflists", "valid", file);

        var violations = CniSchemas.Validate(CniDocumentKind.NetworkConfigList, File.ReadAllText(path), path);

        Assert.Empty(violations);
    }

    [Fact]
    public void Every_violation_is_reported_at_once_with_file_and_path()
    {
        const string Json = """
            {"cniVersion":"1.0","plugins":[{"type":"bridge"},{"capabilities":{"portMappings":"yes"}},
              {"type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":70000,"containerPort":80,"protocol":"tcp"}]}}]}
            """;

        var violations = CniSchemas.Validate(CniDocumentKind.NetworkConfigList, Json, "bad.conflist");

        var found = violations.Select(v => $"{v.JsonPath} {v.Kind}").Order(StringComparer.Ordinal).ToList();
        Assert.Contains("$.name PropertyRequired", found);
        Assert.Contains("$.cniVersion PatternMismatch", found);
        Assert.Contains("$.plugins[1].type PropertyRequired", found);
        Assert.Contains("$.plugins[1].capabilities.portMappings BooleanExpected", found);
        Assert.Contains("$.plugins[2].runtimeConfig.portMappings[0].hostPort NumberTooBig", found);
        Assert.All(violations, v => Assert.Equal("bad.conflist", v.File));
        Assert.Equal("bad.conflist: $.name: required property 'name' is missing", violations.Single(v => v.Kind == "PropertyRequired" && v.JsonPath == "$.name").ToString());
    }

    [Fact]
    public void Invalid_json_is_one_violation_at_the_root()
    {
        var violation = Assert.Single(CniSchemas.Validate(CniDocumentKind.PluginConfig, "{\"type\":", "x.conf"));

        Assert.Equal(("$", "InvalidJson"), (violation.JsonPath, violation.Kind));
    }

    [Theory]
    [InlineData("0.1.0", """{"cniVersion":"0.1.0","ip4":{"ip":"10.0.0.2/24","gateway":"10.0.0.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{"nameservers":["10.0.0.1"]}}""")]
    [InlineData("0.2.0", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24","gateway":"10.0.0.1"},"ip6":{"ip":"fd00::2/64"}}""")]
    [InlineData("0.3.0", """{"cniVersion":"0.3.0","interfaces":[{"name":"eth0","mac":"0a:58:0a:00:00:02"}],"ips":[{"version":"4","address":"10.0.0.2/24","interface":0}]}""")]
    [InlineData("0.3.1", """{"cniVersion":"0.3.1","ips":[{"version":"6","address":"fd00::2/64","gateway":"fd00::1"}],"routes":[{"dst":"::/0","gw":"fd00::1"}]}""")]
    [InlineData("0.4.0", """{"cniVersion":"0.4.0","interfaces":[{"name":"eth0"}],"ips":[{"version":"4","address":"10.0.0.2/24","interface":0}]}""")]
    [InlineData("1.0.0", """{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[{"address":"10.0.0.2/24","interface":0}],"dns":{"search":["svc.local"]}}""")]
    [InlineData("1.1.0", """{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","mtu":1500}],"ips":[{"address":"fd00::2/64","gateway":"fd00::1"}],"routes":[{"dst":"::/0"}]}""")]
    public void Results_of_each_version_validate_against_their_own_schema(string version, string json)
    {
        Assert.Empty(CniSchemas.Validate(CniDocumentKind.Result, json, resultVersion: CniVersion.Parse(version)));
        Assert.Empty(JsonSchemaSubsetValidator.Validate($"CniRuntime.Schemas.result-{version}.schema.json", json, "r.json"));
    }

    [Theory]
    [InlineData("0.1.0", """{"cniVersion":"0.1.0","ip4":{"gateway":"10.0.0.1"}}""", "$.ip4.ip PropertyRequired")]
    [InlineData("0.1.0", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}}""", "$.cniVersion NotInEnumeration")]
    [InlineData("0.2.0", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2"}}""", "$.ip4.ip PatternMismatch")]
    [InlineData("0.3.0", """{"cniVersion":"0.3.0","ips":[{"address":"10.0.0.2/24"}]}""", "$.ips[0].version PropertyRequired")]
    [InlineData("0.3.1", """{"cniVersion":"0.3.1","ips":[{"version":"5","address":"10.0.0.2/24"}]}""", "$.ips[0].version NotInEnumeration")]
    [InlineData("0.4.0", """{"cniVersion":"0.4.0","ips":[{"address":"10.0.0.2/24"}]}""", "$.ips[0].version PropertyRequired")]
    [InlineData("1.0.0", """{"cniVersion":"1.0.0","interfaces":[{"mac":"0a:58:0a:00:00:02"}],"ips":[{"gateway":"10.0.0.1"}]}""", "$.interfaces[0].name PropertyRequired; $.ips[0].address PropertyRequired")]
    [InlineData("1.0.0", """{"ips":[{"address":"10.0.0.2/24"}]}""", "$.cniVersion PropertyRequired")]
    [InlineData("1.1.0", """{"cniVersion":"1.1.0","routes":[{"gw":"10.0.0.1"}],"interfaces":[{"name":"eth0","mtu":-1}]}""", "$.interfaces[0].mtu NumberTooSmall; $.routes[0].dst PropertyRequired")]
    public void Results_of_each_version_that_break_their_schema_are_flagged(string version, string json, string expected)
    {
        var violations = CniSchemas.Validate(CniDocumentKind.Result, json, resultVersion: CniVersion.Parse(version));
        var subset = JsonSchemaSubsetValidator.Validate($"CniRuntime.Schemas.result-{version}.schema.json", json, "r.json");

        Assert.Equal(expected, string.Join("; ", violations.Select(v => $"{v.JsonPath} {v.Kind}").Order(StringComparer.Ordinal)));
        Assert.Equal(expected, string.Join("; ", subset.Select(v => $"{v.JsonPath} {v.Kind}").Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void Results_of_unknown_versions_have_no_schema()
    {
        var error = Assert.Throws<CniException>(() => CniSchemas.Validate(CniDocumentKind.Result, "{}", resultVersion: new CniVersion(0, 5, 0)));

        Assert.Equal("unsupported CNI result version \"0.5.0\"", error.Message);
    }

    [Fact]
    public void Error_and_version_replies_have_schemas()
    {
        Assert.Empty(CniSchemas.Validate(CniDocumentKind.Error, """{"cniVersion":"1.0.0","code":7,"msg":"bad","details":"x"}"""));
        Assert.NotEmpty(CniSchemas.Validate(CniDocumentKind.Error, """{"code":-1}"""));
        Assert.Empty(CniSchemas.Validate(CniDocumentKind.VersionInfo, """{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0"]}"""));
        Assert.Contains("\"$schema\"", CniSchemas.GetSchemaText(CniDocumentKind.Result, CniVersion.V100), StringComparison.Ordinal);
    }
}
