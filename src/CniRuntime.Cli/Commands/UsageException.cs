namespace CniRuntime.Cli.Commands;

/// <summary>The command line itself is wrong (a malformed value the parser could not check); exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
