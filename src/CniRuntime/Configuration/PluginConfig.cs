using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Configuration;

/// <summary>
/// One plugin's configuration: its raw JSON object, kept untouched so plugin-specific keys reach the plugin as
/// written, and typed views of the keys the runtime itself reads.
/// </summary>
public sealed record PluginConfig
{
    internal PluginConfig(JsonElement json, string type, string? name, string? cniVersion, FrozenDictionary<string, bool> capabilities, string? ipamType, CniDns? dns, string? source, string jsonPath)
    {
        Json = json;
        Type = type;
        Name = name;
        CniVersion = cniVersion;
        Capabilities = capabilities;
        IpamType = ipamType;
        Dns = dns;
        Source = source;
        Location = jsonPath;
    }

    /// <summary>The plugin type: the name of the binary to run.</summary>
    public string Type { get; }

    /// <summary>The plugin's own <c>name</c>, if it has one (a list's name overrides it on the wire).</summary>
    public string? Name { get; }

    /// <summary>The plugin's own <c>cniVersion</c>, if any (a list's version overrides it on the wire).</summary>
    public string? CniVersion { get; }

    /// <summary>The <c>capabilities</c> the plugin declares, true or false as written.</summary>
    public IReadOnlyDictionary<string, bool> Capabilities { get; }

    /// <summary>The <c>ipam.type</c>, if the plugin delegates address management.</summary>
    public string? IpamType { get; }

    /// <summary>The plugin's <c>dns</c> settings as written (each field optional); null when there is no <c>dns</c> key.</summary>
    public CniDns? Dns { get; }

    /// <summary>The plugin's configuration object exactly as written (immutable).</summary>
    public JsonElement Json { get; }

    // Where the configuration was read (file and JSON path), so that an error in a copy made by With names it.
    internal string? Source { get; }

    internal string Location { get; }

    /// <summary>The capabilities set to true.</summary>
    public IEnumerable<string> EnabledCapabilities => Capabilities.Where(c => c.Value).Select(c => c.Key);

    /// <summary>The configuration object as UTF-8 JSON.</summary>
    public byte[] ToUtf8Bytes() => System.Text.Encoding.UTF8.GetBytes(Json.GetRawText());

    /// <summary>Parses one plugin configuration object (libcni's <c>NetworkPluginConfFromBytes</c>).</summary>
    /// <param name="utf8Json">The JSON document.</param>
    /// <param name="source">The file it came from, named in errors.</param>
    /// <exception cref="CniConfigException">The document is not a valid plugin configuration.</exception>
    public static PluginConfig Parse(ReadOnlySpan<byte> utf8Json, string? source = null)
    {
        var root = NetworkConfigParser.ParseDocument(utf8Json, source, "error parsing configuration");
        return NetworkConfigParser.ParsePlugin(root, source, JsonPath.Root);
    }

    /// <summary>
    /// Returns a copy with <paramref name="keys"/> set (added, or replaced in place), leaving this instance as it is
    /// (libcni's <c>InjectConf</c>).
    /// </summary>
    /// <exception cref="CniException">A key is empty, a value is null, or the result is no longer a valid plugin configuration
    /// (then a <see cref="CniConfigException"/> naming the file and JSON path this configuration was read from).</exception>
    public PluginConfig With(IEnumerable<KeyValuePair<string, JsonNode?>> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var replacements = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (var (key, value) in keys)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new CniException(CniErrorCode.InvalidNetworkConfig, "keys cannot be empty");
            }

            replacements[key] = value ?? throw new CniException(CniErrorCode.InvalidNetworkConfig, $"key '{key}' value must not be nil");
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions()))
        {
            writer.WriteStartObject();
            foreach (var property in Json.EnumerateObject())
            {
                if (replacements.Remove(property.Name, out var replacement))
                {
                    writer.WritePropertyName(property.Name);
                    replacement.WriteTo(writer);
                }
                else if (!replacements.ContainsKey(property.Name))
                {
                    property.WriteTo(writer);
                }
            }

            foreach (var (key, value) in replacements)
            {
                writer.WritePropertyName(key);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        var root = NetworkConfigParser.ParseDocument(buffer.WrittenSpan, Source, "error parsing configuration");
        return NetworkConfigParser.ParsePlugin(root, Source, Location);
    }

    /// <summary>Returns a copy with one key set.</summary>
    public PluginConfig With(string key, JsonNode? value) => With([new KeyValuePair<string, JsonNode?>(key, value)]);

    /// <inheritdoc />
    public bool Equals(PluginConfig? other) =>
        other is not null && (ReferenceEquals(this, other) || JsonElement.DeepEquals(Json, other.Json));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Type, Name);
}
