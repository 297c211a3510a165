using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Conformance;
using CniRuntime.Invocation;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Conformance;

/// <summary>Conformance outcomes, the report's text and JSON, result validation by declared version, and the recording executor.</summary>
public sealed class ConformanceReportTests
{
    private static readonly ConformanceReport Report = new("bridge", "net", "1.0.0",
    [
        ConformanceCheck.Of("add.succeeds", RequirementLevel.Must, "ADD exits 0", true, "bridge ADD: exit 0"),
        ConformanceCheck.Of("version.echo", RequirementLevel.Should, "echoes", false, "asked 0.4.0, answered 1.0.0"),
        ConformanceCheck.Of("del.repeated", RequirementLevel.Must, "DEL again exits 0", false, "exit 1\nstdout: {}"),
        ConformanceCheck.NotApplicable("gc.succeeds", RequirementLevel.Must, "GC exits 0", "no 1.1.0"),
    ]);

    [Fact]
    public void An_unmet_must_fails_and_an_unmet_should_warns()
    {
        Assert.Equal(["add.succeeds"], Report.IdsWith(CheckOutcome.Passed));
        Assert.Equal(["del.repeated"], Report.IdsWith(CheckOutcome.Failed));
        Assert.Equal(["version.echo"], Report.IdsWith(CheckOutcome.Warning));
        Assert.Equal(["gc.succeeds"], Report.IdsWith(CheckOutcome.NotApplicable));
        Assert.False(Report.Passed);
        Assert.True((Report with { Checks = [Report.Checks[0], Report.Checks[1]] }).Passed);
    }

    [Fact]
    public void The_text_has_a_line_per_check_its_evidence_indented_and_a_summary()
    {
        var lines = Report.ToString().Split('\n');

        Assert.Equal("conformance of plugin bridge (network \"net\", cniVersion 1.0.0)", lines[0]);
        Assert.Equal("FAIL  del.repeated  MUST   DEL again exits 0", lines[5]);
        Assert.Equal(["        exit 1", "        stdout: {}"], lines[6..8]);
        Assert.Equal("1 passed, 1 failed, 1 warnings, 1 not applicable", lines[^2]);
    }

    [Fact]
    public void The_json_names_each_outcome()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            Report.WriteJson(writer);
        }

        using var json = JsonDocument.Parse(stream.ToArray());
        Assert.False(json.RootElement.GetProperty("passed").GetBoolean());
        Assert.Equal(
            ["passed", "warning", "failed", "not-applicable"],
            json.RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("outcome").GetString()));
        Assert.Equal("SHOULD", json.RootElement.GetProperty("checks")[1].GetProperty("level").GetString());
    }

    [Theory]
    [InlineData("""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"02:11:22:33:44:55"}]}""", null)]
    [InlineData("""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"not-a-mac"}]}""", "$.interfaces[0].mac")]
    [InlineData("""{"interfaces":[]}""", "$.cniVersion")]
    [InlineData("""{"cniVersion":"0.9.0"}""", "$.cniVersion")]
    [InlineData("""{"cniVersion":""", "$")]
    public void A_result_is_validated_against_the_schema_of_the_version_it_declares(string json, string? violationPath)
    {
        var violations = CniSchemas.ValidateResult(json, "bridge");

        Assert.Equal(violationPath is null ? [] : [violationPath], violations.Select(v => v.JsonPath).Distinct());
        Assert.All(violations, v => Assert.Equal("bridge", v.File));
    }

    [Fact]
    public async Task The_recording_executor_keeps_each_call_with_its_raw_output_and_its_failure()
    {
        var fake = new FakePluginExecutor();
        var recorder = new RecordingPluginExecutor(fake);
        var environment = new Dictionary<string, string> { ["CNI_COMMAND"] = "ADD" };
        var stdin = Encoding.UTF8.GetBytes("""{"cniVersion":"1.0.0","name":"n","type":"bridge"}""");

        var result = await recorder.ExecuteAsync(new PluginInvocation(FakePluginExecutor.Directory + "/bridge", stdin, environment), CancellationToken.None);

        var call = Assert.Single(recorder.Calls);
        Assert.Equal(("ADD", "bridge", result), (call.Command, call.PluginName, call.Result));
        Assert.Null(call.Failure);
        recorder.Clear();
        Assert.Empty(recorder.Calls);
    }

    [Fact]
    public async Task A_call_that_could_not_run_is_recorded_with_why_and_rethrown()
    {
        var recorder = new RecordingPluginExecutor(new CancelledExecutor());
        var invocation = new PluginInvocation("/x/tuning", Encoding.UTF8.GetBytes("{}"), new Dictionary<string, string> { ["CNI_COMMAND"] = "DEL" });

        var failure = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => recorder.ExecuteAsync(invocation, CancellationToken.None));

        var call = Assert.Single(recorder.Calls);
        Assert.Equal(("DEL", "tuning", (PluginProcessResult?)null, (Exception)failure), (call.Command, call.PluginName, call.Result, call.Failure!));
    }

    private sealed class CancelledExecutor : IPluginExecutor
    {
        public string FindPlugin(string pluginType, IReadOnlyList<string> directories) => "/x/" + pluginType;

        public Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken) =>
            throw new OperationCanceledException("killed");
    }
}
