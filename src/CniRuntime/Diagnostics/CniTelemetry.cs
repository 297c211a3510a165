using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CniRuntime.Diagnostics;

/// <summary>
/// The names under which CniRuntime reports traces and metrics: one <see cref="ActivitySource"/> with a span per
/// sandbox operation, per CNI operation and per plugin execution (nested in that order), and one <see cref="Meter"/> with operation counts and latency histograms.
/// Subscribe with OpenTelemetry (<c>AddSource("CniRuntime")</c>, <c>AddMeter("CniRuntime")</c>) or an
/// <see cref="ActivityListener"/>/<see cref="MeterListener"/>.
/// </summary>
public static class CniTelemetry
{
    /// <summary>The name of the activity source and of the meter.</summary>
    public const string Name = "CniRuntime";

    /// <summary>The span and metric tag naming the plugin type.</summary>
    public const string PluginTypeTag = "cni.plugin.type";

    /// <summary>The span and metric tag naming the CNI command (ADD, DEL, …).</summary>
    public const string CommandTag = "cni.command";

    /// <summary>The span and metric tag naming the network.</summary>
    public const string NetworkTag = "cni.network";

    /// <summary>The span tag with the container ID.</summary>
    public const string ContainerIdTag = "cni.container_id";

    /// <summary>The span tag with the plugin's exit code.</summary>
    public const string ExitCodeTag = "process.exit.code";

    /// <summary>The span and metric tag naming a sandbox operation: setup, teardown, check, readiness, gc or recover.</summary>
    public const string SandboxOperationTag = "cni.sandbox.operation";

    /// <summary>The metric tag with the outcome: ok, error or cancelled.</summary>
    public const string OutcomeTag = "outcome";

    internal static readonly ActivitySource Source = new(Name, BuildInfo.Version);

    internal static readonly Meter Meter = new(Name, BuildInfo.Version);

    internal static readonly Counter<long> Operations = Meter.CreateCounter<long>(
        "cniruntime.operations", unit: "{operation}", description: "CNI operations on a network (ADD, DEL, CHECK, STATUS, GC, VERSION), by outcome.");

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "cniruntime.operation.duration", unit: "s", description: "Duration of CNI operations on a network, plugins included.");

    internal static readonly Counter<long> PluginExecutions = Meter.CreateCounter<long>(
        "cniruntime.plugin.executions", unit: "{execution}", description: "Plugin executions, by plugin type, command and outcome.");

    internal static readonly Histogram<double> PluginDuration = Meter.CreateHistogram<double>(
        "cniruntime.plugin.duration", unit: "s", description: "Duration of one plugin execution, retries included.");

    internal static readonly Counter<long> SandboxOperations = Meter.CreateCounter<long>(
        "cniruntime.sandbox.operations", unit: "{operation}", description: "Sandbox operations (setup, teardown, check, readiness, gc, recover), by outcome.");

    internal static readonly Histogram<double> SandboxOperationDuration = Meter.CreateHistogram<double>(
        "cniruntime.sandbox.operation.duration", unit: "s", description: "Duration of sandbox operations, namespaces, plugins and port publishing included.");

    /// <summary>Puts the W3C trace context of the current span into a plugin's environment, so plugins can join the trace.</summary>
    internal static void AddTraceContext(Dictionary<string, string> environment)
    {
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C, Id: { } traceParent } activity)
        {
            environment["TRACEPARENT"] = traceParent;
            if (!string.IsNullOrEmpty(activity.TraceStateString))
            {
                environment["TRACESTATE"] = activity.TraceStateString;
            }
        }
    }

    internal static string Outcome(Exception? error) => error switch
    {
        null => "ok",
        OperationCanceledException => "cancelled",
        _ => "error",
    };
}
