using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Configuration;

/// <summary>
/// Reads configuration JSON by libcni's rules, naming the file and JSON path of every defect. Every failure is a
/// <see cref="CniConfigException"/>; nothing else escapes on bad input.
/// </summary>
internal static class NetworkConfigParser
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 64,
    };

    private static readonly FrozenDictionary<string, bool> NoCapabilities = FrozenDictionary<string, bool>.Empty;

    /// <summary>Parses a JSON document and returns its root, which must be an object; a UTF-8 BOM is accepted.</summary>
    public static JsonElement ParseDocument(ReadOnlySpan<byte> utf8Json, string? source, string what)
    {
        var root = TryParseDocument(utf8Json, out var error);
        if (error is not null)
        {
            throw new CniConfigException($"{what}: {error}", source, null, CniErrorCode.DecodingFailure);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CniConfigException($"{what}: expected a JSON object, got {JsonPath.Describe(root.ValueKind)}", source, JsonPath.Root, CniErrorCode.DecodingFailure);
        }

        return root;
    }

    /// <summary>Parses JSON into a self-contained element, or returns the reader's complaint.</summary>
    public static JsonElement TryParseDocument(ReadOnlySpan<byte> utf8Json, out string? error)
    {
        utf8Json = SkipBom(utf8Json);
        if (utf8Json.TrimStart(" \t\r\n"u8).IsEmpty)
        {
            error = "unexpected end of JSON input";
            return default;
        }

        // The reader checks UTF-8 only where it decodes; a bad byte in a name would surface later as an
        // InvalidOperationException from GetString, so check the whole document once, up front.
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            error = "the document is not valid UTF-8";
            return default;
        }

        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = DocumentOptions.MaxDepth });
        try
        {
            // ParseValue on a reader copies the value into a document it owns: no disposal needed, immutable.
            var root = JsonElement.ParseValue(ref reader);
            if (reader.Read())
            {
                error = $"unexpected data after the top-level value at byte {reader.TokenStartIndex}";
                return default;
            }

            error = null;
            return root;
        }
        catch (JsonException ex)
        {
            error = StopsShort(utf8Json) ? "unexpected end of JSON input" : DescribeSyntaxError(ex);
            return default;
        }
    }

    // libcni (Go's encoding/json) calls every document that stops before its value is complete "unexpected end of
    // JSON input", whatever was open at the end. A reader told that more data may follow stops quietly where the
    // final read failed for want of input, and still throws on a defect inside the data.
    private static bool StopsShort(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = DocumentOptions.MaxDepth }));
        try
        {
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static NetworkConfigList ParseList(ReadOnlySpan<byte> utf8Json, string? source)
    {
        var root = ParseDocument(utf8Json, source, "error parsing configuration list");
        var name = ReadName(root, source);
        var cniVersion = ReadListVersion(root, source);
        var disableCheck = ReadFlag(root, "disableCheck", source);
        var disableGc = ReadFlag(root, "disableGC", source);
        var onlyInlined = ReadFlag(root, "loadOnlyInlinedPlugins", source);

        var plugins = new List<PluginConfig>();
        if (root.TryGetProperty("plugins", out var pluginsElement))
        {
            var path = JsonPath.Property(JsonPath.Root, "plugins");
            if (pluginsElement.ValueKind != JsonValueKind.Array)
            {
                throw new CniConfigException($"invalid plugins: expected an array, got {JsonPath.Describe(pluginsElement.ValueKind)}", source, path);
            }

            var index = 0;
            foreach (var item in pluginsElement.EnumerateArray())
            {
                plugins.Add(ParsePlugin(item, source, JsonPath.Index(path, index++)));
            }

            if (plugins.Count == 0)
            {
                throw new CniConfigException("no plugins in list", source, path);
            }
        }
        else if (onlyInlined)
        {
            throw new CniConfigException("no 'plugins' key, and loadOnlyInlinedPlugins forbids loading them from a subdirectory", source, JsonPath.Root);
        }

        return new NetworkConfigList
        {
            Name = name,
            CniVersion = cniVersion,
            DisableCheck = disableCheck,
            DisableGC = disableGc,
            LoadOnlyInlinedPlugins = onlyInlined,
            Plugins = plugins,
            Bytes = SkipBom(utf8Json).ToArray(),
            Source = source,
        };
    }

    public static PluginConfig ParsePlugin(JsonElement element, string? source, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new CniConfigException($"invalid plugin configuration: expected an object, got {JsonPath.Describe(element.ValueKind)}", source, path);
        }

        var typePath = JsonPath.Property(path, "type");
        var type = ReadOptionalString(element, "type", source, path);
        if (string.IsNullOrEmpty(type))
        {
            throw new CniConfigException("missing 'type'", source, typePath);
        }

        if (type.Contains('/', StringComparison.Ordinal) || type is "." or "..")
        {
            throw new CniConfigException($"invalid plugin type \"{type}\": a type is a file name in the plugin directories, without '/'", source, typePath);
        }

        var name = ReadOptionalString(element, "name", source, path);
        var cniVersion = ReadOptionalString(element, "cniVersion", source, path);
        var capabilities = ReadCapabilities(element, source, path);
        string? ipamType = null;
        if (element.TryGetProperty("ipam", out var ipam))
        {
            var ipamPath = JsonPath.Property(path, "ipam");
            if (ipam.ValueKind != JsonValueKind.Object)
            {
                throw new CniConfigException($"expected an object, got {JsonPath.Describe(ipam.ValueKind)}", source, ipamPath);
            }

            ipamType = ReadOptionalString(ipam, "type", source, ipamPath);
        }

        var dns = ReadDns(element, source, path);
        return new PluginConfig(element, type, name, cniVersion, capabilities, ipamType, dns, source, path);
    }

    public static NetworkConfigList ListFromPlugin(PluginConfig plugin, string? source)
    {
        if (string.IsNullOrEmpty(plugin.Name))
        {
            throw new CniConfigException("no name", source, "$.name");
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions()))
        {
            writer.WriteStartObject();
            writer.WriteString("name", plugin.Name);
            writer.WriteString("cniVersion", plugin.CniVersion ?? string.Empty);
            writer.WritePropertyName("plugins");
            writer.WriteStartArray();
            plugin.Json.WriteTo(writer);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return new NetworkConfigList
        {
            Name = plugin.Name,
            CniVersion = plugin.CniVersion ?? string.Empty,
            Plugins = [plugin],
            Bytes = buffer.WrittenMemory.ToArray(),
            Source = source,
        };
    }

    /// <summary>Reads the top-level <c>name</c> of a document that may be otherwise broken, to attribute errors.</summary>
    public static string? TryReadName(ReadOnlySpan<byte> utf8Json)
    {
        var root = TryParseDocument(utf8Json, out var error);
        return error is null && root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()
            : null;
    }

    private static string ReadName(JsonElement root, string? source)
    {
        if (!root.TryGetProperty("name", out var name))
        {
            throw new CniConfigException("no name", source, "$.name");
        }

        if (name.ValueKind != JsonValueKind.String)
        {
            throw new CniConfigException($"invalid name type: expected a string, got {JsonPath.Describe(name.ValueKind)}", source, "$.name");
        }

        var value = name.GetString()!;
        if (!CniNames.IsValidIdentifier(value))
        {
            // libcni accepts any string here and fails later, at ADD; a name that can never work is a config defect.
            throw new CniConfigException(
                value.Length == 0 ? "no name" : $"invalid network name \"{value}\": must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$",
                source,
                "$.name");
        }

        return value;
    }

    private static string ReadListVersion(JsonElement root, string? source)
    {
        var cniVersion = ReadOptionalString(root, "cniVersion", source, JsonPath.Root);
        if (!root.TryGetProperty("cniVersions", out var versions))
        {
            return cniVersion ?? string.Empty;
        }

        const string VersionsPath = "$.cniVersions";
        if (versions.ValueKind != JsonValueKind.Array)
        {
            throw new CniConfigException($"invalid cniVersions: expected an array of strings, got {JsonPath.Describe(versions.ValueKind)}", source, VersionsPath);
        }

        // libcni: the highest of cniVersion and cniVersions that this runtime supports; higher ones are ignored.
        (CniVersion Version, string Text)? best = null;
        if (cniVersion is not null)
        {
            if (!CniVersion.TryParse(cniVersion, out var parsed))
            {
                throw new CniConfigException($"invalid cniVersion \"{cniVersion}\": expected major.minor.patch", source, "$.cniVersion");
            }

            if (parsed <= CniVersion.Current)
            {
                best = (parsed, cniVersion);
            }
        }

        var index = 0;
        foreach (var entry in versions.EnumerateArray())
        {
            var path = JsonPath.Index(VersionsPath, index++);
            if (entry.ValueKind != JsonValueKind.String)
            {
                throw new CniConfigException($"expected a version string, got {JsonPath.Describe(entry.ValueKind)}", source, path);
            }

            var text = entry.GetString()!;
            if (text.Length == 0 || !CniVersion.TryParse(text, out var parsed))
            {
                throw new CniConfigException($"failed to parse cniVersions entry \"{text}\": expected major.minor.patch", source, path);
            }

            if (parsed <= CniVersion.Current && (best is null || parsed > best.Value.Version))
            {
                best = (parsed, text);
            }
        }

        return best?.Text ?? string.Empty;
    }

    private static bool ReadFlag(JsonElement root, string key, string? source)
    {
        if (!root.TryGetProperty(key, out var value))
        {
            return false;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String when IsFlagText(value.GetString()!, "true"):
                return true;
            case JsonValueKind.String when IsFlagText(value.GetString()!, "false"):
                return false;
            default:
                // The value as written (libcni shows it lowercased), escaped so that a control character is visible.
                var shown = value.ValueKind == JsonValueKind.String
                    ? JsonEncodedText.Encode(value.GetString()!, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString()
                    : value.GetRawText();
                throw new CniConfigException($"invalid value \"{shown}\" for {key}", source, JsonPath.Property(JsonPath.Root, key));
        }
    }

    // libcni compares strings.ToLower(value) with "true" and "false": exactly those words in any ASCII case, and no
    // padding (no non-ASCII letter lowercases to one of theirs in Go). bool.TryParse would also take " true " and "true\0".
    private static bool IsFlagText(string value, string word) => System.Text.Ascii.EqualsIgnoreCase(value, word);

    private static string? ReadOptionalString(JsonElement obj, string key, string? source, string path)
    {
        if (!obj.TryGetProperty(key, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new CniConfigException($"expected a string, got {JsonPath.Describe(value.ValueKind)}", source, JsonPath.Property(path, key));
    }

    private static FrozenDictionary<string, bool> ReadCapabilities(JsonElement plugin, string? source, string path)
    {
        if (!plugin.TryGetProperty("capabilities", out var capabilities))
        {
            return NoCapabilities;
        }

        var capabilitiesPath = JsonPath.Property(path, "capabilities");
        if (capabilities.ValueKind != JsonValueKind.Object)
        {
            throw new CniConfigException($"expected an object of booleans, got {JsonPath.Describe(capabilities.ValueKind)}", source, capabilitiesPath);
        }

        var result = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var capability in capabilities.EnumerateObject())
        {
            result[capability.Name] = capability.Value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new CniConfigException(
                    $"expected true or false, got {JsonPath.Describe(capability.Value.ValueKind)}",
                    source,
                    JsonPath.Property(capabilitiesPath, capability.Name)),
            };
        }

        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    // The spec's plugin "dns": nameservers, domain, search and options, each optional.
    private static CniDns? ReadDns(JsonElement plugin, string? source, string path)
    {
        if (!plugin.TryGetProperty("dns", out var dns))
        {
            return null;
        }

        var dnsPath = JsonPath.Property(path, "dns");
        if (dns.ValueKind != JsonValueKind.Object)
        {
            throw new CniConfigException($"expected an object, got {JsonPath.Describe(dns.ValueKind)}", source, dnsPath);
        }

        return new CniDns
        {
            Nameservers = ReadStringList(dns, "nameservers", source, dnsPath),
            Domain = ReadOptionalString(dns, "domain", source, dnsPath),
            Search = ReadStringList(dns, "search", source, dnsPath),
            Options = ReadStringList(dns, "options", source, dnsPath),
        };
    }

    private static ImmutableArray<string> ReadStringList(JsonElement obj, string key, string? source, string path)
    {
        if (!obj.TryGetProperty(key, out var list))
        {
            return [];
        }

        var listPath = JsonPath.Property(path, key);
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new CniConfigException($"expected an array of strings, got {JsonPath.Describe(list.ValueKind)}", source, listPath);
        }

        var builder = ImmutableArray.CreateBuilder<string>(list.GetArrayLength());
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw new CniConfigException($"expected a string, got {JsonPath.Describe(item.ValueKind)}", source, JsonPath.Index(listPath, builder.Count));
            }

            builder.Add(item.GetString()!);
        }

        return builder.MoveToImmutable();
    }

    // The reader's message ends with zero-based "LineNumber: 0 | BytePositionInLine: 23."; people count from one.
    private static string DescribeSyntaxError(JsonException ex)
    {
        var message = ex.Message;
        message = message.Replace(" Change the reader options.", string.Empty, StringComparison.Ordinal);
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        // The reader quotes the offending token, which in a garbage file can be the whole file.
        const int MaxMessage = 240;
        if (message.Length > MaxMessage)
        {
            message = message[..MaxMessage] + "…";
        }

        return ex.LineNumber is { } line && ex.BytePositionInLine is { } column
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{message} (line {line + 1}, column {column + 1})")
            : message;
    }

    private static ReadOnlySpan<byte> SkipBom(ReadOnlySpan<byte> utf8) =>
        utf8.StartsWith(Encoding.UTF8.Preamble) ? utf8[3..] : utf8;
}
