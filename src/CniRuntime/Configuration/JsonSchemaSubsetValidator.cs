using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CniRuntime.Json;

namespace CniRuntime.Configuration;

/// <summary>
/// A small JSON Schema (draft-07) validator over <see cref="JsonElement"/> for exactly the keywords the embedded CNI
/// schemas use. It needs no reflection, so it runs under Native AOT, where <see cref="NJsonSchemaValidator"/> is
/// compiled out; it reports the same paths and kinds as the NJsonSchema path (leaf errors, wrappers flattened).
/// </summary>
/// <remarks>
/// Validating keywords: <c>type</c> (a name or an array of names), <c>properties</c>, <c>required</c>,
/// <c>additionalProperties</c> (a schema or <c>false</c>), <c>patternProperties</c>, <c>items</c> (one schema),
/// <c>enum</c>, <c>pattern</c>, <c>minLength</c>, <c>maxLength</c>, <c>minItems</c>, <c>maxItems</c>,
/// <c>minimum</c>, <c>maximum</c>, <c>$ref</c> to <c>#/definitions/…</c>, <c>allOf</c>, <c>anyOf</c>, <c>oneOf</c>.
/// Annotations (<c>title</c>, <c>description</c>, <c>$id</c>, <c>$schema</c>, <c>definitions</c>) are ignored.
/// Any other keyword makes <see cref="Load"/> throw, so a schema edit cannot silently weaken validation.
/// </remarks>
internal sealed class JsonSchemaSubsetValidator
{
    /// <summary>Every keyword this validator understands (validating ones and annotations).</summary>
    public static readonly IReadOnlySet<string> SupportedKeywords = new HashSet<string>(StringComparer.Ordinal)
    {
        "type", "properties", "required", "additionalProperties", "patternProperties", "items", "enum", "pattern",
        "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum", "$ref", "allOf", "anyOf", "oneOf",
        "title", "description", "$id", "$schema", "definitions", "default", "examples", "$comment",
    };

    private static readonly ConcurrentDictionary<string, JsonSchemaSubsetValidator> Cache = new(StringComparer.Ordinal);
    private readonly JsonElement _root;
    private readonly ConcurrentDictionary<string, Regex> _patterns = new(StringComparer.Ordinal);

    private JsonSchemaSubsetValidator(JsonElement root)
    {
        _root = root;
        CheckKeywords(root, "#");
    }

    /// <summary>Loads a schema, refusing keywords outside the subset.</summary>
    /// <exception cref="NotSupportedException">The schema uses a keyword this validator does not implement.</exception>
    public static JsonSchemaSubsetValidator Load(string schemaJson)
    {
        using var document = JsonDocument.Parse(schemaJson);
        return new JsonSchemaSubsetValidator(document.RootElement.Clone());
    }

    /// <summary>Validates against an embedded schema (loaded once per resource).</summary>
    public static IReadOnlyList<SchemaViolation> Validate(string resourceName, string json, string? file)
    {
        var validator = Cache.GetOrAdd(resourceName, static name =>
        {
            using var stream = CniSchemas.Assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"embedded schema {name} is missing");
            using var reader = new StreamReader(stream);
            return Load(reader.ReadToEnd());
        });
        return validator.Validate(json, file);
    }

    /// <summary>Every violation of the document (none when valid).</summary>
    public IReadOnlyList<SchemaViolation> Validate(string json, string? file)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            return [new SchemaViolation(file, JsonPath.Root, "InvalidJson", "not valid JSON: " + ex.Message)];
        }

        using (document)
        {
            var violations = new List<SchemaViolation>();
            Check(_root, document.RootElement, JsonPath.Root, file, violations);
            return violations;
        }
    }

    private void Check(JsonElement schema, JsonElement value, string path, string? file, List<SchemaViolation> into)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return; // true / {} accept everything; the schemas use no "false" subschema.
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            Check(Resolve(reference.GetString()!), value, path, file, into);
        }

        if (schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.Array)
        {
            // NJsonSchema tries the schema once per listed type; if none passes completely: NoTypeValidates.
            var names = type.EnumerateArray().Select(t => t.GetString()!).ToList();
            var anyPasses = names.Any(name =>
            {
                var attempt = new List<SchemaViolation>();
                CheckTyped(schema, name, value, path, file, attempt);
                return attempt.Count == 0;
            });
            if (!anyPasses)
            {
                into.Add(new SchemaViolation(file, path, "NoTypeValidates", $"expected {string.Join(" or ", names)} of the allowed form"));
            }
        }
        else
        {
            CheckTyped(schema, type.ValueKind == JsonValueKind.String ? type.GetString() : null, value, path, file, into);
        }

        CheckCombinators(schema, value, path, file, into);
    }

    // Every keyword except $ref and the combinators, with "type" fixed to one name (or none).
    private void CheckTyped(JsonElement schema, string? type, JsonElement value, string path, string? file, List<SchemaViolation> into)
    {
        if (type is not null && !HasType(value, type))
        {
            into.Add(new SchemaViolation(file, path, TypeKind(type), $"expected {Article(type)}"));
            return;
        }

        if (schema.TryGetProperty("enum", out var allowed) && !allowed.EnumerateArray().Any(a => JsonElement.DeepEquals(a, value)))
        {
            into.Add(new SchemaViolation(file, path, "NotInEnumeration", $"must be one of {string.Join(", ", allowed.EnumerateArray().Select(a => a.GetRawText()))}"));
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                CheckString(schema, value.GetString()!, path, file, into);
                break;
            case JsonValueKind.Number:
                CheckNumber(schema, value, path, file, into);
                break;
            case JsonValueKind.Array:
                CheckArray(schema, value, path, file, into);
                break;
            case JsonValueKind.Object:
                CheckObject(schema, value, path, file, into);
                break;
        }
    }

    private void CheckString(JsonElement schema, string text, string path, string? file, List<SchemaViolation> into)
    {
        var length = new StringInfo(text).LengthInTextElements;
        if (schema.TryGetProperty("minLength", out var min) && length < min.GetInt32())
        {
            into.Add(new SchemaViolation(file, path, "StringTooShort", string.Create(CultureInfo.InvariantCulture, $"string is shorter than {min.GetInt32()}")));
        }

        if (schema.TryGetProperty("maxLength", out var max) && length > max.GetInt32())
        {
            into.Add(new SchemaViolation(file, path, "StringTooLong", string.Create(CultureInfo.InvariantCulture, $"string is longer than {max.GetInt32()}")));
        }

        if (schema.TryGetProperty("pattern", out var pattern) && !Pattern(pattern.GetString()!).IsMatch(text))
        {
            into.Add(new SchemaViolation(file, path, "PatternMismatch", $"does not match the pattern {pattern.GetString()}"));
        }
    }

    private static void CheckNumber(JsonElement schema, JsonElement value, string path, string? file, List<SchemaViolation> into)
    {
        var number = value.GetDouble();
        if (schema.TryGetProperty("minimum", out var min) && number < min.GetDouble())
        {
            into.Add(new SchemaViolation(file, path, "NumberTooSmall", $"number is smaller than {min.GetRawText()}"));
        }

        if (schema.TryGetProperty("maximum", out var max) && number > max.GetDouble())
        {
            into.Add(new SchemaViolation(file, path, "NumberTooBig", $"number is larger than {max.GetRawText()}"));
        }
    }

    private void CheckArray(JsonElement schema, JsonElement value, string path, string? file, List<SchemaViolation> into)
    {
        var count = value.GetArrayLength();
        if (schema.TryGetProperty("minItems", out var min) && count < min.GetInt32())
        {
            into.Add(new SchemaViolation(file, path, "TooFewItems", string.Create(CultureInfo.InvariantCulture, $"array needs at least {min.GetInt32()} item(s)")));
        }

        if (schema.TryGetProperty("maxItems", out var max) && count > max.GetInt32())
        {
            into.Add(new SchemaViolation(file, path, "TooManyItems", string.Create(CultureInfo.InvariantCulture, $"array allows at most {max.GetInt32()} item(s)")));
        }

        if (schema.TryGetProperty("items", out var items))
        {
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                Check(items, item, JsonPath.Index(path, index++), file, into);
            }
        }
    }

    private void CheckObject(JsonElement schema, JsonElement value, string path, string? file, List<SchemaViolation> into)
    {
        schema.TryGetProperty("properties", out var properties);
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
            {
                if (!value.TryGetProperty(name, out _))
                {
                    into.Add(new SchemaViolation(file, JsonPath.Property(path, name), "PropertyRequired", $"required property '{name}' is missing"));
                }
            }
        }

        schema.TryGetProperty("patternProperties", out var patternProperties);
        var hasAdditional = schema.TryGetProperty("additionalProperties", out var additional);
        foreach (var property in value.EnumerateObject())
        {
            var childPath = JsonPath.Property(path, property.Name);
            var matched = false;
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
            {
                matched = true;
                Check(propertySchema, property.Value, childPath, file, into);
            }

            if (patternProperties.ValueKind == JsonValueKind.Object)
            {
                foreach (var candidate in patternProperties.EnumerateObject())
                {
                    if (Pattern(candidate.Name).IsMatch(property.Name))
                    {
                        matched = true;
                        Check(candidate.Value, property.Value, childPath, file, into);
                    }
                }
            }

            if (!matched && hasAdditional)
            {
                if (additional.ValueKind == JsonValueKind.False)
                {
                    into.Add(new SchemaViolation(file, childPath, "NoAdditionalPropertiesAllowed", $"property '{property.Name}' is not allowed"));
                }
                else
                {
                    Check(additional, property.Value, childPath, file, into);
                }
            }
        }
    }

    private void CheckCombinators(JsonElement schema, JsonElement value, string path, string? file, List<SchemaViolation> into)
    {
        if (schema.TryGetProperty("allOf", out var allOf))
        {
            foreach (var part in allOf.EnumerateArray())
            {
                Check(part, value, path, file, into);
            }
        }

        if (schema.TryGetProperty("anyOf", out var anyOf) && !anyOf.EnumerateArray().Any(part => Passes(part, value, path)))
        {
            into.Add(new SchemaViolation(file, path, "NotAnyOf", "matches none of the allowed forms"));
        }

        if (schema.TryGetProperty("oneOf", out var oneOf) && oneOf.EnumerateArray().Count(part => Passes(part, value, path)) != 1)
        {
            into.Add(new SchemaViolation(file, path, "NotOneOf", "must match exactly one of the allowed forms"));
        }
    }

    private bool Passes(JsonElement schema, JsonElement value, string path)
    {
        var attempt = new List<SchemaViolation>();
        Check(schema, value, path, null, attempt);
        return attempt.Count == 0;
    }

    private JsonElement Resolve(string reference)
    {
        const string Prefix = "#/definitions/";
        if (!reference.StartsWith(Prefix, StringComparison.Ordinal)
            || !_root.TryGetProperty("definitions", out var definitions)
            || !definitions.TryGetProperty(reference[Prefix.Length..], out var target))
        {
            throw new NotSupportedException($"unsupported or dangling $ref \"{reference}\" (only #/definitions/NAME is supported)");
        }

        return target;
    }

    private Regex Pattern(string pattern) =>
        _patterns.GetOrAdd(pattern, static p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)));

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        "number" => value.ValueKind == JsonValueKind.Number,
        // As NJsonSchema (Newtonsoft): an integer is a number written without a fraction or exponent.
        "integer" => value.ValueKind == JsonValueKind.Number && value.GetRawText().AsSpan().IndexOfAny(".eE") < 0,
        _ => throw new NotSupportedException($"unsupported type \"{type}\""),
    };

    private static string TypeKind(string type) => type switch
    {
        "object" => "ObjectExpected",
        "array" => "ArrayExpected",
        "string" => "StringExpected",
        "boolean" => "BooleanExpected",
        "null" => "NullExpected",
        "number" => "NumberExpected",
        _ => "IntegerExpected",
    };

    private static string Article(string type) => type is "object" or "array" or "integer" ? "an " + type : "a " + type;

    private static void CheckKeywords(JsonElement schema, string where)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var keyword in schema.EnumerateObject())
        {
            if (!SupportedKeywords.Contains(keyword.Name))
            {
                throw new NotSupportedException($"schema keyword \"{keyword.Name}\" at {where} is not supported by the AOT validator");
            }

            switch (keyword.Name)
            {
                case "properties" or "definitions" or "patternProperties":
                    foreach (var child in keyword.Value.EnumerateObject())
                    {
                        CheckKeywords(child.Value, $"{where}/{keyword.Name}/{child.Name}");
                    }

                    break;
                case "items" or "additionalProperties":
                    CheckKeywords(keyword.Value, $"{where}/{keyword.Name}");
                    break;
                case "allOf" or "anyOf" or "oneOf":
                    var i = 0;
                    foreach (var part in keyword.Value.EnumerateArray())
                    {
                        CheckKeywords(part, string.Create(CultureInfo.InvariantCulture, $"{where}/{keyword.Name}/{i++}"));
                    }

                    break;
            }
        }
    }
}
