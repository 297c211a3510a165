using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace CniRuntime.Protocol;

/// <summary>Reads a result document in the shape its version prescribes, naming the JSON path of any defect.</summary>
internal static class ResultReader
{
    public static CniResult Read(ReadOnlySpan<byte> utf8Json, CniVersion? versionIfMissing)
    {
        using var document = ParseDocument(utf8Json);
        var root = document.RootElement;

        // libcni unmarshals into a struct, so a JSON null is an empty result.
        if (root.ValueKind == JsonValueKind.Null)
        {
            var version = ResolveVersion(null, versionIfMissing);
            return CniResult.Empty(version);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CniException(CniErrorCode.DecodingFailure, "failed to unmarshal raw result: expected a JSON object");
        }

        var resultVersion = ResolveVersion(OptionalString(root, "cniVersion", "$"), versionIfMissing);
        return ResultShapes.Require(resultVersion) switch
        {
            ResultShape.Legacy => ReadLegacy(root, resultVersion),
            ResultShape.Chained => ReadModern(root, resultVersion, chained: true),
            _ => ReadModern(root, resultVersion, chained: false),
        };
    }

    private static JsonDocument ParseDocument(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json);
        try
        {
            var document = JsonDocument.ParseValue(ref reader);
            try
            {
                // Anything but whitespace after the value is an error, as in Go's json.Unmarshal.
                if (reader.Read())
                {
                    throw new JsonException("unexpected data after the top-level value");
                }
            }
            catch
            {
                document.Dispose();
                throw;
            }

            return document;
        }
        catch (JsonException e)
        {
            throw new CniException(CniErrorCode.DecodingFailure, "failed to unmarshal raw result: " + e.Message, null, e);
        }
    }

    private static CniVersion ResolveVersion(string? text, CniVersion? versionIfMissing) =>
        !string.IsNullOrEmpty(text) ? ResultShapes.RequireExact(text)
        : versionIfMissing is { } fallback ? (ResultShapes.Of(fallback) is null ? throw ResultShapes.Unsupported(fallback.ToString()) : fallback)
        : CniVersion.V010;

    private static CniResult ReadLegacy(JsonElement root, CniVersion version)
    {
        var ips = ImmutableArray.CreateBuilder<CniIpConfig>(2);
        var routes = ImmutableArray.CreateBuilder<CniRoute>();
        ReadLegacyIp(root, "ip4", ipv4: true, ips, routes);
        ReadLegacyIp(root, "ip6", ipv4: false, ips, routes);
        return new CniResult
        {
            CniVersion = version,
            Ips = ips.ToImmutable(),
            Routes = routes.ToImmutable(),
            Dns = ReadDns(root),
        };
    }

    private static void ReadLegacyIp(
        JsonElement root, string name, bool ipv4, ImmutableArray<CniIpConfig>.Builder ips, ImmutableArray<CniRoute>.Builder routes)
    {
        if (!TryGetObject(root, name, "$", out var element))
        {
            return;
        }

        var path = "$." + name;
        var family = ipv4 ? "IPv4" : "IPv6";
        var address = RequiredPrefix(element, "ip", path);
        if (address.IsIPv4 != ipv4)
        {
            throw Invalid(path + ".ip", $"\"{address}\" is not an {family} address");
        }

        ips.Add(new CniIpConfig { Address = address, Gateway = OptionalAddress(element, "gateway", path) });

        // The model keeps routes at the top level and files them by family when writing, so a route under the
        // wrong family could not be written back where it was.
        foreach (var (item, itemPath) in OptionalArray(element, "routes", path))
        {
            var route = ReadRoute(item, itemPath, legacy: true);
            if (route.Dst.IsIPv4 != ipv4)
            {
                throw Invalid(itemPath + ".dst", $"\"{route.Dst}\" is not an {family} destination, as a route under {name} must be");
            }

            routes.Add(route);
        }
    }

    private static CniResult ReadModern(JsonElement root, CniVersion version, bool chained)
    {
        var interfaces = ImmutableArray.CreateBuilder<CniInterface>();
        foreach (var (item, path) in OptionalArray(root, "interfaces", "$"))
        {
            RequireObject(item, path);
            interfaces.Add(new CniInterface
            {
                Name = RequiredString(item, "name", path),
                Mac = OptionalString(item, "mac", path) is { Length: > 0 } mac ? mac : null,
                Sandbox = OptionalString(item, "sandbox", path) is { Length: > 0 } sandbox ? sandbox : null,

                // 0.3.x/0.4.0 interfaces have no such fields; libcni ignores them there.
                Mtu = chained ? null : OptionalInt(item, "mtu", path),
                SocketPath = chained ? null : OptionalString(item, "socketPath", path) is { Length: > 0 } socket ? socket : null,
                PciId = chained ? null : OptionalString(item, "pciID", path) is { Length: > 0 } pci ? pci : null,
            });
        }

        var ips = ImmutableArray.CreateBuilder<CniIpConfig>();
        foreach (var (item, path) in OptionalArray(root, "ips", "$"))
        {
            RequireObject(item, path);
            var address = RequiredPrefix(item, "address", path);
            if (chained)
            {
                CheckIpVersion(item, path, address);
            }

            var index = OptionalInt(item, "interface", path);
            if (index is { } i && (i < 0 || i >= interfaces.Count))
            {
                throw Invalid(
                    path + ".interface",
                    string.Create(CultureInfo.InvariantCulture, $"index {i} is out of range: the result has {interfaces.Count} interfaces"));
            }

            ips.Add(new CniIpConfig { Address = address, Gateway = OptionalAddress(item, "gateway", path), Interface = index });
        }

        var routes = ImmutableArray.CreateBuilder<CniRoute>();
        foreach (var (item, path) in OptionalArray(root, "routes", "$"))
        {
            routes.Add(ReadRoute(item, path, legacy: false));
        }

        return new CniResult
        {
            CniVersion = version,
            Interfaces = interfaces.ToImmutable(),
            Ips = ips.ToImmutable(),
            Routes = routes.ToImmutable(),
            Dns = ReadDns(root),
        };
    }

    private static void CheckIpVersion(JsonElement item, string path, IpPrefix address)
    {
        var versionPath = path + ".version";
        // libcni accepts an entry without a version (it is implied by the address); a present one must be right.
        var text = OptionalString(item, "version", path);
        if (text is null)
        {
            return;
        }

        if (text is not ("4" or "6"))
        {
            throw Invalid(versionPath, $"\"{text}\" is not \"4\" or \"6\"");
        }

        if ((text == "4") != address.IsIPv4)
        {
            throw Invalid(versionPath, $"\"{text}\" does not match the address \"{address}\"");
        }
    }

    private static CniRoute ReadRoute(JsonElement item, string path, bool legacy)
    {
        RequireObject(item, path);
        var dst = RequiredPrefix(item, "dst", path);
        var gw = OptionalAddress(item, "gw", path);

        // Before 0.3.0 a route is only a destination and a gateway.
        return legacy
            ? new CniRoute { Dst = dst, Gw = gw }
            : new CniRoute
            {
                Dst = dst,
                Gw = gw,
                Mtu = OptionalInt(item, "mtu", path),
                AdvMss = OptionalInt(item, "advmss", path),
                Priority = OptionalInt(item, "priority", path),
                Table = OptionalInt(item, "table", path),
                Scope = OptionalInt(item, "scope", path),
            };
    }

    private static CniDns? ReadDns(JsonElement root)
    {
        if (!TryGetObject(root, "dns", "$", out var element))
        {
            return null;
        }

        const string path = "$.dns";
        var dns = new CniDns
        {
            Nameservers = StringList(element, "nameservers", path),
            Domain = OptionalString(element, "domain", path) is { Length: > 0 } domain ? domain : null,
            Search = StringList(element, "search", path),
            Options = StringList(element, "options", path),
        };

        // An empty dns object is the same as none (libcni leaves it out when writing).
        return dns.IsEmpty ? null : dns;
    }

    private static ImmutableArray<string> StringList(JsonElement element, string name, string path)
    {
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var (item, itemPath) in OptionalArray(element, name, path))
        {
            builder.Add(AsString(item, itemPath));
        }

        return builder.ToImmutable();
    }

    private static bool TryGetValue(JsonElement element, string name, out JsonElement value) =>
        element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private static bool TryGetObject(JsonElement element, string name, string path, out JsonElement value)
    {
        if (!TryGetValue(element, name, out value))
        {
            return false;
        }

        RequireObject(value, path + "." + name);
        return true;
    }

    private static void RequireObject(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, "expected an object");
        }
    }

    private static IEnumerable<(JsonElement Item, string Path)> OptionalArray(JsonElement element, string name, string path)
    {
        if (!TryGetValue(element, name, out var value))
        {
            return [];
        }

        var arrayPath = path + "." + name;
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(arrayPath, "expected an array");
        }

        return value.EnumerateArray().Select((item, i) => (item, string.Create(CultureInfo.InvariantCulture, $"{arrayPath}[{i}]")));
    }

    private static string AsString(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid(path, "expected a string");
        }

        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            // Invalid UTF-8 inside the string.
            throw new CniException(CniErrorCode.DecodingFailure, $"invalid result: {path}: {e.Message}", null, e);
        }
    }

    private static string? OptionalString(JsonElement element, string name, string path) =>
        TryGetValue(element, name, out var value) ? AsString(value, path + "." + name) : null;

    private static string RequiredString(JsonElement element, string name, string path) =>
        OptionalString(element, name, path) ?? throw Invalid(path + "." + name, "required field is missing");

    private static int? OptionalInt(JsonElement element, string name, string path)
    {
        if (!TryGetValue(element, name, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)
            ? number
            : throw Invalid(path + "." + name, "expected an integer");
    }

    private static IpPrefix RequiredPrefix(JsonElement element, string name, string path)
    {
        var valuePath = path + "." + name;
        var text = OptionalString(element, name, path) ?? throw Invalid(valuePath, "required field is missing");
        return IpPrefix.TryParse(text, out var prefix)
            ? prefix
            : throw Invalid(valuePath, $"\"{text}\" is not an IP address with a prefix length");
    }

    private static IPAddress? OptionalAddress(JsonElement element, string name, string path)
    {
        var text = OptionalString(element, name, path);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return IpText.TryParseAddress(text, out var address)
            ? address
            : throw Invalid(path + "." + name, $"\"{text}\" is not an IP address");
    }

    private static CniException Invalid(string path, string reason) =>
        new(CniErrorCode.DecodingFailure, $"invalid result: {path}: {reason}");
}
