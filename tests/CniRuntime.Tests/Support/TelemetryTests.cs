namespace CniRuntime.Tests.Support;

/// <summary>
/// Activity and meter listeners see every client in the process, and a listener makes every plugin execution a span
/// (and so a TRACEPARENT): tests that listen, or that assert no trace context, run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryTests
{
    public const string Name = "Telemetry";
}
