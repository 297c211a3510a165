using System.CommandLine;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt ls</c>: every sandbox with its networks and IPs.</summary>
internal static class LsCommand
{
    public static Command Create()
    {
        var command = new Command("ls", "List sandboxes with their networks and IPs");
        command.Aliases.Add("ps");
        command.SetAction(async (parse, ct) =>
        {
            var sandboxes = await GlobalOptions.Sandboxes(parse).ListAsync(ct);
            if (parse.GetValue(GlobalOptions.Json))
            {
                SandboxOutput.WriteJson(sandboxes, array: true);
            }
            else
            {
                SandboxOutput.PrintTable(sandboxes);
            }

            return Cli.Ok;
        });
        return command;
    }
}
