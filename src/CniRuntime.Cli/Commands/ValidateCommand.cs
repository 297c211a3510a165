using System.CommandLine;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Json;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary>
/// <c>cnirt validate [NETWORK|FILE]</c>: schema violations (file and JSON path), load errors, missing plugins and
/// unsupported versions, all at once; exit code 1 when there is any.
/// </summary>
/// <remarks>
/// Schema validation runs in the Native AOT binary through the library's small draft-07 subset validator (NJsonSchema
/// is compiled out of AOT builds); only this command touches schemas, so add/del pay nothing for it.
/// </remarks>
internal static class ValidateCommand
{
    private sealed record Problem(string File, string? Network, string Kind, string? JsonPath, string Message);

    public static Command Create()
    {
        var target = new Argument<string?>("network-or-file")
        {
            Arity = ArgumentArity.ZeroOrOne,
            Description = "A network name in the configuration directory, or a configuration file (default: every file in the directory)",
        };
        var command = new Command("validate", "Check configurations: schema violations, load errors, missing plugins, unsupported versions (exit 1 if any)") { target };
        command.SetAction((parse, ct) => RunAsync(parse, parse.GetValue(target), ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, string? target, CancellationToken cancellationToken)
    {
        var problems = new List<Problem>();
        var checkedNetworks = new List<(string File, string Network)>();
        var client = new CniClient(GlobalOptions.ClientOptions(parse));
        List<string> files;
        List<NetworkConfigList> networks = [];

        if (target is not null && (File.Exists(target) || target.Contains('/', StringComparison.Ordinal)))
        {
            var file = Path.GetFullPath(target);
            files = [file];
            try
            {
                networks.Add(await NetworkConfigLoader.LoadFileAsync(file, cancellationToken));
            }
            catch (CniConfigException ex)
            {
                problems.Add(new Problem(file, null, "LoadError", ex.JsonPath, ex.Message.ReplaceLineEndings(" ")));
            }
        }
        else
        {
            var scan = await NetworkConfigLoader.ScanDirectoryAsync(GlobalOptions.ConfigDirectory(parse), cancellationToken);
            var diagnostics = scan.Diagnostics.Where(d => target is null || d.NetworkName == target).ToList();
            networks = [.. scan.Networks.Where(n => target is null || n.Name == target)];
            files = [.. scan.Files.Where(f => target is null || networks.Any(n => n.Source == f) || diagnostics.Any(d => d.File == f))];
            if (target is not null && files.Count == 0)
            {
                throw new CniConfigNotFoundException(scan.Directory, target);
            }

            problems.AddRange(diagnostics.Select(d => new Problem(
                d.File, d.NetworkName, d.Kind == ConfigDiagnosticKind.Shadowed ? "Shadowed" : "LoadError", d.Error.JsonPath, d.Message.ReplaceLineEndings(" "))));
        }

        foreach (var file in files)
        {
            byte[] bytes;
            try
            {
                // The loader's reader: a FIFO or a device named like a configuration cannot block or flood this.
                bytes = NetworkConfigLoader.ReadFile(file);
            }
            catch (CniException)
            {
                continue; // already reported as the file's load error
            }

            var kind = file.EndsWith(".conflist", StringComparison.Ordinal) || LooksLikeList(bytes) ? CniDocumentKind.NetworkConfigList : CniDocumentKind.PluginConfig;
            var text = System.Text.Encoding.UTF8.GetString(bytes);
            problems.AddRange(CniSchemas.Validate(kind, text, file).Select(v => new Problem(file, null, "Schema:" + v.Kind, v.JsonPath, v.Message)));
        }

        foreach (var network in networks)
        {
            var file = network.Source ?? "(unknown)";
            checkedNetworks.Add((file, network.Name));
            try
            {
                await client.ValidateNetworkListAsync(network, cancellationToken);
            }
            catch (CniAggregateException ex)
            {
                problems.AddRange(ex.Errors.Select(e => new Problem(file, network.Name, Classify(e), null, e.Message.ReplaceLineEndings(" "))));
            }
            catch (CniException ex)
            {
                problems.Add(new Problem(file, network.Name, Classify(ex), null, ex.Message.ReplaceLineEndings(" ")));
            }
        }

        Print(parse.GetValue(GlobalOptions.Json), problems, checkedNetworks);
        return problems.Any(p => p.Kind != "Shadowed") ? Cli.Failed : Cli.Ok;
    }

    private static string Classify(Exception error) => error is CniException cni ? cni.Code switch
    {
        CniErrorCode.IncompatibleCniVersion => "UnsupportedVersion",
        _ when error.Message.Contains("failed to find plugin", StringComparison.Ordinal) => "MissingPlugin",
        _ => "PluginError",
    }
    : "Error";

    private static bool LooksLikeList(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("plugins", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void Print(bool json, List<Problem> problems, List<(string File, string Network)> networks)
    {
        if (json)
        {
            using var stdout = Console.OpenStandardOutput();
            using (var w = new Utf8JsonWriter(stdout, JsonEscaping.WriterOptions(indented: true)))
            {
                w.WriteStartObject();
                w.WriteBoolean("valid", !problems.Any(p => p.Kind != "Shadowed"));
                w.WriteStartArray("networks");
                foreach (var (file, network) in networks)
                {
                    w.WriteStartObject();
                    w.WriteString("name", network);
                    w.WriteString("file", file);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartArray("problems");
                foreach (var p in problems)
                {
                    w.WriteStartObject();
                    w.WriteString("file", p.File);
                    if (p.Network is not null)
                    {
                        w.WriteString("network", p.Network);
                    }

                    w.WriteString("kind", p.Kind);
                    if (p.JsonPath is not null)
                    {
                        w.WriteString("path", p.JsonPath);
                    }

                    w.WriteString("message", p.Message);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            stdout.Write("\n"u8);
            return;
        }

        foreach (var p in problems)
        {
            var where = p.JsonPath is null || p.Message.Contains(p.JsonPath, StringComparison.Ordinal) ? string.Empty : p.JsonPath + ": ";
            var message = p.Message.StartsWith(p.File, StringComparison.Ordinal) ? p.Message : $"{p.File}: {where}{p.Message}";
            Console.Error.WriteLine($"{p.Kind}: {message}");
        }

        foreach (var (file, network) in networks.Where(n => !problems.Any(p => p.File == n.File && p.Kind != "Shadowed")))
        {
            Console.WriteLine($"ok: {network} ({file})");
        }
    }
}
