using System.CommandLine;
using System.Text.Json;
using CniRuntime.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt version</c>: cnirt's version and the CNI spec versions it speaks.</summary>
internal static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "Print cnirt's version and the CNI specification versions it supports");
        command.SetAction(parse => Run(parse.GetValue(GlobalOptions.Json)));
        return command;
    }

    public static string CnirtVersion => BuildInfo.Version;

    public static int Run(bool json)
    {
        if (json)
        {
            using var stdout = Console.OpenStandardOutput();
            using var w = new Utf8JsonWriter(stdout, JsonEscaping.WriterOptions(indented: true));
            w.WriteStartObject();
            w.WriteString("cnirt", CnirtVersion);
            w.WriteString("cniVersion", CniVersion.Current.ToString());
            w.WriteStartArray("supportedVersions");
            foreach (var version in CniVersion.All)
            {
                w.WriteStringValue(version.ToString());
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
            stdout.Write("\n"u8);
            return Cli.Ok;
        }

        Console.WriteLine($"cnirt {CnirtVersion}: CNI spec {CniVersion.Current}, supports {string.Join(", ", CniVersion.All)}");
        return Cli.Ok;
    }
}
