using System.Buffers;
using System.Net;
using System.Text.Json;
using CniRuntime.Json;

namespace CniRuntime.Protocol;

/// <summary>
/// Reads and writes CNI results in the wire shape of their version: <c>ip4</c>/<c>ip6</c> for 0.1.0 and 0.2.0,
/// <c>interfaces</c>/<c>ips</c>/<c>routes</c> with <c>ips[].version</c> for 0.3.0 to 0.4.0, and without it for 1.x.
/// </summary>
public static class CniResultJson
{
    /// <summary>Parses a result a plugin printed.</summary>
    /// <param name="utf8Json">The JSON text; <c>null</c> reads as an empty result.</param>
    /// <param name="versionIfMissing">
    /// The version to assume when the document has no (or an empty) <c>cniVersion</c>; 0.1.0 when null. A version
    /// in the document always wins.
    /// </param>
    /// <exception cref="CniException">
    /// Code 6 (decoding failure) when the text is not JSON, not an object, or a field has the wrong type or an
    /// invalid value (the message names its JSON path); code 1 when the version is not one this library knows.
    /// </exception>
    public static CniResult Parse(ReadOnlySpan<byte> utf8Json, CniVersion? versionIfMissing = null) =>
        ResultReader.Read(utf8Json, versionIfMissing);

    /// <summary>
    /// Writes a result in its own version's shape, leaving out absent fields and empty lists, and whatever that
    /// shape cannot carry (see <see cref="CniResult.ConvertTo"/>). Keys follow the specification's order.
    /// </summary>
    /// <exception cref="CniException">Code 1 when the result's version is not one this library knows.</exception>
    public static void Write(Utf8JsonWriter writer, CniResult result)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(result);
        var shape = ResultShapes.Require(result.CniVersion);
        var reduced = ResultConversion.ReduceTo(result, shape);

        writer.WriteStartObject();
        writer.WriteString("cniVersion", result.CniVersion.ToString());
        if (shape == ResultShape.Legacy)
        {
            WriteLegacyIp(writer, "ip4", reduced, ipv4: true);
            WriteLegacyIp(writer, "ip6", reduced, ipv4: false);
        }
        else
        {
            WriteInterfaces(writer, reduced);
            WriteIps(writer, reduced, withVersion: shape == ResultShape.Chained);
            if (!reduced.Routes.IsEmpty)
            {
                writer.WriteStartArray("routes");
                foreach (var route in reduced.Routes)
                {
                    WriteRoute(writer, route);
                }

                writer.WriteEndArray();
            }
        }

        WriteDns(writer, reduced.Dns);
        writer.WriteEndObject();
    }

    /// <summary>Serializes a result to UTF-8 JSON; indented output uses four spaces, as libcni prints results.</summary>
    /// <exception cref="CniException">Code 1 when the result's version is not one this library knows.</exception>
    public static byte[] ToUtf8Bytes(CniResult result, bool indented = false)
    {
        // Most results fit in 1 KiB: no growing copies on the way there.
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions(indented, indentSize: 4)))
        {
            Write(writer, result);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteLegacyIp(Utf8JsonWriter writer, string name, CniResult result, bool ipv4)
    {
        var ip = result.Ips.FirstOrDefault(i => i.Address.IsIPv4 == ipv4);
        if (ip is null)
        {
            return;
        }

        writer.WriteStartObject(name);
        writer.WriteString("ip", ip.Address.ToString());
        WriteAddress(writer, "gateway", ip.Gateway);
        var routes = result.Routes.Where(r => r.Dst.IsIPv4 == ipv4).ToList();
        if (routes.Count > 0)
        {
            writer.WriteStartArray("routes");
            foreach (var route in routes)
            {
                WriteRoute(writer, route);
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    private static void WriteInterfaces(Utf8JsonWriter writer, CniResult result)
    {
        if (result.Interfaces.IsEmpty)
        {
            return;
        }

        writer.WriteStartArray("interfaces");
        foreach (var item in result.Interfaces)
        {
            writer.WriteStartObject();
            writer.WriteString("name", item.Name);
            WriteString(writer, "mac", item.Mac);
            WriteNumber(writer, "mtu", item.Mtu);
            WriteString(writer, "sandbox", item.Sandbox);
            WriteString(writer, "socketPath", item.SocketPath);
            WriteString(writer, "pciID", item.PciId);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteIps(Utf8JsonWriter writer, CniResult result, bool withVersion)
    {
        if (result.Ips.IsEmpty)
        {
            return;
        }

        writer.WriteStartArray("ips");
        foreach (var ip in result.Ips)
        {
            writer.WriteStartObject();
            WriteNumber(writer, "interface", ip.Interface);
            if (withVersion)
            {
                // 0.3.x/0.4.0 spell out the family; it is always derived from the address.
                writer.WriteString("version", ip.Address.IsIPv4 ? "4" : "6");
            }

            writer.WriteString("address", ip.Address.ToString());
            WriteAddress(writer, "gateway", ip.Gateway);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteRoute(Utf8JsonWriter writer, CniRoute route)
    {
        writer.WriteStartObject();
        writer.WriteString("dst", route.Dst.ToString());
        WriteAddress(writer, "gw", route.Gw);
        WriteNumber(writer, "mtu", route.Mtu);
        WriteNumber(writer, "advmss", route.AdvMss);
        WriteNumber(writer, "priority", route.Priority);
        WriteNumber(writer, "table", route.Table);
        WriteNumber(writer, "scope", route.Scope);
        writer.WriteEndObject();
    }

    private static void WriteDns(Utf8JsonWriter writer, CniDns? dns)
    {
        if (dns is null || dns.IsEmpty)
        {
            return;
        }

        writer.WriteStartObject("dns");
        WriteStrings(writer, "nameservers", dns.Nameservers);
        WriteString(writer, "domain", dns.Domain);
        WriteStrings(writer, "search", dns.Search);
        WriteStrings(writer, "options", dns.Options);
        writer.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter writer, string name, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteString(Utf8JsonWriter writer, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteAddress(Utf8JsonWriter writer, string name, IPAddress? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value.ToString());
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, int? value)
    {
        if (value is { } number)
        {
            writer.WriteNumber(name, number);
        }
    }
}
