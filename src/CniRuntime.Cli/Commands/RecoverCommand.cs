using System.CommandLine;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt recover</c>: finish what a killed cnirt (or runtime) left half done; run it at boot.</summary>
internal static class RecoverCommand
{
    public static Command Create()
    {
        var command = new Command(
            "recover",
            "Undo setups and finish teardowns that were interrupted (a killed cnirt, a crash, a reboot), with the namespaces they created, undo half-done ADDs, restore the port mappings of the remaining sandboxes; prints each sandbox ID removed. Ready sandboxes are left alone");
        command.SetAction(async (parse, ct) =>
        {
            foreach (var id in await GlobalOptions.Sandboxes(parse).RecoverAsync(ct))
            {
                Console.WriteLine(id);
            }

            return Cli.Ok;
        });
        return command;
    }
}
