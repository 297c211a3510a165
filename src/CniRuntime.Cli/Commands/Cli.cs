using System.CommandLine;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary>The command tree, and the one place errors become messages and exit codes.</summary>
internal static class Cli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;

    public static RootCommand Build()
    {
        var root = new RootCommand("""
            cnirt: the runtime half of the Container Network Interface (CNI).

            add|check|del|status|gc are drop-ins for cnitool: same arguments, environment (NETCONFPATH, CNI_PATH,
            CNI_ARGS, CAP_ARGS, CNI_IFNAME), container ID, cache files and output. Better than cnitool where it was
            surprising: a broken file in the configuration directory does not hide the other networks, and a hung
            plugin is killed after --timeout (default one minute). The global flags override the variables.

            Exit codes: 0 success, 1 error (one line on stderr; --debug adds the stack trace), 2 usage error,
            130 interrupted. netns exec exits with the command's own exit code.
            """);
        GlobalOptions.AddTo(root);
        foreach (var command in CnitoolCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        root.Subcommands.Add(NetnsCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(RmCommand.Create());
        root.Subcommands.Add(RecoverCommand.Create());
        root.Subcommands.Add(LsCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(PortsCommand.Create());
        root.Subcommands.Add(ValidateCommand.Create());
        root.Subcommands.Add(ConformanceCommand.Create());
        root.Subcommands.Add(VersionCommand.Create());
        root.Subcommands.Add(CompletionCommand.Create(root));
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        // Fast path: scripts call `cnirt version` to probe for the binary; skip building the command tree.
        if (args is ["version"] or ["--version"])
        {
            return VersionCommand.Run(json: false);
        }

        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine($"cnirt: {error.Message}");
            }

            Console.Error.WriteLine("Run 'cnirt --help' for usage.");
            return Usage;
        }

        var debug = parse.GetValue(GlobalOptions.Debug);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"cnirt: {ex.Message}");
            return Usage;
        }
        catch (Exception ex) when (ex is CniException or IOException or UnauthorizedAccessException)
        {
            // One line, like cnitool: scripts read the message, the exit code says it failed.
            Console.Error.WriteLine(debug ? ex.ToString() : ex.Message.ReplaceLineEndings(" "));
            return Failed;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cnirt: interrupted");
            return Interrupted;
        }
        catch (Exception ex) when (!debug)
        {
            Console.Error.WriteLine($"cnirt: {ex.Message.ReplaceLineEndings(" ")} (--debug for details)");
            return Failed;
        }
    }
}
