using System.Buffers;
using System.Globalization;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Sandboxes;

/// <summary>What is recorded of a sandbox before its first network is attached, so teardown, a restart and GC never depend on memory.</summary>
internal sealed record SandboxState
{
    public const int CurrentVersion = 1;

    public required string Id { get; init; }

    public string? Name { get; init; }

    public required string NetworkNamespace { get; init; }

    public bool OwnsNetworkNamespace { get; init; }

    public DateTimeOffset Created { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Network and interface of each attachment, in setup order (the loopback first, if any).</summary>
    public IReadOnlyList<(string Network, string InterfaceName)> Networks { get; init; } = [];

    /// <summary>The ports asked for.</summary>
    public IReadOnlyList<PortMapping> PortMappings { get; init; } = [];

    /// <summary>Where the sandbox's life is: a record left in setup or teardown by a killed runtime is recovered.</summary>
    public SandboxPhase Phase { get; init; } = SandboxPhase.Ready;
}

/// <summary>The operation a sandbox record is in.</summary>
internal enum SandboxPhase
{
    /// <summary>Setup has started and not finished.</summary>
    Setup,

    /// <summary>Setup finished; the sandbox is in use.</summary>
    Ready,

    /// <summary>Teardown has started and not finished.</summary>
    Teardown,
}

/// <summary>
/// Sandbox state files: <c>&lt;cacheDir&gt;/sandboxes/&lt;id&gt;.json</c>, written atomically and, like the result
/// cache, not fsynced: a record describes a namespace under <c>/run</c> and links that a reboot removes anyway.
/// </summary>
internal sealed class SandboxStore(string cacheDirectory, bool durable = false)
{
    private const int MaxFileBytes = 1024 * 1024;

    public string Directory { get; } = Path.Combine(cacheDirectory, "sandboxes");

    public string PathOf(string id) => Path.Combine(Directory, id + ".json");

    public Task WriteAsync(SandboxState state, CancellationToken cancellationToken) => Synchronously.Run(() =>
    {
        cancellationToken.ThrowIfCancellationRequested();
        AtomicFile.Write(PathOf(state.Id), Serialize(state), durable);
    });

    public void Delete(string id) => AtomicFile.TryDelete(PathOf(id));

    /// <exception cref="CniCacheException">The file exists but is not a sandbox state document.</exception>
    public Task<SandboxState?> ReadAsync(string id, CancellationToken cancellationToken) => Synchronously.Run(() =>
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathOf(id);
        byte[]? bytes;
        try
        {
            bytes = AtomicFile.ReadIfExists(path, MaxFileBytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CniCacheException($"cannot read sandbox state {path}: {ex.Message}", path, ex);
        }

        return bytes is null ? null : Parse(bytes, path);
    });

    /// <summary>The IDs with a state file.</summary>
    public IReadOnlyList<string> ListIds() =>
        System.IO.Directory.Exists(Directory)
            ? [.. System.IO.Directory.EnumerateFiles(Directory, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>().Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal)]
            : [];

    internal static byte[] Serialize(SandboxState state)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions(indented: true)))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", SandboxState.CurrentVersion);
            writer.WriteString("id", state.Id);
            writer.WriteString("phase", state.Phase switch
            {
                SandboxPhase.Setup => "setup",
                SandboxPhase.Teardown => "teardown",
                _ => "ready",
            });
            if (state.Name is not null)
            {
                writer.WriteString("name", state.Name);
            }

            writer.WriteString("netns", state.NetworkNamespace);
            writer.WriteBoolean("ownsNetns", state.OwnsNetworkNamespace);
            writer.WriteString("created", state.Created.ToString("O", CultureInfo.InvariantCulture));
            writer.WritePropertyName("labels");
            writer.WriteStartObject();
            foreach (var (key, value) in state.Labels)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WritePropertyName("networks");
            writer.WriteStartArray();
            foreach (var (network, interfaceName) in state.Networks)
            {
                writer.WriteStartObject();
                writer.WriteString("name", network);
                writer.WriteString("ifName", interfaceName);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WritePropertyName("portMappings");
            PortMappingJson.WriteArray(writer, state.PortMappings);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static string Required(JsonElement obj, string key, string path) =>
        obj.GetProperty(key).GetString() is { Length: > 0 } value
            ? value
            : throw new CniCacheException($"sandbox state {path} has an empty \"{key}\"", path);

    internal static SandboxState Parse(ReadOnlySpan<byte> bytes, string path)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes);
            var root = JsonElement.ParseValue(ref reader);
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("version", out var version) || version.GetInt32() != SandboxState.CurrentVersion)
            {
                throw new CniCacheException($"sandbox state {path} is not a version {SandboxState.CurrentVersion} document", path);
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("labels", out var labelsElement))
            {
                foreach (var label in labelsElement.EnumerateObject())
                {
                    labels[label.Name] = label.Value.GetString() ?? string.Empty;
                }
            }

            var networks = new List<(string, string)>();
            foreach (var network in root.GetProperty("networks").EnumerateArray())
            {
                networks.Add((Required(network, "name", path), Required(network, "ifName", path)));
            }

            var ports = root.TryGetProperty("portMappings", out var portsElement) ? PortMappingJson.ReadArray(portsElement) : [];

            return new SandboxState
            {
                PortMappings = ports,
                Id = Required(root, "id", path),
                Name = root.TryGetProperty("name", out var name) ? name.GetString() : null,
                NetworkNamespace = Required(root, "netns", path),
                OwnsNetworkNamespace = root.GetProperty("ownsNetns").GetBoolean(),
                Created = DateTimeOffset.Parse(Required(root, "created", path), CultureInfo.InvariantCulture),
                Labels = labels,
                Networks = networks,
                Phase = (root.TryGetProperty("phase", out var phase) ? phase.GetString() : "ready") switch
                {
                    "setup" => SandboxPhase.Setup,
                    "ready" => SandboxPhase.Ready,
                    "teardown" => SandboxPhase.Teardown,
                    var other => throw new FormatException($"unknown phase \"{other}\""),
                },
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new CniCacheException($"sandbox state {path} is corrupt: {ex.Message}", path, ex);
        }
    }
}
