using System.Text.Json.Nodes;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>Plugins that die of a signal or flood stderr, run as real processes through the client.</summary>
public sealed class PluginProcessFailureTests : IDisposable
{
    private const string Result = """{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}""";
    private static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0" };

    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    private CniRuntime.Configuration.NetworkConfigList List(JsonObject addScript) =>
        TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", _fixture.WriteScript("script.json", new JsonObject { ["commands"] = new JsonObject { ["ADD"] = addScript } }.ToJsonString())));

    [Fact(Timeout = 20_000)]
    public async Task A_plugin_killed_by_a_signal_fails_with_its_exit_status_stderr_and_name()
    {
        var list = List(new JsonObject { ["stderr"] = "segmentation fault in the plugin\n", ["signal"] = 9 });
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginExecutionException>(() => client.AddNetworkListAsync(list, Runtime));

        // .NET reports a death by signal n as exit status 128 + n (libcni's Go says "signal: killed").
        Assert.Equal(137, error.ExitCode);
        Assert.Equal("segmentation fault in the plugin\n", error.Stderr);
        Assert.Equal(("noop", "ADD", "net", Path.Combine(_fixture.PluginDirectory, "noop")), (error.PluginType, error.Command, error.NetworkName, error.PluginPath));
        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): netplugin failed: \"segmentation fault in the plugin\": exit status 137", error.Message);
        Assert.Equal(["ADD noop", "DEL noop"], _fixture.ReadCalls());
    }

    [Fact(Timeout = 20_000)]
    public async Task Stderr_far_beyond_the_pipe_buffer_written_before_the_result_does_not_deadlock()
    {
        // The plugin writes 1 MiB to stderr and then its result: a runtime that read stdout first would leave the
        // plugin blocked on a full stderr pipe (64 KiB) until the timeout.
        var list = List(new JsonObject { ["stderr"] = new string('e', 1024 * 1024), ["result"] = JsonNode.Parse(Result) });
        var client = _fixture.CreateClient();
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var result = await client.AddNetworkListAsync(list, Runtime);

        Assert.Equal("10.1.2.3/24", result.Ips.Single().Address.ToString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact(Timeout = 20_000)]
    public async Task A_failing_plugin_flooding_stderr_keeps_the_first_64_KiB_of_it()
    {
        var list = List(new JsonObject { ["stderr"] = new string('e', 1024 * 1024), ["rawStdout"] = string.Empty, ["exitCode"] = 3 });
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginExecutionException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal(3, error.ExitCode);
        Assert.Equal(new string('e', 64 * 1024), error.Stderr);
        Assert.Equal($"netplugin failed: \"{new string('e', 1024)}…\": exit status 3", error.ErrorMessage);
    }
}
