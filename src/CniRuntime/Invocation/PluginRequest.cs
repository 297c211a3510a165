using System.Buffers;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>
/// Builds what a plugin receives: the configuration on stdin (the plugin's own JSON with the runtime's keys
/// injected) and the <c>CNI_*</c> environment.
/// </summary>
internal static class PluginRequest
{
    /// <summary>
    /// The stdin of one plugin call. The plugin's configuration is copied token by token (no precision loss, key
    /// order kept) except for the injected keys. <c>capabilities</c> stays, as libcni sends it.
    /// </summary>
    public static byte[] BuildStdin(
        PluginConfig plugin,
        string networkName,
        string cniVersion,
        CniResult? prevResult = null,
        IReadOnlyDictionary<string, JsonElement>? runtimeConfig = null,
        GcAttachments? validAttachments = null)
    {
        var buffer = new ArrayBufferWriter<byte>(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(plugin.Json).Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions()))
        {
            writer.WriteStartObject();
            foreach (var property in plugin.Json.EnumerateObject())
            {
                // The keys the runtime writes itself: the plugin's own values for them are replaced.
                if (property.NameEquals("name"u8) || property.NameEquals("cniVersion"u8)
                    || (prevResult is not null && property.NameEquals("prevResult"))
                    || (runtimeConfig is { Count: > 0 } && property.NameEquals("runtimeConfig"))
                    || (validAttachments is not null && (property.NameEquals(GcAttachments.Key) || property.NameEquals(GcAttachments.LegacyKey))))
                {
                    continue;
                }

                property.WriteTo(writer);
            }

            writer.WriteString("name", networkName);
            writer.WriteString("cniVersion", cniVersion);
            if (runtimeConfig is { Count: > 0 })
            {
                writer.WritePropertyName("runtimeConfig");
                writer.WriteStartObject();
                foreach (var (key, value) in runtimeConfig)
                {
                    writer.WritePropertyName(key);
                    value.WriteTo(writer);
                }

                writer.WriteEndObject();
            }

            if (prevResult is not null)
            {
                writer.WritePropertyName("prevResult");
                CniResultJson.Write(writer, prevResult);
            }

            if (validAttachments is not null)
            {
                // The specification's key, and the one libcni sent before the specification settled on it.
                validAttachments.WriteTo(writer, GcAttachments.Key);
                validAttachments.WriteTo(writer, GcAttachments.LegacyKey);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The capability arguments a plugin receives: those it declares as true and the runtime provides.</summary>
    public static Dictionary<string, JsonElement>? SelectCapabilityArgs(PluginConfig plugin, IReadOnlyDictionary<string, JsonElement> provided)
    {
        Dictionary<string, JsonElement>? selected = null;
        foreach (var (capability, enabled) in plugin.Capabilities)
        {
            if (enabled && provided.TryGetValue(capability, out var value))
            {
                selected ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                selected[capability] = value;
            }
        }

        return selected;
    }

    /// <summary>The six <c>CNI_*</c> variables, always all present (empty where a command has no value).</summary>
    public static Dictionary<string, string> BuildEnvironment(
        string command,
        string? containerId,
        string? networkNamespace,
        string? interfaceName,
        string cniArgs,
        IReadOnlyList<string> pluginDirectories)
    {
        return new Dictionary<string, string>(8, StringComparer.Ordinal)
        {
            ["CNI_COMMAND"] = command,
            ["CNI_CONTAINERID"] = containerId ?? string.Empty,
            ["CNI_NETNS"] = networkNamespace ?? string.Empty,
            ["CNI_IFNAME"] = interfaceName ?? string.Empty,
            ["CNI_ARGS"] = cniArgs,
            ["CNI_PATH"] = string.Join(':', pluginDirectories),
        };
    }
}

/// <summary>The attachments a GC must keep (<c>cni.dev/valid-attachments</c>).</summary>
/// <param name="Attachments">Container ID and interface name of each attachment still in use; null sends JSON null.</param>
internal sealed record GcAttachments(IReadOnlyList<(string ContainerId, string InterfaceName)>? Attachments)
{
    public const string Key = "cni.dev/valid-attachments";
    public const string LegacyKey = "cni.dev/attachments";

    public void WriteTo(Utf8JsonWriter writer, string key)
    {
        writer.WritePropertyName(key);
        if (Attachments is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStartArray();
        foreach (var (containerId, interfaceName) in Attachments)
        {
            writer.WriteStartObject();
            writer.WriteString("containerID", containerId);
            writer.WriteString("ifname", interfaceName);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }
}
