using System.Buffers;
using System.Collections;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CniRuntime.TestPlugin;

/// <summary>Appends one compact JSON line per call to the log file.</summary>
internal static class Recorder
{
    private static readonly string[] ExtraEnv = ["TRACEPARENT", "TRACESTATE", "BAGGAGE", "TESTPLUGIN_MARKER"];

    public static void Record(string logFile, string? command, byte[] stdin, bool stdinIsJson, JsonNode? stdinJson)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("command", command);
            w.WriteString("containerId", Environment.GetEnvironmentVariable("CNI_CONTAINERID"));
            w.WriteString("netns", Environment.GetEnvironmentVariable("CNI_NETNS"));
            w.WriteString("ifName", Environment.GetEnvironmentVariable("CNI_IFNAME"));
            w.WriteString("args", Environment.GetEnvironmentVariable("CNI_ARGS"));
            w.WriteString("path", Environment.GetEnvironmentVariable("CNI_PATH"));
            w.WritePropertyName("stdin");
            if (!stdinIsJson)
            {
                w.WriteStringValue(Encoding.UTF8.GetString(stdin));
            }
            else if (stdinJson is null)
            {
                w.WriteNullValue();
            }
            else
            {
                stdinJson.WriteTo(w);
            }

            w.WriteStartObject("env");
            var names = new List<string>();
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                var name = (string)e.Key;
                if (name.StartsWith("CNI_", StringComparison.Ordinal) || Array.IndexOf(ExtraEnv, name) >= 0)
                {
                    names.Add(name);
                }
            }

            names.Sort(StringComparer.Ordinal);
            foreach (var name in names)
            {
                w.WriteString(name, Environment.GetEnvironmentVariable(name));
            }

            w.WriteEndObject();
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteNumber("ppid", Native.GetParentPid());
            w.WriteEndObject();
        }

        buffer.Write("\n"u8);
        Native.Append(logFile, buffer.WrittenSpan);
    }
}
