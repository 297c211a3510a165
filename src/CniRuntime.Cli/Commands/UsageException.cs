namespace CniRuntime.Cli.Commands;

/// <summary>The command line itself is wrong (missing or unknown arguments).</summary>
internal sealed class UsageException(string message) : Exception(message);
