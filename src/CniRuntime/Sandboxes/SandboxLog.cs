using Microsoft.Extensions.Logging;

namespace CniRuntime.Sandboxes;

/// <summary>The sandbox layer's log messages (source-generated: no boxing, no reflection).</summary>
internal static partial class SandboxLog
{
    [LoggerMessage(101, LogLevel.Debug, "sandbox {Operation} of {Sandbox} done in {Milliseconds:0.0} ms")]
    public static partial void OperationDone(ILogger logger, string operation, string? sandbox, double milliseconds);

    [LoggerMessage(102, LogLevel.Warning, "sandbox {Operation} of {Sandbox} failed")]
    public static partial void OperationFailed(ILogger logger, string operation, string? sandbox, Exception exception);
}
