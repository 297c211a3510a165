using CniRuntime.Configuration;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Configuration;

/// <summary>
/// The AOT validator agrees with NJsonSchema: on every file of testdata (valid and invalid configurations, results of
/// every version) and on hand-made bad documents, both report the same violations (JSON path and kind).
/// </summary>
public sealed class JsonSchemaSubsetValidatorTests
{
    private const string ListSchema = "CniRuntime.Schemas.network-config-list.schema.json";
    private const string PluginSchema = "CniRuntime.Schemas.plugin-config.schema.json";

    public static TheoryData<string, string> ConfigFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var folder in new[] { "valid", "invalid" })
        {
            foreach (var file in Directory.EnumerateFiles(TestData.Path("conflists", folder)).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(file);
                if (name.EndsWith(".conflist", StringComparison.Ordinal))
                {
                    data.Add(ListSchema, Path.Combine(folder, name));
                }
                else if (name.EndsWith(".conf", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.Ordinal))
                {
                    data.Add(PluginSchema, Path.Combine(folder, name));
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string> ResultFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var directory in Directory.EnumerateDirectories(TestData.Path("results")).Order(StringComparer.Ordinal))
        {
            var version = Path.GetFileName(directory);
            if (!char.IsAsciiDigit(version[0]))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
            {
                data.Add($"CniRuntime.Schemas.result-{version}.schema.json", Path.Combine(version, Path.GetFileName(file)));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ConfigFiles))]
    public void Agrees_with_NJsonSchema_on_every_configuration_file(string schema, string file)
    {
        var path = TestData.Path("conflists", file);
        var json = File.ReadAllText(path);

        var subset = Shape(JsonSchemaSubsetValidator.Validate(schema, json, path));

        var expected = Shape(NJsonSchemaValidator.Validate(schema, json, path));
        if (expected.Count == 0 && subset is ["$ InvalidJson"])
        {
            // Known difference 1: NJsonSchema parses with Newtonsoft, which accepts comments, trailing commas and a
            // second document; the subset validator parses strictly, as the configuration loader does.
            Assert.StartsWith("invalid", file, StringComparison.Ordinal);
            return;
        }

        Assert.Equal(expected, subset);
        if (file.StartsWith("valid", StringComparison.Ordinal))
        {
            Assert.Empty(subset);
        }
    }

    [Theory]
    [MemberData(nameof(ResultFiles))]
    public void Agrees_with_NJsonSchema_on_every_result_file(string schema, string file)
    {
        var json = File.ReadAllText(TestData.Path("results", file));

        var subset = Shape(JsonSchemaSubsetValidator.Validate(schema, json, file));

        Assert.Equal(Shape(NJsonSchemaValidator.Validate(schema, json, file)), subset);
        Assert.Empty(subset);
    }

    [Theory]
    [InlineData(ListSchema, """
        {"cniVersion":"1.0","plugins":[{"type":"bridge"},{"capabilities":{"portMappings":"yes"}},
          {"type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":70000,"containerPort":80,"protocol":"tcp"}]}}]}
        """)]
    [InlineData(ListSchema, """{"cniVersion":"1.0.0","name":"","plugins":[]}""")]
    [InlineData(ListSchema, """{"cniVersion":1,"name":"x","disableCheck":"maybe","plugins":[{"type":"bridge","ipam":{"type":7}}]}""")]
    [InlineData(ListSchema, """{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":0,"containerPort":1.5,"protocol":"icmp"}]}}]}""")]
    [InlineData(ListSchema, """[1,2]""")]
    [InlineData(PluginSchema, """{"cniVersion":"0.4.0","name":"x","type":"bridge","dns":{"nameservers":"8.8.8.8"},"capabilities":[]}""")]
    [InlineData(PluginSchema, """{"type":""}""")]
    public void Agrees_with_NJsonSchema_on_bad_documents(string schema, string json)
    {
        var expected = Shape(NJsonSchemaValidator.Validate(schema, json, "bad"));

        var actual = Shape(JsonSchemaSubsetValidator.Validate(schema, json, "bad"));

        Assert.NotEmpty(actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Reports_the_documented_violations_with_file_and_path()
    {
        const string Json = """
            {"cniVersion":"1.0","plugins":[{"type":"bridge"},{"capabilities":{"portMappings":"yes"}},
              {"type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":70000,"containerPort":80,"protocol":"tcp"}]}}]}
            """;

        var violations = JsonSchemaSubsetValidator.Validate(ListSchema, Json, "bad.conflist");

        var found = violations.Select(v => $"{v.JsonPath} {v.Kind}").ToList();
        Assert.Contains("$.name PropertyRequired", found);
        Assert.Contains("$.cniVersion PatternMismatch", found);
        Assert.Contains("$.plugins[1].type PropertyRequired", found);
        Assert.Contains("$.plugins[1].capabilities.portMappings BooleanExpected", found);
        Assert.Contains("$.plugins[2].runtimeConfig.portMappings[0].hostPort NumberTooBig", found);
        Assert.All(violations, v => Assert.Equal("bad.conflist", v.File));
        Assert.Equal("bad.conflist: $.name: required property 'name' is missing", violations.Single(v => v.JsonPath == "$.name").ToString());
    }

    [Fact]
    public void Invalid_json_is_one_violation_at_the_root()
    {
        var violation = Assert.Single(JsonSchemaSubsetValidator.Validate(PluginSchema, "{\"type\":", "x.conf"));

        Assert.Equal(("$", "InvalidJson"), (violation.JsonPath, violation.Kind));
    }

    [Fact]
    public void Every_embedded_schema_uses_only_supported_keywords()
    {
        foreach (var name in CniSchemas.ResourceNames)
        {
            using var stream = typeof(CniSchemas).Assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);

            // Load refuses any keyword outside the subset, and every $ref must resolve.
            var validator = JsonSchemaSubsetValidator.Load(reader.ReadToEnd());
            Assert.NotNull(validator);
        }
    }

    [Fact]
    public void A_schema_with_an_unsupported_keyword_is_refused()
    {
        var error = Assert.Throws<NotSupportedException>(() => JsonSchemaSubsetValidator.Load("""{"properties":{"a":{"not":{"type":"string"}}}}"""));

        Assert.Contains("\"not\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":["boolean","string"],"pattern":"^(true|false)$"}""", "\"yes\"", "$ NoTypeValidates")]
    [InlineData("""{"type":["boolean","string"],"pattern":"^(true|false)$"}""", "true", "")]
    [InlineData("""{"type":"object","additionalProperties":false,"properties":{"a":{}}}""", """{"a":1,"b":2}""", "$.b NoAdditionalPropertiesAllowed")]
    [InlineData("""{"anyOf":[{"type":"string"},{"type":"integer"}]}""", "1.5", "$ NotAnyOf")]
    [InlineData("""{"oneOf":[{"type":"integer"},{"minimum":0}]}""", "3", "$ NotOneOf")]
    [InlineData("""{"allOf":[{"type":"integer"},{"maximum":2}]}""", "3", "$ NumberTooBig")]
    [InlineData("""{"type":"array","items":{"$ref":"#/definitions/s"},"minItems":1,"definitions":{"s":{"type":"string","minLength":2,"enum":["ab","cd"]}}}""", """["a"]""", "$[0] NotInEnumeration|$[0] StringTooShort")]
    public void Handles_each_keyword(string schema, string json, string expected)
    {
        var found = JsonSchemaSubsetValidator.Load(schema).Validate(json, null).Select(v => $"{v.JsonPath} {v.Kind}").Order(StringComparer.Ordinal);

        Assert.Equal(expected, string.Join("|", found));
    }

    // Known difference 2: where a value is not an object, NJsonSchema also reports the object's required properties
    // as missing (and names the root "$."); the subset validator reports the type error alone. Both are normalised
    // away here, every other path and kind must match exactly.
    private static List<string> Shape(IEnumerable<SchemaViolation> violations)
    {
        var shapes = violations.Select(v => (Path: v.JsonPath == "$." ? "$" : v.JsonPath, v.Kind)).Distinct().ToList();
        var notObjects = shapes.Where(s => s.Kind == "ObjectExpected").Select(s => s.Path).ToHashSet(StringComparer.Ordinal);
        return [.. shapes
            .Where(s => !(s.Kind == "PropertyRequired" && notObjects.Any(p => s.Path.StartsWith(p + ".", StringComparison.Ordinal) || (p == "$" && s.Path.StartsWith("$.", StringComparison.Ordinal)))))
            .Select(s => $"{s.Path} {s.Kind}")
            .Order(StringComparer.Ordinal)];
    }
}
