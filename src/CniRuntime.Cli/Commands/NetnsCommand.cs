using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using CniRuntime.Json;
using CniRuntime.Namespaces;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt netns add|del|ls|exec</c>: iproute2-compatible namespaces under /run/netns.</summary>
internal static class NetnsCommand
{
    public static Command Create()
    {
        var netns = new Command("netns", "Manage network namespaces (iproute2's /run/netns, so `ip netns` sees the same ones)");

        var addName = new Argument<string>("name");
        var add = new Command("add", "Create a network namespace; prints its path") { addName };
        add.SetAction(async (parse, ct) =>
        {
            Console.WriteLine(await new NetworkNamespaces().CreateAsync(parse.GetRequiredValue(addName), ct));
            return Cli.Ok;
        });

        var delNames = new Argument<string[]>("name") { Arity = ArgumentArity.OneOrMore };
        var del = new Command("del", "Delete network namespaces") { delNames };
        del.SetAction(async (parse, ct) =>
        {
            var namespaces = new NetworkNamespaces();
            foreach (var name in parse.GetRequiredValue(delNames))
            {
                await namespaces.DeleteAsync(name, ct);
            }

            return Cli.Ok;
        });

        var ls = new Command("ls", "List network namespaces");
        ls.Aliases.Add("list");
        ls.SetAction(parse =>
        {
            var names = new NetworkNamespaces().List();
            if (parse.GetValue(GlobalOptions.Json))
            {
                using var stdout = Console.OpenStandardOutput();
                using (var w = new Utf8JsonWriter(stdout, JsonEscaping.WriterOptions(indented: true)))
                {
                    w.WriteStartArray();
                    foreach (var name in names)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", name);
                        w.WriteString("path", Path.Combine(NetworkNamespaces.DefaultDirectory, name));
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                stdout.Write("\n"u8);
            }
            else
            {
                foreach (var name in names)
                {
                    Console.WriteLine(name);
                }
            }

            return Cli.Ok;
        });

        var execName = new Argument<string>("name");
        var execCommand = new Argument<string[]>("command") { Arity = ArgumentArity.OneOrMore, Description = "The command and its arguments (after --)" };
        var exec = new Command("exec", "Run a command inside a network namespace: cnirt netns exec NAME -- CMD [ARGS…]; exits with its exit code") { execName, execCommand };
        exec.SetAction(parse => Exec(parse.GetRequiredValue(execName), parse.GetRequiredValue(execCommand)));

        netns.Subcommands.Add(add);
        netns.Subcommands.Add(del);
        netns.Subcommands.Add(ls);
        netns.Subcommands.Add(exec);
        return netns;
    }

    private static int Exec(string name, string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { UseShellExecute = false };
        foreach (var argument in command.AsSpan(1))
        {
            start.ArgumentList.Add(argument);
        }

        // Started on the library's dedicated thread inside the namespace; stdio is inherited, so nothing is read here.
        Process process;
        try
        {
            process = new NetworkNamespaces().Run(name, () =>
                Process.Start(start) ?? throw new InvalidOperationException($"could not start {command[0]}"));
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            // As a shell (and `ip netns exec`): 127 when the command cannot be found or run.
            Console.Error.WriteLine($"cnirt: {command[0]}: {ex.Message}");
            return 127;
        }

        using var _ = process;
        process.WaitForExit();
        return process.ExitCode;
    }
}
