using System.Text.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>What a plugin answers to VERSION.</summary>
/// <param name="CniVersion">The version the reply is written in.</param>
/// <param name="SupportedVersions">The versions the plugin accepts in configurations.</param>
public sealed record PluginVersionInfo(string CniVersion, IReadOnlyList<string> SupportedVersions)
{
    /// <summary>The reply of a plugin that predates VERSION (it answers "unknown CNI_COMMAND: VERSION").</summary>
    public static PluginVersionInfo Legacy { get; } = new("0.1.0", ["0.1.0"]);

    /// <summary>True when the plugin lists <paramref name="version"/> exactly (an empty version means 0.1.0).</summary>
    public bool Supports(string version) => SupportedVersions.Contains(version.Length == 0 ? "0.1.0" : version, StringComparer.Ordinal);

    /// <summary>Decodes a VERSION reply with libcni's rules.</summary>
    /// <exception cref="CniException">The reply is not a version object (code 6).</exception>
    public static PluginVersionInfo Parse(ReadOnlySpan<byte> utf8Json)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            throw new CniException(CniErrorCode.DecodingFailure, "decoding version info: the reply is not valid UTF-8");
        }

        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(utf8Json);
            root = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new CniException(CniErrorCode.DecodingFailure, $"decoding version info: {ex.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("cniVersion", out var versionElement)
            || versionElement.ValueKind != JsonValueKind.String
            || versionElement.GetString() is not { Length: > 0 } cniVersion)
        {
            throw new CniException(CniErrorCode.DecodingFailure, "decoding version info: missing field cniVersion");
        }

        if (!root.TryGetProperty("supportedVersions", out var supported))
        {
            // Plugins of spec 0.2.0 could answer without the list, which then means 0.1.0 and 0.2.0.
            return cniVersion == "0.2.0"
                ? new PluginVersionInfo(cniVersion, ["0.1.0", "0.2.0"])
                : throw new CniException(CniErrorCode.DecodingFailure, "decoding version info: missing field supportedVersions");
        }

        if (supported.ValueKind != JsonValueKind.Array)
        {
            throw new CniException(CniErrorCode.DecodingFailure, "decoding version info: supportedVersions is not an array");
        }

        var versions = new List<string>();
        foreach (var item in supported.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw new CniException(CniErrorCode.DecodingFailure, "decoding version info: supportedVersions holds a non-string");
            }

            versions.Add(item.GetString()!);
        }

        return new PluginVersionInfo(cniVersion, versions);
    }
}
