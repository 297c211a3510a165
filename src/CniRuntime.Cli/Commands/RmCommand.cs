using System.CommandLine;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt rm ID|NAME…</c>: tear sandboxes down (attachments, namespace, record).</summary>
internal static class RmCommand
{
    public static Command Create()
    {
        var ids = new Argument<string[]>("sandbox") { Arity = ArgumentArity.OneOrMore, Description = "Sandbox IDs (or unique prefixes) or names" };
        var force = new Option<bool>("--force", "-f") { Description = "Succeed when a sandbox does not exist" };
        var command = new Command("rm", "Remove sandboxes: DEL of every attachment, then the namespace; prints each ID removed") { ids, force };
        command.SetAction(async (parse, ct) =>
        {
            var manager = GlobalOptions.Sandboxes(parse);
            var failures = new List<string>();
            foreach (var id in parse.GetRequiredValue(ids))
            {
                try
                {
                    if (await manager.TeardownAsync(id, ct))
                    {
                        Console.WriteLine(id);
                    }
                    else if (!parse.GetValue(force))
                    {
                        failures.Add($"no such sandbox: {id}");
                    }
                }
                catch (CniException ex)
                {
                    failures.Add($"{id}: {ex.Message.ReplaceLineEndings(" ")}");
                }
            }

            foreach (var failure in failures)
            {
                Console.Error.WriteLine(failure);
            }

            return failures.Count == 0 ? Cli.Ok : Cli.Failed;
        });
        return command;
    }
}
