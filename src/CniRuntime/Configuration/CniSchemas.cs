using System.Reflection;
using CniRuntime.Protocol;

namespace CniRuntime.Configuration;

/// <summary>The JSON documents this project publishes schemas for.</summary>
public enum CniDocumentKind
{
    /// <summary>A network configuration list (<c>.conflist</c>).</summary>
    NetworkConfigList,

    /// <summary>One plugin's configuration.</summary>
    PluginConfig,

    /// <summary>A plugin's ADD result, of a given version.</summary>
    Result,

    /// <summary>A plugin's error object.</summary>
    Error,

    /// <summary>A plugin's VERSION reply.</summary>
    VersionInfo,
}

/// <summary>One way a document breaks its schema.</summary>
/// <param name="File">The file the document came from, if any.</param>
/// <param name="JsonPath">Where (<c>$.plugins[0].type</c>).</param>
/// <param name="Kind">The kind of violation (<c>PropertyRequired</c>, <c>PatternMismatch</c>, …).</param>
/// <param name="Message">What is wrong, for a person.</param>
public sealed record SchemaViolation(string? File, string JsonPath, string Kind, string Message)
{
    /// <inheritdoc />
    public override string ToString() => File is null ? $"{JsonPath}: {Message}" : $"{File}: {JsonPath}: {Message}";
}

/// <summary>
/// The project's JSON Schemas for CNI documents (embedded), and validation against them that reports every
/// violation with its JSON path.
/// </summary>
/// <remarks>
/// Under the JIT (library users, tests, the framework-dependent <c>cnirt</c>) validation uses NJsonSchema; when
/// <see cref="CniFeatures.SchemaValidationIsSupported"/> is false (Native AOT, or switched off) it uses a small
/// reflection-free draft-07 validator for exactly the keywords of these schemas. The schema texts are always available.
/// </remarks>
public static class CniSchemas
{
    /// <summary>The embedded schema text for a kind of document (results need a version).</summary>
    /// <exception cref="CniException">No schema exists for that result version.</exception>
    public static string GetSchemaText(CniDocumentKind kind, CniVersion? resultVersion = null)
    {
        var name = ResourceName(kind, resultVersion);
        using var stream = typeof(CniSchemas).Assembly.GetManifestResourceStream(name)
            ?? throw new CniException(CniErrorCode.IncompatibleCniVersion, $"no schema for {kind} {resultVersion}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Validates a document against its schema and returns every violation (none when valid).</summary>
    /// <param name="kind">What the document is.</param>
    /// <param name="json">The document.</param>
    /// <param name="file">The file it came from, named in each violation.</param>
    /// <param name="resultVersion">For results, the version whose schema applies.</param>
    public static IReadOnlyList<SchemaViolation> Validate(CniDocumentKind kind, string json, string? file = null, CniVersion? resultVersion = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        // Under the JIT: NJsonSchema. Under Native AOT (where it is compiled out): the reflection-free subset
        // validator, which implements exactly the keywords these schemas use and reports the same paths and kinds.
        return CniFeatures.SchemaValidationIsSupported
            ? NJsonSchemaValidator.Validate(ResourceName(kind, resultVersion), json, file)
            : JsonSchemaSubsetValidator.Validate(ResourceName(kind, resultVersion), json, file);
    }

    /// <summary>
    /// Validates a plugin's result against the schema of the version it declares in <c>cniVersion</c>; a result
    /// without a known version is one violation at <c>$.cniVersion</c>.
    /// </summary>
    /// <param name="json">The result as the plugin printed it.</param>
    /// <param name="file">Where it came from (a plugin name, a file), named in each violation.</param>
    public static IReadOnlyList<SchemaViolation> ValidateResult(string json, string? file = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        string? declared;
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            declared = document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("cniVersion", out var element)
                && element.ValueKind == System.Text.Json.JsonValueKind.String ? element.GetString() : null;
        }
        catch (System.Text.Json.JsonException ex)
        {
            return [new SchemaViolation(file, "$", "InvalidJson", "not valid JSON: " + ex.Message)];
        }

        return CniVersion.TryParse(declared, out var version) && version.IsKnown
            ? Validate(CniDocumentKind.Result, json, file, version)
            : [new SchemaViolation(file, "$.cniVersion", "UnknownVersion", $"the result's cniVersion is {(declared is null ? "missing" : "\"" + declared + "\"")}, which has no schema")];
    }

    /// <summary>The names of every embedded schema.</summary>
    public static IReadOnlyList<string> ResourceNames { get; } =
        [.. typeof(CniSchemas).Assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    private const string Prefix = "CniRuntime.Schemas.";

    private static string ResourceName(CniDocumentKind kind, CniVersion? resultVersion) => kind switch
    {
        CniDocumentKind.NetworkConfigList => Prefix + "network-config-list.schema.json",
        CniDocumentKind.PluginConfig => Prefix + "plugin-config.schema.json",
        CniDocumentKind.Error => Prefix + "error.schema.json",
        CniDocumentKind.VersionInfo => Prefix + "version-info.schema.json",
        CniDocumentKind.Result when resultVersion is { IsKnown: true } v => Prefix + $"result-{v}.schema.json",
        CniDocumentKind.Result => throw new CniException(CniErrorCode.IncompatibleCniVersion, $"unsupported CNI result version \"{resultVersion}\""),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    internal static Assembly Assembly => typeof(CniSchemas).Assembly;
}
