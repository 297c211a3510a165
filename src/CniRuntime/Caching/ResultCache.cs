using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Caching;

/// <summary>
/// The result cache, byte-compatible with libcni's: <c>&lt;cacheDir&gt;/results/&lt;network&gt;-&lt;containerID&gt;-&lt;ifname&gt;</c>
/// holding a <c>cniCacheV1</c> document, so attachments made by Go runtimes (cnitool, containerd, CRI-O) and by
/// CniRuntime can be removed by either. Unlike libcni, writes are atomic (temp file, rename): a reader, or a
/// runtime restarted after a crash, sees the old file or the new one, never an empty or half-written one. By
/// default, as in libcni, they are not fsynced: a result describes namespaces and links that a reboot takes away
/// anyway, and a flush to disk would cost more than the rest of a cnirt command (up to tens of milliseconds on a
/// busy disk). A durable cache (<see cref="Networks.CniClientOptions.DurableWrites"/>) fsyncs the file before the
/// rename and the directory after it, so that a write survives a power loss too.
/// </summary>
public sealed class ResultCache
{
    /// <summary>The <c>kind</c> of libcni's cache document.</summary>
    public const string KindV1 = "cniCacheV1";

    /// <summary>The largest cache file read; anything larger is treated as corrupt.</summary>
    public const int MaxFileBytes = 16 * 1024 * 1024;

    /// <summary>
    /// The key that marks an attachment whose ADD has not finished. libcni ignores unknown keys, and a finished ADD
    /// leaves no trace of it, so finished files stay byte for byte what libcni writes.
    /// </summary>
    public const string PendingKey = "cniruntime.pending";

    private static readonly byte[] PendingKeyUtf8 = System.Text.Encoding.UTF8.GetBytes(PendingKey);

    private static readonly JsonProperty EmptyDns = JsonElement.Parse("""{"dns":{}}""").EnumerateObject().First();

    // The document being written, reused by the thread's next write (writes are synchronous, never nested).
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _serialized;

    private readonly TimeProvider _timeProvider;

    private readonly bool _durable;

    /// <summary>Creates a cache rooted at <paramref name="cacheDirectory"/> (libcni's default is <c>/var/lib/cni</c>).</summary>
    /// <param name="cacheDirectory">The cache root.</param>
    /// <param name="timeProvider">The clock for lock polling.</param>
    /// <param name="durable">Whether writes are fsynced (see <see cref="Networks.CniClientOptions.DurableWrites"/>).</param>
    public ResultCache(string cacheDirectory, TimeProvider? timeProvider = null, bool durable = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheDirectory);
        CacheDirectory = cacheDirectory;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _durable = durable;
    }

    /// <summary>The cache root.</summary>
    public string CacheDirectory { get; }

    /// <summary>Where result files live.</summary>
    public string ResultsDirectory => Path.Combine(CacheDirectory, "results");

    /// <summary>Where lock files live.</summary>
    public string LocksDirectory => Path.Combine(CacheDirectory, "locks");

    /// <summary>The cache file of an attachment.</summary>
    /// <exception cref="CniException">A part is empty (libcni's message).</exception>
    public string GetPath(string networkName, string containerId, string interfaceName)
    {
        if (string.IsNullOrEmpty(networkName) || string.IsNullOrEmpty(containerId) || string.IsNullOrEmpty(interfaceName))
        {
            throw new CniException(
                CniErrorCode.InvalidEnvironmentVariables,
                $"cache file path requires network name (\"{networkName}\"), container ID (\"{containerId}\"), and interface name (\"{interfaceName}\")");
        }

        return Path.Combine(ResultsDirectory, $"{networkName}-{containerId}-{interfaceName}");
    }

    /// <summary>Takes the lock of one attachment; operations on it run one at a time, across processes too.</summary>
    public Task<FileLock> LockAsync(string networkName, string containerId, string interfaceName, CancellationToken cancellationToken = default)
    {
        var name = Path.GetFileName(GetPath(networkName, containerId, interfaceName));
        return FileLock.AcquireAsync(Path.Combine(LocksDirectory, name), _timeProvider, cancellationToken);
    }

    /// <summary>Writes (or replaces) an attachment's cache file atomically, mode 0600 in a 0700 directory.</summary>
    /// <exception cref="CniException">The file cannot be written (code 5); the previous file, if any, is intact.</exception>
    public Task WriteAsync(NetworkAttachment attachment, CancellationToken cancellationToken = default) => Synchronously.Run(() =>
    {
        ArgumentNullException.ThrowIfNull(attachment);
        cancellationToken.ThrowIfCancellationRequested();
        var path = GetPath(attachment.NetworkName, attachment.ContainerId, attachment.InterfaceName);
        try
        {
            var buffer = _serialized ??= new ArrayBufferWriter<byte>(4096);
            buffer.ResetWrittenCount();
            Serialize(attachment, buffer);
            AtomicFile.Write(path, buffer.WrittenSpan, _durable, root: CacheDirectory);
            if (buffer.Capacity > 64 * 1024)
            {
                _serialized = null; // a rare large document is not kept for the life of the thread
            }
        }
        catch (CniException ex) when (ex.InnerException is not null)
        {
            throw new CniException(CniErrorCode.IoFailure, $"failed to write cache file {path}: {ex.InnerException.Message}", null, ex.InnerException);
        }
    });

    /// <summary>Reads an attachment's cache file.</summary>
    /// <returns>The attachment, or null when there is no file.</returns>
    /// <exception cref="CniCacheException">The file exists but is empty, truncated or not a cache document.</exception>
    public Task<NetworkAttachment?> ReadAsync(string networkName, string containerId, string interfaceName, CancellationToken cancellationToken = default) => Synchronously.Run(() =>
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = GetPath(networkName, containerId, interfaceName);
        var bytes = ReadFile(path);
        return bytes is null ? null : Parse(bytes, path, networkName, containerId, interfaceName);
    });

    /// <summary>Deletes an attachment's cache file; a missing file (or missing name parts) is not an error.</summary>
    public void Delete(string networkName, string containerId, string interfaceName)
    {
        if (string.IsNullOrEmpty(networkName) || string.IsNullOrEmpty(containerId) || string.IsNullOrEmpty(interfaceName))
        {
            return;
        }

        AtomicFile.TryDelete(GetPath(networkName, containerId, interfaceName));
    }

    /// <summary>
    /// Lists cached attachments (libcni's <c>GetCachedAttachments</c>): all, or those of one container. Files that
    /// cannot be read or are not <c>cniCacheV1</c> documents are skipped.
    /// </summary>
    public Task<IReadOnlyList<NetworkAttachment>> ListAsync(string? containerId = null, CancellationToken cancellationToken = default) =>
        Synchronously.Run<IReadOnlyList<NetworkAttachment>>(() => List(containerId, null, cancellationToken));

    /// <summary>
    /// Every attachment, as <see cref="ListAsync"/> gives them, and why each cache file it passes over cannot be used
    /// (empty, unreadable, not JSON, of another kind, naming no interface or network). libcni's legacy files, which
    /// hold only a result, are not among those.
    /// </summary>
    internal Task<(IReadOnlyList<NetworkAttachment> Attachments, IReadOnlyList<CniCacheException> Unusable)> SurveyAsync(CancellationToken cancellationToken = default) =>
        Synchronously.Run<(IReadOnlyList<NetworkAttachment>, IReadOnlyList<CniCacheException>)>(() =>
        {
            var unusable = new List<CniCacheException>();
            return (List(null, unusable, cancellationToken), unusable);
        });

    private List<NetworkAttachment> List(string? containerId, List<CniCacheException>? unusable, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(ResultsDirectory))
        {
            return [];
        }

        var found = new List<NetworkAttachment>();
        var names = Directory.EnumerateFiles(ResultsDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (name is null || name.StartsWith('.'))
            {
                continue;
            }

            if (!string.IsNullOrEmpty(containerId))
            {
                // Names and IDs may contain '-', so the name only narrows the search; the document decides.
                var at = name.IndexOf($"-{containerId}-", StringComparison.Ordinal);
                if (at <= 0 || at + containerId.Length + 2 >= name.Length)
                {
                    continue;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            var path = Path.Combine(ResultsDirectory, name);
            try
            {
                var bytes = ReadFile(path);
                if (bytes is null)
                {
                    continue; // deleted since the directory was read
                }

                if (!TryParseV1(bytes, out var attachment))
                {
                    if (unusable is not null)
                    {
                        _ = Parse(bytes, path, string.Empty, name, name); // says why, unless it is a legacy file
                    }

                    continue;
                }

                if (string.IsNullOrEmpty(attachment.InterfaceName) || string.IsNullOrEmpty(attachment.NetworkName))
                {
                    unusable?.Add(new CniCacheException($"cache file {path} names no interface or no network", path));
                    continue;
                }

                if (!string.IsNullOrEmpty(containerId) && attachment.ContainerId != containerId)
                {
                    continue;
                }

                found.Add(attachment);
            }
            catch (CniCacheException ex)
            {
                unusable?.Add(ex);
            }
        }

        return found;
    }

    /// <summary>
    /// The cache document of an attachment, byte for byte as libcni (1.2 and later) writes it: Go marshals its
    /// <c>cachedInfo</c> struct, fields in declaration order, after decoding the result into a map. So the
    /// <c>result</c> and <c>capabilityArgs</c> maps are written as Go writes any decoded JSON (<see cref="GoJson"/>:
    /// keys sorted, float64 numbers), and every string with Go's escaping.
    /// </summary>
    internal static byte[] Serialize(NetworkAttachment attachment)
    {
        var buffer = new ArrayBufferWriter<byte>(attachment.Config.Length * 4 / 3 + 1024);
        Serialize(attachment, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static void Serialize(NetworkAttachment attachment, ArrayBufferWriter<byte> buffer)
    {
        buffer.Write("{\"kind\":"u8);
        GoJson.WriteString(buffer, KindV1);
        buffer.Write(",\"containerId\":"u8);
        GoJson.WriteString(buffer, attachment.ContainerId);
        buffer.Write(",\"config\":\""u8);
        WriteBase64(buffer, attachment.Config.Span);
        buffer.Write("\",\"ifName\":"u8);
        GoJson.WriteString(buffer, attachment.InterfaceName);
        buffer.Write(",\"networkName\":"u8);
        GoJson.WriteString(buffer, attachment.NetworkName);
        if (!string.IsNullOrEmpty(attachment.NetworkNamespace))
        {
            buffer.Write(",\"netns\":"u8);
            GoJson.WriteString(buffer, attachment.NetworkNamespace);
        }

        if (attachment.CniArgs.Count > 0)
        {
            buffer.Write(",\"cniArgs\":["u8);
            for (var i = 0; i < attachment.CniArgs.Count; i++)
            {
                buffer.Write(i == 0 ? "["u8 : ",["u8);
                GoJson.WriteString(buffer, attachment.CniArgs[i].Key);
                buffer.Write(","u8);
                GoJson.WriteString(buffer, attachment.CniArgs[i].Value);
                buffer.Write("]"u8);
            }

            buffer.Write("]"u8);
        }

        if (attachment.CapabilityArgs.Count > 0)
        {
            buffer.Write(",\"capabilityArgs\":"u8);
            GoJson.WriteObject(buffer, attachment.CapabilityArgs);
        }

        // An empty map is left out (omitempty), as libcni leaves out the result of a list without plugins.
        if (attachment.Result is { ValueKind: JsonValueKind.Object } result && result.EnumerateObject().Any())
        {
            buffer.Write(",\"result\":"u8);
            GoJson.WriteObject(buffer, result, HasDnsStruct(result) ? EmptyDns : null);
        }

        if (attachment.Pending is { Length: > 0 } pending)
        {
            buffer.Write(",\""u8);
            buffer.Write(PendingKeyUtf8);
            buffer.Write("\":"u8);
            GoJson.WriteString(buffer, pending);
        }

        buffer.Write("}"u8);
    }

    // libcni's result types before 1.0.0 hold dns as a struct, which omitempty never leaves out: Go writes
    // "dns":{} for them. Its 1.x type drops an empty one (since libcni 1.2), as CniRuntime's writer does.
    private static bool HasDnsStruct(JsonElement result) =>
        result.TryGetProperty("cniVersion"u8, out var version) && version.ValueKind == JsonValueKind.String
        && CniVersion.TryParse(version.GetString(), out var parsed) && parsed.IsKnown && parsed < CniVersion.V100;

    private static void WriteBase64(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> bytes)
    {
        var span = buffer.GetSpan(Base64.GetMaxEncodedToUtf8Length(bytes.Length));
        Base64.EncodeToUtf8(bytes, span, out _, out var written);
        buffer.Advance(written);
    }

    /// <summary>Reads a cache document; falls back to libcni's legacy format, where the file is the raw result.</summary>
    internal static NetworkAttachment Parse(ReadOnlySpan<byte> bytes, string path, string networkName, string containerId, string interfaceName)
    {
        if (bytes.IsEmpty)
        {
            throw new CniCacheException($"cache file {path} is empty", path);
        }

        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw new CniCacheException($"cache file {path} is not valid UTF-8", path);
        }

        if (TryParseV1(bytes, out var attachment))
        {
            return attachment;
        }

        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            root = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new CniCacheException($"cache file {path} is not valid JSON: {ex.Message}", path, ex);
        }

        if (root.ValueKind != JsonValueKind.Object || root.TryGetProperty("kind", out _))
        {
            throw new CniCacheException($"cache file {path} has wrong kind", path);
        }

        return new NetworkAttachment
        {
            ContainerId = containerId,
            NetworkName = networkName,
            InterfaceName = interfaceName,
            Result = root,
            IsLegacy = true,
        };
    }

    private static bool TryParseV1(ReadOnlySpan<byte> bytes, out NetworkAttachment attachment)
    {
        attachment = null!;
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return false;
        }

        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            root = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return false;
        }

        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("kind", out var kind) || kind.ValueKind != JsonValueKind.String || kind.GetString() != KindV1)
        {
            return false;
        }

        try
        {
            var capabilityArgs = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            if (root.TryGetProperty("capabilityArgs", out var capabilities) && capabilities.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in capabilities.EnumerateObject())
                {
                    capabilityArgs[property.Name] = property.Value;
                }
            }

            var cniArgs = new List<KeyValuePair<string, string>>();
            if (root.TryGetProperty("cniArgs", out var args) && args.ValueKind == JsonValueKind.Array)
            {
                foreach (var pair in args.EnumerateArray())
                {
                    if (pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2
                        && pair[0].ValueKind == JsonValueKind.String && pair[1].ValueKind == JsonValueKind.String)
                    {
                        cniArgs.Add(new KeyValuePair<string, string>(pair[0].GetString()!, pair[1].GetString()!));
                    }
                }
            }

            attachment = new NetworkAttachment
            {
                ContainerId = String(root, "containerId"),
                NetworkName = String(root, "networkName"),
                InterfaceName = String(root, "ifName"),
                NetworkNamespace = String(root, "netns") is { Length: > 0 } netns ? netns : null,
                Config = root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.String && config.TryGetBytesFromBase64(out var decoded)
                    ? decoded
                    : ReadOnlyMemory<byte>.Empty,
                CniArgs = cniArgs,
                CapabilityArgs = capabilityArgs,
                Result = root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object ? result : null,
                Pending = String(root, PendingKey) is { Length: > 0 } pending ? pending : null,
            };
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string String(JsonElement root, string key) =>
        root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? string.Empty : string.Empty;

    private static byte[]? ReadFile(string path)
    {
        try
        {
            return AtomicFile.ReadIfExists(path, MaxFileBytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CniCacheException($"cannot read cache file {path}: {ex.Message}", path, ex);
        }
    }
}
