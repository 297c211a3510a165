using System.Text.Json;

namespace CniRuntime.Protocol;

/// <summary>Port mappings in CONVENTIONS.md's <c>portMappings</c> shape, for runtimeConfig and for the state files.</summary>
internal static class PortMappingJson
{
    public static void WriteArray(Utf8JsonWriter writer, IEnumerable<PortMapping> mappings)
    {
        writer.WriteStartArray();
        foreach (var mapping in mappings)
        {
            writer.WriteStartObject();
            writer.WriteNumber("hostPort", mapping.HostPort);
            writer.WriteNumber("containerPort", mapping.ContainerPort);
            writer.WriteString("protocol", mapping.Protocol);
            if (!string.IsNullOrEmpty(mapping.HostIp))
            {
                writer.WriteString("hostIP", mapping.HostIp);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    /// <exception cref="KeyNotFoundException">A required field is missing.</exception>
    /// <exception cref="InvalidOperationException">A field has the wrong type.</exception>
    public static List<PortMapping> ReadArray(JsonElement array)
    {
        var mappings = new List<PortMapping>();
        foreach (var item in array.EnumerateArray())
        {
            mappings.Add(new PortMapping(
                item.GetProperty("hostPort").GetInt32(),
                item.GetProperty("containerPort").GetInt32(),
                item.GetProperty("protocol").GetString() ?? throw new InvalidOperationException("protocol is null"),
                item.TryGetProperty("hostIP", out var hostIp) ? hostIp.GetString() : null));
        }

        return mappings;
    }
}
