using CniRuntime.Cli.Commands;

// cnirt: the runtime half of CNI on the command line. Each command is one library call plus printing.
return await Cli.RunAsync(args);
