using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using CniRuntime.Diagnostics;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Sandboxes;
using CniRuntime.Tests.Support;
using Microsoft.Extensions.Logging;

namespace CniRuntime.Tests.Sandboxes;

/// <summary>
/// What an embedding runtime sees of a sandbox operation: one trace (sandbox span, CNI operation spans, plugin
/// spans), sandbox metrics, log lines, and the trace context handed to plugins.
/// </summary>
[Collection(TelemetryTests.Name)]
public sealed class SandboxTelemetryTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakePluginExecutor _executor = new();
    private readonly InMemoryNetworkConfigSource _configs = new();
    private readonly RecordingLoggerFactory _logs = new();
    private readonly SandboxManager _manager;
    private readonly string _id = "telemetry" + Guid.NewGuid().ToString("N")[..12];

    public SandboxTelemetryTests()
    {
        var cni = new CniClientOptions { PluginDirectories = [FakePluginExecutor.Directory], CacheDirectory = _dir.Combine("cache"), TransientRetries = 0, LoggerFactory = _logs };
        _manager = new SandboxManager(new SandboxManagerOptions { Cni = cni }, new FakeNetworkNamespaces(), new CniClient(cni, _executor), _configs);
        _configs.Add("""{"cniVersion":"1.0.0","name":"one","plugins":[{"type":"bridge"},{"type":"tuning"}]}""");
        _configs.Add("""{"cniVersion":"1.0.0","name":"two","plugins":[{"type":"ptp"}]}""");
    }

    public void Dispose() => _dir.Dispose();

    private static ActivityListener Listen(ConcurrentQueue<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == CniTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private SandboxRequest TwoNetworks() => new() { Id = _id, Networks = [new SandboxNetworkRequest("one"), new SandboxNetworkRequest("two")] };

    [Fact]
    public async Task A_setup_is_one_trace_the_sandbox_span_holding_each_network_and_each_plugin_with_their_tags()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans);

        await _manager.SetupAsync(TwoNetworks());

        var setup = Assert.Single(spans, s => s.DisplayName == "sandbox setup" && Equals(s.GetTagItem(CniTelemetry.ContainerIdTag), _id));
        Assert.Null(setup.Parent);
        Assert.Equal("setup", setup.GetTagItem(CniTelemetry.SandboxOperationTag));
        var operations = spans.Where(s => s.ParentSpanId == setup.SpanId).ToList();
        Assert.Equal(["CNI ADD one", "CNI ADD two"], operations.Select(s => s.DisplayName));
        Assert.All(operations, o => Assert.Equal(setup.TraceId, o.TraceId));
        var plugins = spans.Where(s => s.ParentSpanId == operations[0].SpanId).ToList();
        Assert.Equal(["CNI plugin ADD bridge", "CNI plugin ADD tuning"], plugins.Select(s => s.DisplayName));
        var bridge = plugins[0];
        Assert.Equal("bridge", bridge.GetTagItem(CniTelemetry.PluginTypeTag));
        Assert.Equal("ADD", bridge.GetTagItem(CniTelemetry.CommandTag));
        Assert.Equal("one", bridge.GetTagItem(CniTelemetry.NetworkTag));
        Assert.Equal(0, bridge.GetTagItem(CniTelemetry.ExitCodeTag));
        Assert.True(bridge.Duration > TimeSpan.Zero);
        Assert.Equal(bridge.Id, _executor.Calls[0].Environment["TRACEPARENT"]);
    }

    [Fact]
    public async Task A_failed_setup_marks_its_span_as_an_error_and_its_teardown_is_a_trace_of_its_own()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans);
        _executor.OnCommand("ptp", CniCommand.Add, _ => FakePluginExecutor.Error(100, "no addresses"));

        await Assert.ThrowsAnyAsync<Exception>(() => _manager.SetupAsync(TwoNetworks()));
        _executor.OnCommand("ptp", CniCommand.Add, _ => FakePluginExecutor.Success("""{"cniVersion":"1.0.0"}"""));
        await _manager.SetupAsync(TwoNetworks());
        await _manager.TeardownAsync(_id);

        var setups = spans.Where(s => s.DisplayName == "sandbox setup" && Equals(s.GetTagItem(CniTelemetry.ContainerIdTag), _id)).ToList();
        Assert.Equal([ActivityStatusCode.Error, ActivityStatusCode.Unset], setups.Select(s => s.Status));
        var teardown = Assert.Single(spans, s => s.DisplayName == "sandbox teardown" && Equals(s.GetTagItem(CniTelemetry.ContainerIdTag), _id));
        Assert.Equal(["CNI DEL two", "CNI DEL one"], spans.Where(s => s.ParentSpanId == teardown.SpanId).Select(s => s.DisplayName));
    }

    [Fact]
    public async Task Plugins_get_the_callers_trace_state_with_the_trace_context()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans);
        using var caller = new Activity("runtime RunPodSandbox").SetIdFormat(ActivityIdFormat.W3C).Start();
        caller.TraceStateString = "vendor=abc,other=1";

        await _manager.SetupAsync(TwoNetworks());

        Assert.All(_executor.Calls, c => Assert.Equal("vendor=abc,other=1", c.Environment["TRACESTATE"]));
        Assert.All(_executor.Calls, c => Assert.StartsWith($"00-{caller.TraceId}-", c.Environment["TRACEPARENT"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_listener_or_a_current_span_plugins_get_no_trace_context()
    {
        Assert.Null(Activity.Current);

        await _manager.SetupAsync(TwoNetworks());

        Assert.All(_executor.Calls, c => Assert.False(c.Environment.ContainsKey("TRACEPARENT")));
        Assert.All(_executor.Calls, c => Assert.False(c.Environment.ContainsKey("TRACESTATE")));
    }

    [Fact]
    public async Task Sandbox_operations_are_counted_and_timed_by_operation_and_outcome()
    {
        var measurements = new ConcurrentQueue<(string Instrument, KeyValuePair<string, object?>[] Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == CniTelemetry.Name && instrument.Name.StartsWith("cniruntime.sandbox.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, _, tags, _) => measurements.Enqueue((i.Name, tags.ToArray())));
        listener.SetMeasurementEventCallback<double>((i, _, tags, _) => measurements.Enqueue((i.Name, tags.ToArray())));
        listener.Start();

        await _manager.SetupAsync(TwoNetworks());
        await Assert.ThrowsAnyAsync<Exception>(() => _manager.CheckAsync("no-such-sandbox"));
        await _manager.TeardownAsync(_id);

        string Seen(string instrument, string operation, string outcome) =>
            measurements.Any(m => m.Instrument == instrument
                && m.Tags.Contains(new(CniTelemetry.SandboxOperationTag, operation))
                && m.Tags.Contains(new(CniTelemetry.OutcomeTag, outcome))) ? $"{instrument} {operation} {outcome}" : "missing";
        Assert.Equal("cniruntime.sandbox.operations setup ok", Seen("cniruntime.sandbox.operations", "setup", "ok"));
        Assert.Equal("cniruntime.sandbox.operation.duration setup ok", Seen("cniruntime.sandbox.operation.duration", "setup", "ok"));
        Assert.Equal("cniruntime.sandbox.operations check error", Seen("cniruntime.sandbox.operations", "check", "error"));
        Assert.Equal("cniruntime.sandbox.operations teardown ok", Seen("cniruntime.sandbox.operations", "teardown", "ok"));
    }

    [Fact]
    public async Task A_sandbox_operation_is_logged_at_debug_and_a_failure_as_a_warning_with_its_exception()
    {
        _executor.OnCommand("ptp", CniCommand.Add, _ => FakePluginExecutor.Error(100, "no addresses"));

        await Assert.ThrowsAnyAsync<Exception>(() => _manager.SetupAsync(TwoNetworks()));
        await _manager.TeardownAsync(_id);

        var entries = _logs.Entries.ToList();
        var warning = Assert.Single(entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("sandbox ", StringComparison.Ordinal));
        Assert.Equal($"sandbox setup of {_id} failed", warning.Message);
        Assert.IsType<CniRuntime.Protocol.CniPluginException>(warning.Exception);
        Assert.Contains(entries, e => e.Level == LogLevel.Debug && e.Message.StartsWith($"sandbox teardown of {_id} done in ", StringComparison.Ordinal));
    }
}
