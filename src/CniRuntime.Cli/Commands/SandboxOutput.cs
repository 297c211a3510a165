using System.Globalization;
using System.Text.Json;
using CniRuntime.Json;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;

namespace CniRuntime.Cli.Commands;

/// <summary>How sandboxes are printed: tables for people, JSON (Utf8JsonWriter, no reflection) for machines.</summary>
internal static class SandboxOutput
{
    public static void WriteJson(IReadOnlyList<Sandbox> sandboxes, bool array)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, JsonEscaping.WriterOptions(indented: true)))
        {
            if (array)
            {
                w.WriteStartArray();
            }

            foreach (var sandbox in sandboxes)
            {
                Write(w, sandbox);
            }

            if (array)
            {
                w.WriteEndArray();
            }
        }

        stdout.Write("\n"u8);
    }

    public static void Write(Utf8JsonWriter w, Sandbox sandbox)
    {
        w.WriteStartObject();
        w.WriteString("id", sandbox.Id);
        if (sandbox.Name is null)
        {
            w.WriteNull("name");
        }
        else
        {
            w.WriteString("name", sandbox.Name);
        }

        w.WriteString("netns", sandbox.NetworkNamespace);
        w.WriteBoolean("ownsNetns", sandbox.OwnsNetworkNamespace);
        w.WriteString("created", sandbox.Created);
        w.WriteStartObject("labels");
        foreach (var (key, value) in sandbox.Labels.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
        w.WriteStartArray("networks");
        foreach (var attachment in sandbox.Attachments)
        {
            w.WriteStartObject();
            w.WriteString("name", attachment.NetworkName);
            w.WriteString("interface", attachment.InterfaceName);
            w.WritePropertyName("result");
            if (attachment.Result is null)
            {
                w.WriteNullValue();
            }
            else
            {
                using var result = JsonDocument.Parse(CniResultJson.ToUtf8Bytes(attachment.Result, indented: false));
                result.RootElement.WriteTo(w);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("interfaces");
        foreach (var nic in sandbox.Interfaces)
        {
            w.WriteStartObject();
            w.WriteString("name", nic.Name);
            w.WriteString("network", nic.NetworkName);
            WriteOptional(w, "mac", nic.Mac);
            WriteOptional(w, "sandbox", nic.SandboxPath);
            w.WriteStartArray("addresses");
            foreach (var address in nic.Addresses)
            {
                w.WriteStartObject();
                w.WriteString("address", address.Address.ToString());
                WriteOptional(w, "gateway", address.Gateway?.ToString());
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("ports");
        foreach (var port in sandbox.PortMappings)
        {
            w.WriteStartObject();
            WriteOptional(w, "hostIP", port.HostIp);
            w.WriteNumber("hostPort", port.HostPort);
            w.WriteNumber("containerPort", port.ContainerPort);
            w.WriteString("protocol", port.Protocol);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        // The forwards CniRuntime installed itself (empty when a portmap plugin publishes the ports).
        w.WriteStartArray("publishedPorts");
        foreach (var port in sandbox.PublishedPorts)
        {
            w.WriteStartObject();
            w.WriteString("protocol", port.Protocol);
            WriteOptional(w, "hostIP", port.HostAddress?.ToString());
            w.WriteNumber("hostPort", port.HostPort);
            w.WriteString("containerIP", port.ContainerAddress.ToString());
            w.WriteNumber("containerPort", port.ContainerPort);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteEndObject();
    }

    /// <summary>One sandbox as a two-column table (what <c>cnirt run</c> prints).</summary>
    public static void PrintDetails(Sandbox sandbox)
    {
        var rows = new List<(string, string)>
        {
            ("ID", sandbox.Id),
            ("NAME", sandbox.Name ?? "-"),
            ("NETNS", sandbox.NetworkNamespace),
            ("NETWORKS", Join(sandbox.Attachments.Select(a => $"{a.NetworkName} ({a.InterfaceName})"))),
            ("IPS", Join(sandbox.Addresses.Where(a => a.InterfaceName != SandboxManager.LoopbackInterface).Select(a => $"{a.Address} ({a.InterfaceName})"))),
            ("PORTS", Join(sandbox.PortMappings.Select(Port))),
        };
        foreach (var (key, value) in rows)
        {
            Console.WriteLine($"{key,-9} {value}");
        }
    }

    private static readonly string[] Header = ["ID", "NAME", "NETWORKS", "IPS", "PORTS", "NETNS", "CREATED"];

    public static void PrintTable(IReadOnlyList<Sandbox> sandboxes)
    {
        var rows = new List<string[]> { Header };
        rows.AddRange(sandboxes.Select(s => new[]
        {
            s.Id[..Math.Min(12, s.Id.Length)],
            s.Name ?? "-",
            Join(s.Attachments.Where(a => a.InterfaceName != SandboxManager.LoopbackInterface).Select(a => a.NetworkName)),
            Join(s.Addresses.Where(a => a.InterfaceName != SandboxManager.LoopbackInterface).Select(a => a.Address.ToString())),
            Join(s.PortMappings.Select(Port)),
            s.NetworkNamespace,
            s.Created.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        }));
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            Console.WriteLine(string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]))));
        }
    }

    public static string Port(PortMapping port) =>
        (port.HostIp is null ? string.Empty : port.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{port.HostIp}]:" : port.HostIp + ":")
        + string.Create(CultureInfo.InvariantCulture, $"{port.HostPort}->{port.ContainerPort}/{port.Protocol}");

    private static string Join(IEnumerable<string> values)
    {
        var text = string.Join(", ", values);
        return text.Length == 0 ? "-" : text;
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }
}
