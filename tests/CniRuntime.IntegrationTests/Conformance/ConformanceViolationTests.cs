using System.Text.Json;
using CniRuntime.Conformance;
using CniRuntime.IntegrationTests.Cli;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.IntegrationTests.Matrix;

namespace CniRuntime.IntegrationTests.Conformance;

/// <summary>
/// The conformance run against the scriptable test plugin made to misbehave in every step, through the library and
/// through the shipped Native AOT cnirt, proving that each violation is caught with its evidence.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ConformanceViolationTests : IAsyncLifetime
{
    // An ADD result in the wrong version, with a malformed mac and a wrong sandbox, for an interface that is never
    // made; CHECK, DEL, GC and STATUS answer wrongly. (An IP pointing past the interfaces is refused by CniRuntime
    // itself, so ADD would fail before the checks of its result.)
    private const string Misbehaviour = """
        { "commands": {
            "ADD": { "result": { "cniVersion": "1.0.0", "interfaces": [{ "name": "eth0", "mac": "not-a-mac", "sandbox": "/wrong" }],
                                 "ips": [{ "address": "10.1.2.3/24", "interface": 0 }] } },
            "CHECK": { "error": "broken", "errorCode": 999 },
            "DEL": { "rawStdout": "oops", "exitCode": 1 },
            "GC": { "rawStdout": "{}" },
            "STATUS": { "rawStdout": "not ready", "exitCode": 1 } } }
        """;

    private static readonly string[] ExpectedFailures =
    [
        "errors.missing-container-id", "add.result-schema", "add.result-version", "add.sandbox-interface",
        "add.interface-in-namespace", "check.succeeds", "del.succeeds", "del.repeated",
        "del.without-netns", "gc.succeeds", "status.answers",
    ];

    private readonly MatrixNode _world = new();
    private string _pluginDirectory = null!;
    private string _config = null!;

    public async Task InitializeAsync()
    {
        await _world.InitializeAsync();
        _pluginDirectory = _world.Node.NewTempDirectory("plugins");
        File.CreateSymbolicLink(Path.Combine(_pluginDirectory, "noop"), TestPluginBinary.Path);
        var script = Path.Combine(_pluginDirectory, "script.json");
        await File.WriteAllTextAsync(script, Misbehaviour);
        _config = Path.Combine(_pluginDirectory, "noop.conflist");
        await File.WriteAllTextAsync(_config, $$"""{ "cniVersion": "1.1.0", "name": "conf-noop", "plugins": [{ "type": "noop", "debugFile": "{{script}}" }] }""");
    }

    public Task DisposeAsync() => _world.DisposeAsync();

    [IntegrationFact]
    public async Task Every_misbehaviour_of_the_plugin_is_a_failed_requirement_with_its_evidence()
    {
        var report = await ConformanceRunner.RunAsync(new ConformanceOptions
        {
            Network = await Configuration.NetworkConfigLoader.LoadFileAsync(_config),
            PluginType = "noop",
            PluginDirectories = [_pluginDirectory],
            Node = ConformanceNode.Existing(_world.Node.Namespace!.Name),
        });

        Assert.False(report.Passed);
        Assert.Equal(ExpectedFailures.Order(StringComparer.Ordinal), report.IdsWith(CheckOutcome.Failed).Order(StringComparer.Ordinal));
        Assert.Equal(["errors.unsupported-version"], report.IdsWith(CheckOutcome.Warning));
        Assert.Contains("$.interfaces[0].mac", report.Find("add.result-schema")!.Evidence, StringComparison.Ordinal);
        Assert.Equal("noop answered 1.0.0", report.Find("add.result-version")!.Evidence);
        Assert.Equal("sandbox: /wrong", report.Find("add.sandbox-interface")!.Evidence);
        Assert.Contains("broken", report.Find("check.succeeds")!.Evidence, StringComparison.Ordinal);
        Assert.Contains("oops", report.Find("del.succeeds")!.Evidence, StringComparison.Ordinal);
        Assert.Equal("exit 0, stdout: {}", report.Find("gc.succeeds")!.Evidence);
        Assert.Equal("exit 1, stdout: not ready", report.Find("status.answers")!.Evidence);
        Assert.Equal(CheckOutcome.Passed, report.Find("version.echo")!.Outcome);
        Assert.Equal(CheckOutcome.Passed, report.Find("errors.malformed-config")!.Outcome);
    }

    [IntegrationFact]
    public async Task The_aot_cnirt_reports_the_same_failures_as_json_and_exits_1()
    {
        var run = await CnirtBinary.RunAsync("conformance", "--plugin", "noop", "--config", _config, "--cni-path", _pluginDirectory, "--json");

        Assert.True(run.ExitCode == 1, run.ToString());
        using var report = JsonDocument.Parse(run.Stdout);
        Assert.False(report.RootElement.GetProperty("passed").GetBoolean());
        var failed = report.RootElement.GetProperty("checks").EnumerateArray()
            .Where(c => c.GetProperty("outcome").GetString() == "failed")
            .Select(c => c.GetProperty("id").GetString()!);
        Assert.Equal(ExpectedFailures.Order(StringComparer.Ordinal), failed.Order(StringComparer.Ordinal));
    }

    [IntegrationFact]
    public async Task The_aot_cnirt_passes_the_ptp_plugin_in_a_throwaway_node_and_exits_0()
    {
        var config = Path.Combine(_pluginDirectory, "ptp.conflist");
        await File.WriteAllBytesAsync(config, Conflists.PtpChain("conf-cli-ptp", _world.Node.IpamDataDirectory, CniTestNode.NewSubnet()).Bytes.ToArray());

        var run = await CnirtBinary.RunAsync("conformance", "--plugin", "ptp", "--config", config, "--cni-path", Prerequisites.PluginDirectory);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("pass  add.result-schema", run.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("28 passed, 0 failed, 1 warnings, 3 not applicable\n", run.Stdout, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task A_plugin_type_the_configuration_does_not_use_is_a_usage_error()
    {
        var run = await CnirtBinary.RunAsync("conformance", "--plugin", "bridge", "--config", _config, "--cni-path", _pluginDirectory);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"cnirt: --plugin bridge: {_config} has no plugin or IPAM plugin of that type (its plugins: noop)\n", run.Stderr);
    }
}
