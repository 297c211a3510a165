using System.CommandLine;
using System.Text.Json;
using CniRuntime.Json;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt ports ls</c>: every published port, with the sandbox and who publishes it.</summary>
internal static class PortsCommand
{
    public static Command Create()
    {
        var ls = new Command("ls", "List published ports: sandbox, host side, container side, and who publishes (cnirt in nftables, or a portmap plugin)");
        ls.SetAction(async (parse, ct) =>
        {
            var sandboxes = await GlobalOptions.Sandboxes(parse).ListAsync(ct);
            var rows = sandboxes
                .SelectMany(s => s.PublishedPorts.Count > 0
                    ? s.PublishedPorts.Select(p => (Sandbox: s, Host: $"{(p.HostAddress is null ? "*" : p.HostAddress.ToString())}:{p.HostPort}/{p.Protocol}", Container: $"{p.ContainerAddress}:{p.ContainerPort}", By: "cnirt"))
                    : s.PortMappings.Select(m => (Sandbox: s, Host: $"{m.HostIp ?? "*"}:{m.HostPort}/{m.Protocol}", Container: $"{m.ContainerPort}", By: "plugin")))
                .ToList();
            if (parse.GetValue(GlobalOptions.Json))
            {
                using var stdout = Console.OpenStandardOutput();
                using (var w = new Utf8JsonWriter(stdout, JsonEscaping.WriterOptions(indented: true)))
                {
                    w.WriteStartArray();
                    foreach (var row in rows)
                    {
                        w.WriteStartObject();
                        w.WriteString("sandbox", row.Sandbox.Id);
                        w.WriteString("name", row.Sandbox.Name);
                        w.WriteString("host", row.Host);
                        w.WriteString("container", row.Container);
                        w.WriteString("publishedBy", row.By);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                stdout.Write("\n"u8);
                return Cli.Ok;
            }

            Console.WriteLine($"{"SANDBOX",-12}  {"NAME",-12}  {"HOST",-24}  {"CONTAINER",-24}  BY");
            foreach (var row in rows)
            {
                Console.WriteLine($"{row.Sandbox.Id[..Math.Min(12, row.Sandbox.Id.Length)],-12}  {row.Sandbox.Name ?? "-",-12}  {row.Host,-24}  {row.Container,-24}  {row.By}");
            }

            return Cli.Ok;
        });
        var command = new Command("ports", "Published ports");
        command.Subcommands.Add(ls);
        return command;
    }
}
