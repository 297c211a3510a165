using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using CniRuntime.Diagnostics;
using CniRuntime.Invocation;
using CniRuntime.Tests.Support;
using static CniRuntime.Tests.Networks.CniClientFixture;

namespace CniRuntime.Tests.Networks;

/// <summary>Spans, metrics and trace propagation. Listeners see every client in the process, so filter by network.</summary>
[Collection(TelemetryTests.Name)]
public sealed class CniClientTelemetryTests : IDisposable
{
    private readonly CniClientFixture _f = new();
    private readonly string _network = "telemetry-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Each_operation_and_plugin_execution_is_a_span_with_its_tags_and_plugins_get_the_trace_context()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == CniTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => FakePluginExecutor.Error(100, "nope"));
        var list = List($$"""{"cniVersion":"1.0.0","name":"{{_network}}","plugins":[{"type":"noop"},{"type":"noop2"}]}""");

        await Assert.ThrowsAnyAsync<Exception>(() => _f.Client.AddNetworkListAsync(list, Runtime()));

        var mine = spans.Where(s => Equals(s.GetTagItem(CniTelemetry.NetworkTag), _network)).ToList();
        var operation = Assert.Single(mine, s => s.DisplayName == $"CNI ADD {_network}");
        Assert.Equal(ActivityStatusCode.Error, operation.Status);
        Assert.Equal("some-container-id", operation.GetTagItem(CniTelemetry.ContainerIdTag));
        var plugins = mine.Where(s => s.ParentSpanId == operation.SpanId).Select(s => s.DisplayName).ToList();
        Assert.Equal(["CNI plugin ADD noop", "CNI plugin ADD noop2", "CNI plugin DEL noop2", "CNI plugin DEL noop"], plugins);
        var failed = mine.Single(s => s.DisplayName == "CNI plugin ADD noop2");
        Assert.Equal(1, failed.GetTagItem(CniTelemetry.ExitCodeTag));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        var first = mine.Single(s => s.DisplayName == "CNI plugin ADD noop");
        Assert.Equal(first.Id, _f.Executor.Calls[0].Environment["TRACEPARENT"]);
    }

    [Fact]
    public async Task Operations_and_plugin_executions_are_counted_and_timed()
    {
        var measurements = new ConcurrentQueue<(string Instrument, KeyValuePair<string, object?>[] Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == CniTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, _, tags, _) => measurements.Enqueue((i.Name, tags.ToArray())));
        listener.SetMeasurementEventCallback<double>((i, _, tags, _) => measurements.Enqueue((i.Name, tags.ToArray())));
        listener.Start();
        var list = List($$"""{"cniVersion":"1.0.0","name":"{{_network}}","plugins":[{"type":"noop"}]}""");

        await _f.Client.AddNetworkListAsync(list, Runtime());

        var operations = measurements.Where(m => m.Tags.Contains(new(CniTelemetry.NetworkTag, _network))).Select(m => m.Instrument).ToList();
        Assert.Contains("cniruntime.operations", operations);
        Assert.Contains("cniruntime.operation.duration", operations);
        Assert.Contains(measurements, m => m.Instrument == "cniruntime.plugin.executions" && m.Tags.Contains(new(CniTelemetry.OutcomeTag, "ok")));
        Assert.Contains(measurements, m => m.Instrument == "cniruntime.plugin.duration");
    }
}

/// <summary>What the engine logs: each plugin execution at debug level, a failed operation as a warning.</summary>
public sealed class CniClientLoggingTests : IDisposable
{
    private readonly RecordingLoggerFactory _logs = new();
    private readonly CniClientFixture _f;

    public CniClientLoggingTests()
    {
        _f = new CniClientFixture(o => o with { LoggerFactory = _logs });
    }

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Executions_are_logged_at_debug_and_a_failed_operation_as_a_warning_with_its_exception()
    {
        _f.Executor.OnCommand("noop2", CniCommand.Add, _ => new PluginProcessResult(1, System.Text.Encoding.UTF8.GetBytes("""{"code":100,"msg":"no"}"""), "some stderr"));
        var list = List("""{"cniVersion":"1.0.0","name":"logged","plugins":[{"type":"noop"},{"type":"noop2"}]}""");

        await Assert.ThrowsAnyAsync<Exception>(() => _f.Client.AddNetworkListAsync(list, Runtime()));

        var entries = _logs.Entries.ToList();
        Assert.Contains(entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Debug && e.Message.StartsWith("plugin noop ADD for network logged exited 0", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Debug && e.Message == "plugin noop2 ADD wrote to stderr: some stderr");
        var warning = Assert.Single(entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Equal("CNI ADD of network logged for container some-container-id failed", warning.Message);
        Assert.IsType<CniRuntime.Protocol.CniPluginException>(warning.Exception);
    }
}
