using System.CommandLine;
using System.Runtime.InteropServices;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary>The command tree, and the one place errors become messages and exit codes.</summary>
internal static class Cli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;
    public const int Terminated = 143;

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

        // Fast path: runtimes call the cnitool commands on every sandbox start and stop.
        if (CnitoolArguments.TryParse(args) is { } cnitool)
        {
            return await ReportingErrorsAsync(cnitool.Globals.Debug, () => CancelledOnTerminationAsync(ct => CnitoolCommands.RunAsync(cnitool, ct)));
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

        // Signals are handled here rather than by System.CommandLine, which registers its handlers only once the
        // action has started (a plugin may be running by then, and a signal in between killed cnirt outright).
        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        return await ReportingErrorsAsync(
            parse.GetValue(GlobalOptions.Debug),
            () => CancelledOnTerminationAsync(ct => parse.InvokeAsync(invocation, ct)));
    }

    private static async Task<int> ReportingErrorsAsync(bool debug, Func<Task<int>> run)
    {
        try
        {
            return await run();
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

    /// <summary>
    /// What System.CommandLine's invocation does around an action, with the handlers in place before the action
    /// starts: SIGINT and SIGTERM cancel its token, and an action that has not finished within System.CommandLine's
    /// termination timeout ends with the signal's exit code (130, 143).
    /// </summary>
    private static async Task<int> CancelledOnTerminationAsync(Func<CancellationToken, Task<int>> action)
    {
        if (new InvocationConfiguration().ProcessTerminationTimeout is not { } grace)
        {
            return await action(CancellationToken.None);
        }

        using var cancellation = new CancellationTokenSource();
        var forced = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<int>? started = null;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            cancellation.Cancel();
            if (started is not null && !EndsWithin(started, grace))
            {
                forced.TrySetResult(context.Signal == PosixSignal.SIGINT ? Interrupted : Terminated);
            }
        }

        // Whether the task ends, in any state, within the timeout (Wait throws for a cancelled or failed one).
        static bool EndsWithin(Task task, TimeSpan timeout)
        {
            try
            {
                return task.Wait(timeout);
            }
            catch (AggregateException)
            {
                return true;
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        started = action(cancellation.Token);
        return await await Task.WhenAny(started, forced.Task);
    }
}
