using System.CommandLine;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt inspect ID|NAME</c>: one sandbox as JSON, with each attachment's full CNI result.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("sandbox") { Description = "Sandbox ID (or unique prefix) or name" };
        var command = new Command("inspect", "Print a sandbox as JSON, with each network's CNI result") { id };
        command.SetAction(async (parse, ct) =>
        {
            var sandbox = await GlobalOptions.Sandboxes(parse).FindAsync(parse.GetRequiredValue(id), ct);
            if (sandbox is null)
            {
                Console.Error.WriteLine($"no such sandbox: {parse.GetRequiredValue(id)}");
                return Cli.Failed;
            }

            SandboxOutput.WriteJson([sandbox], array: false);
            return Cli.Ok;
        });
        return command;
    }
}
