using Microsoft.Extensions.Logging;

namespace CniRuntime.Networks;

/// <summary>The engine's log messages (source-generated: no boxing, no reflection).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "plugin {PluginType} {Command} for network {Network} exited {ExitCode} after {Milliseconds:0.0} ms")]
    public static partial void PluginExecuted(ILogger logger, string pluginType, string command, string? network, int? exitCode, double milliseconds);

    [LoggerMessage(2, LogLevel.Debug, "plugin {PluginType} {Command} wrote to stderr: {Stderr}")]
    public static partial void PluginStderr(ILogger logger, string pluginType, string command, string stderr);

    [LoggerMessage(3, LogLevel.Warning, "CNI {Command} of network {Network} for container {ContainerId} failed")]
    public static partial void OperationFailed(ILogger logger, string command, string? network, string? containerId, Exception exception);

    [LoggerMessage(4, LogLevel.Error, "rollback DEL of network {Network} for container {ContainerId} failed; the attachment may hold resources until DEL succeeds")]
    public static partial void RollbackFailed(ILogger logger, string network, string containerId, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "rollback DEL of plugin {PluginType}, which had done nothing for network {Network} and container {ContainerId}, failed; the rollback goes on")]
    public static partial void RollbackOfUnusedPluginFailed(ILogger logger, string pluginType, string network, string containerId, Exception exception);
}
