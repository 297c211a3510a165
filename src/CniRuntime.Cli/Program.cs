using CniRuntime.Cli.Commands;
using CniRuntime.Protocol;

// cnirt: the runtime half of CNI on the command line. Each command is one library call plus printing.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

try
{
    return args switch
    {
        ["version" or "--version"] => VersionCommand.Run(),
        [("add" or "check" or "del" or "status" or "gc") and var verb, .. var rest] =>
            await CnitoolCommands.RunAsync(verb, rest, Environment.GetEnvironmentVariables(), cancellation.Token),
        ["help" or "--help" or "-h"] => Usage(Console.Out, 0),
        _ => Usage(Console.Error, 1),
    };
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"cnirt: {ex.Message}");
    return 1;
}
catch (CniException ex)
{
    // One line, like cnitool: scripts read the message, the exit code says it failed.
    Console.Error.WriteLine(ex.Message.ReplaceLineEndings(" "));
    return 1;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cnirt: interrupted");
    return 130;
}

static int Usage(TextWriter to, int code)
{
    to.WriteLine("""
        usage: cnirt add|check|del|status|gc <network> <netns> [-i|--ifname NAME]
               cnirt version

        The cnitool commands, with cnitool's environment:
          NETCONFPATH  configuration directory (default /etc/cni/net.d)
          CNI_PATH     plugin directories, ':'-separated
          CNI_ARGS     K=V;K2=V2 plugin arguments
          CAP_ARGS     capability arguments as a JSON object
          CNI_IFNAME   interface name (default eth0; --ifname wins)
        The container ID is cnitool's, derived from the namespace path, and results are cached in /var/lib/cni,
        so `cnitool add` then `cnirt del` works, and the other way round. Unlike cnitool, a broken file in
        NETCONFPATH does not hide the other networks, and a hung plugin is killed after one minute.
        """);
    return code;
}
