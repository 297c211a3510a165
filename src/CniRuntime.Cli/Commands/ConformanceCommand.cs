using System.CommandLine;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Conformance;
using CniRuntime.Json;

namespace CniRuntime.Cli.Commands;

/// <summary>
/// <c>cnirt conformance --plugin TYPE --config FILE</c>: one plugin (within its list) through the specification's
/// lifecycle, each requirement passed or failed with its evidence; exit code 1 when a MUST is broken.
/// </summary>
internal static class ConformanceCommand
{
    public static Command Create()
    {
        var plugin = new Option<string>("--plugin") { Description = "The plugin type under test: one of the configuration's plugins, or an IPAM plugin one of them uses", HelpName = "TYPE", Required = true };
        var config = new Option<string>("--config") { Description = "A configuration list (.conflist) or one plugin's configuration (.conf, .json)", HelpName = "FILE", Required = true };
        var node = new Option<string?>("--node-netns") { Description = "Run the plugins in this existing namespace (default: a throwaway one, deleted afterwards)", HelpName = "NAME" };
        var links = new Option<string[]>("--link") { Description = "Create a veth end of this name in the throwaway node first (a master for macvlan, a device for host-device); repeatable", HelpName = "NAME" };
        var ifName = new Option<string>("--ifname") { Description = "CNI_IFNAME in the container (default eth0)", HelpName = "NAME", DefaultValueFactory = _ => "eth0" };
        var command = new Command("conformance", "Check a plugin against the CNI specification: VERSION, broken input, ADD and its result's schema, CHECK, DEL twice, DEL without a namespace, GC, STATUS (exit 1 if a MUST fails)")
        {
            plugin, config, node, links, ifName,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = Path.GetFullPath(parse.GetValue(config)!);
            var list = await NetworkConfigLoader.LoadFileAsync(file, cancellationToken);
            var type = parse.GetValue(plugin)!;
            if (!list.Plugins.Any(p => p.Type == type || p.IpamType == type))
            {
                throw new UsageException($"--plugin {type}: {file} has no plugin or IPAM plugin of that type (its plugins: {string.Join(", ", list.Plugins.Select(p => p.Type))})");
            }

            var nodeName = parse.GetValue(node);
            var report = await ConformanceRunner.RunAsync(
                new ConformanceOptions
                {
                    Network = list,
                    PluginType = type,
                    PluginDirectories = GlobalOptions.PluginDirectories(GlobalSettings.From(parse)),
                    Node = nodeName is null ? ConformanceNode.Throwaway(parse.GetValue(links) ?? []) : ConformanceNode.Existing(nodeName),
                    InterfaceName = parse.GetValue(ifName)!,
                    PluginTimeout = parse.GetValue(GlobalOptions.Timeout) ?? TimeSpan.FromSeconds(30),
                },
                cancellationToken);
            if (parse.GetValue(GlobalOptions.Json))
            {
                using var stdout = Console.OpenStandardOutput();
                using (var writer = new Utf8JsonWriter(stdout, JsonEscaping.WriterOptions(indented: true)))
                {
                    report.WriteJson(writer);
                }

                stdout.Write("\n"u8);
            }
            else
            {
                Console.Write(report.ToString());
            }

            return report.Passed ? Cli.Ok : Cli.Failed;
        });
        return command;
    }
}
