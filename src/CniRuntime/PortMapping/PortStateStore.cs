using System.Buffers;
using System.Net;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// The authoritative state: one JSON file per sandbox, <c>&lt;dir&gt;/&lt;sandboxId&gt;.json</c>, written atomically.
/// Parsed files are cached by size and modification time, so each operation reads only what changed.
/// </summary>
internal sealed class PortStateStore(string directory)
{
    // A publication of 20,000 forwards is about 2.5 MB.
    private const int MaxFileBytes = 16 * 1024 * 1024;

    private readonly Dictionary<string, (DateTime Modified, long Length, PortPublication Publication)> _cache = new(StringComparer.Ordinal);

    // (IPv6, protocol, host port) -> the forwards holding it, kept in step with _cache so that a conflict check
    // costs the size of the request, not the number of forwards present.
    private readonly Dictionary<(bool, string, int), List<(string Owner, PublishedPort Port)>> _index = [];

    // The hairpins of each publication, computed once, and how many publications of each backend use each one.
    private readonly Dictionary<string, List<Hairpin>> _hairpins = new(StringComparer.Ordinal);
    private readonly Dictionary<(PortMappingBackend, Hairpin), int> _hairpinUsers = [];

    /// <summary>The forwards of other sandboxes that claim the same (family, protocol, port) as <paramref name="port"/>.</summary>
    public IEnumerable<(string Owner, PublishedPort Port)> Holders(PublishedPort port, string except) =>
        _index.TryGetValue((port.IsIPv6, port.Protocol, port.HostPort), out var list) ? list.Where(h => h.Owner != except) : [];

    /// <summary>Whether a publication of <paramref name="backend"/> other than <paramref name="except"/>'s uses a hairpin.</summary>
    public bool HairpinUsed(Hairpin hairpin, PortMappingBackend backend, string except)
    {
        var users = _hairpinUsers.GetValueOrDefault((backend, hairpin));
        if (_cache.TryGetValue(except, out var own) && own.Publication.Backend == backend && HairpinsOf(own.Publication).Contains(hairpin))
        {
            users--;
        }

        return users > 0;
    }

    /// <summary>The hairpins of a publication (computed once for loaded ones).</summary>
    public List<Hairpin> HairpinsOf(PortPublication publication) =>
        _hairpins.TryGetValue(publication.SandboxId, out var list) && _cache.TryGetValue(publication.SandboxId, out var c) && ReferenceEquals(c.Publication, publication)
            ? list
            : Hairpin.Of(publication.ContainerAddresses, publication.Ports);

    private void Track(string id, PortPublication? old, PortPublication? fresh)
    {
        if (old is not null)
        {
            foreach (var p in old.Ports)
            {
                if (_index.TryGetValue((p.IsIPv6, p.Protocol, p.HostPort), out var list))
                {
                    list.RemoveAll(h => h.Owner == id);
                    if (list.Count == 0)
                    {
                        _index.Remove((p.IsIPv6, p.Protocol, p.HostPort));
                    }
                }
            }

            if (_hairpins.Remove(id, out var hairpins))
            {
                foreach (var h in hairpins)
                {
                    var key = (old.Backend, h);
                    if (--_hairpinUsers[key] == 0)
                    {
                        _hairpinUsers.Remove(key);
                    }
                }
            }
        }

        if (fresh is not null)
        {
            foreach (var p in fresh.Ports)
            {
                if (!_index.TryGetValue((p.IsIPv6, p.Protocol, p.HostPort), out var list))
                {
                    _index[(p.IsIPv6, p.Protocol, p.HostPort)] = list = [];
                }

                list.Add((id, p));
            }

            var hairpins = Hairpin.Of(fresh.ContainerAddresses, fresh.Ports);
            _hairpins[id] = hairpins;
            foreach (var h in hairpins)
            {
                var key = (fresh.Backend, h);
                _hairpinUsers[key] = _hairpinUsers.GetValueOrDefault(key) + 1;
            }
        }
    }

    public string Directory { get; } = directory;

    /// <summary>Why files were set aside as corrupt (read by the mapper to decide on a rebuild).</summary>
    public List<string> Quarantined { get; } = [];

    public string PathOf(string sandboxId) => Path.Combine(Directory, sandboxId + ".json");

    /// <summary>Every publication on disk, by sandbox ID (call under the lock).</summary>
    public Dictionary<string, PortPublication> LoadAll()
    {
        var result = new Dictionary<string, PortPublication>(StringComparer.Ordinal);
        if (!System.IO.Directory.Exists(Directory))
        {
            _cache.Clear();
            _index.Clear();
            _hairpins.Clear();
            _hairpinUsers.Clear();
            return result;
        }

        foreach (var file in new DirectoryInfo(Directory).EnumerateFiles("*.json"))
        {
            var id = Path.GetFileNameWithoutExtension(file.Name);
            if (id.StartsWith('.'))
            {
                continue;
            }

            if (_cache.TryGetValue(id, out var cached) && cached.Modified == file.LastWriteTimeUtc && cached.Length == file.Length)
            {
                result[id] = cached.Publication;
                continue;
            }

            PortPublication publication;
            try
            {
                publication = Parse(AtomicFile.ReadIfExists(file.FullName, MaxFileBytes) ?? [], file.FullName);
                if (publication.SandboxId != id)
                {
                    throw new CniException(CniErrorCode.DecodingFailure, $"port mapping state file {file.FullName} belongs to sandbox {publication.SandboxId}");
                }
            }
            catch (Exception ex) when (ex is CniException or IOException)
            {
                // One damaged file must not stop every publication: it is set aside (kept for inspection), and a
                // reconcile drops whatever it described from the kernel.
                Quarantined.Add(ex.Message);
                try
                {
                    File.Move(file.FullName, Path.Combine(Directory, $".{file.Name}.corrupt"), overwrite: true);
                }
                catch (Exception moveError) when (moveError is IOException or UnauthorizedAccessException)
                {
                }

                continue;
            }

            Track(id, _cache.TryGetValue(id, out var stale) ? stale.Publication : null, publication);
            _cache[id] = (file.LastWriteTimeUtc, file.Length, publication);
            result[id] = publication;
        }

        foreach (var gone in _cache.Keys.Where(k => !result.ContainsKey(k)).ToList())
        {
            Track(gone, _cache[gone].Publication, null);
            _cache.Remove(gone);
        }

        return result;
    }

    public async Task WriteAsync(PortPublication publication, CancellationToken cancellationToken)
    {
        var path = PathOf(publication.SandboxId);
        await AtomicFile.WriteAsync(path, Serialize(publication), cancellationToken).ConfigureAwait(false);
        var info = new FileInfo(path);
        Track(publication.SandboxId, _cache.TryGetValue(publication.SandboxId, out var old) ? old.Publication : null, publication);
        _cache[publication.SandboxId] = (info.LastWriteTimeUtc, info.Length, publication);
    }

    public void Delete(string sandboxId)
    {
        AtomicFile.TryDelete(PathOf(sandboxId));
        if (_cache.Remove(sandboxId, out var old))
        {
            Track(sandboxId, old.Publication, null);
        }
    }

    public static byte[] Serialize(PortPublication publication)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions(indented: true)))
        {
            w.WriteStartObject();
            w.WriteNumber("version", 1);
            w.WriteString("sandboxId", publication.SandboxId);
            w.WriteString("backend", publication.Backend == PortMappingBackend.Iptables ? "iptables" : "nftables");
            w.WritePropertyName("mappings");
            PortMappingJson.WriteArray(w, publication.Mappings);
            w.WriteStartArray("addresses");
            foreach (var a in publication.ContainerAddresses)
            {
                w.WriteStringValue(a.ToString());
            }

            w.WriteEndArray();
            w.WriteStartArray("ports");
            foreach (var p in publication.Ports)
            {
                w.WriteStartObject();
                w.WriteString("protocol", p.Protocol);
                if (p.HostAddress is not null)
                {
                    w.WriteString("hostAddress", p.HostAddress.ToString());
                }

                w.WriteNumber("hostPort", p.HostPort);
                w.WriteString("containerAddress", p.ContainerAddress.ToString());
                w.WriteNumber("containerPort", p.ContainerPort);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static PortPublication Parse(ReadOnlyMemory<byte> bytes, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            var mappings = PortMappingJson.ReadArray(root.GetProperty("mappings"));
            var addresses = root.GetProperty("addresses").EnumerateArray().Select(a => IpPrefix.Parse(a.GetString()!)).ToList();
            var ports = new List<PublishedPort>();
            foreach (var p in root.GetProperty("ports").EnumerateArray())
            {
                ports.Add(new PublishedPort(
                    p.GetProperty("protocol").GetString()!,
                    p.TryGetProperty("hostAddress", out var host) ? IPAddress.Parse(host.GetString()!) : null,
                    p.GetProperty("hostPort").GetInt32(),
                    IPAddress.Parse(p.GetProperty("containerAddress").GetString()!),
                    p.GetProperty("containerPort").GetInt32()));
            }

            var backend = root.TryGetProperty("backend", out var b) ? b.GetString() : "nftables";
            return new PortPublication(root.GetProperty("sandboxId").GetString()!, mappings, addresses, ports, backend switch
            {
                "nftables" => PortMappingBackend.Nftables,
                "iptables" => PortMappingBackend.Iptables,
                _ => throw new FormatException($"unknown backend \"{backend}\""),
            });
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new CniException(CniErrorCode.DecodingFailure, $"port mapping state file {path} is unreadable: {ex.Message}", null, ex);
        }
    }
}
