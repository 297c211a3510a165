using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>libcni's RawExec and Args.AsEnv checklist, with real processes of the test plugin.</summary>
public sealed class ProcessPluginExecutorTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    private string Noop => Path.Combine(_fixture.PluginDirectory, "noop");

    private Dictionary<string, string> CniEnvironment(string scriptPath) => new(StringComparer.Ordinal)
    {
        ["CNI_COMMAND"] = "ADD",
        ["CNI_CONTAINERID"] = "ctr-1",
        ["CNI_NETNS"] = "/var/run/netns/ns-1",
        ["CNI_IFNAME"] = "eth7",
        ["CNI_ARGS"] = "DEBUG=" + scriptPath,
        ["CNI_PATH"] = _fixture.PluginDirectory + ":/opt/cni/bin",
    };

    private byte[] Stdin(string cniVersion = "1.0.0") =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["cniVersion"] = cniVersion,
            ["name"] = "net",
            ["type"] = "noop",
            ["commandLog"] = _fixture.LogFile,
            ["big"] = 12345678901234567890m,
            ["nested"] = new JsonObject { ["a"] = new JsonArray(1, "b") },
        }.ToJsonString());

    private async Task<PluginProcessResult> RunAsync(string scriptJson, ProcessPluginExecutorOptions? options = null, Dictionary<string, string>? environment = null)
    {
        var script = _fixture.WriteScript("script.json", scriptJson);
        var executor = new ProcessPluginExecutor(options);
        return await executor.ExecuteAsync(new PluginInvocation(Noop, Stdin(), environment ?? CniEnvironment(script)), CancellationToken.None);
    }

    [Fact(Timeout = 10_000)]
    public async Task Stdin_reaches_the_plugin_and_is_closed_and_stdout_is_returned()
    {
        var result = await RunAsync("{}");

        // The plugin reads stdin to EOF before answering: had stdin stayed open, it would still be waiting.
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("""{"cniVersion":"1.0.0"}""", Encoding.UTF8.GetString(result.Stdout.Span));
        Assert.False(result.StdoutTruncated);
        Assert.Equal(string.Empty, result.Stderr);
        var call = Assert.Single(_fixture.ReadLog());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Stdin()), call["stdin"]), call["stdin"]!.ToJsonString());
    }

    [Fact(Timeout = 10_000)]
    public async Task The_plugin_gets_the_six_CNI_variables()
    {
        var script = _fixture.WriteScript("script.json", "{}");

        await RunAsync("{}");

        var call = Assert.Single(_fixture.ReadLog());
        Assert.Equal("ADD", (string?)call["command"]);
        Assert.Equal("ctr-1", (string?)call["containerId"]);
        Assert.Equal("/var/run/netns/ns-1", (string?)call["netns"]);
        Assert.Equal("eth7", (string?)call["ifName"]);
        Assert.Equal("DEBUG=" + script, (string?)call["args"]);
        Assert.Equal(_fixture.PluginDirectory + ":/opt/cni/bin", (string?)call["path"]);
        Assert.Equal(TestPluginFixture.MarkerValue, (string?)call["env"]![TestPluginFixture.MarkerVariable]);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_minimal_environment_passes_only_PATH_and_the_invocations_variables()
    {
        var script = _fixture.WriteScript("script.json", "{}");
        var environment = CniEnvironment(script);
        environment["TRACEPARENT"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

        await RunAsync("{}", new ProcessPluginExecutorOptions { InheritEnvironment = false }, environment);

        var env = Assert.Single(_fixture.ReadLog())["env"]!.AsObject();
        Assert.False(env.ContainsKey(TestPluginFixture.MarkerVariable)); // set in this process, not passed on
        Assert.Equal("ctr-1", (string?)env["CNI_CONTAINERID"]);
        Assert.Equal(environment["TRACEPARENT"], (string?)env["TRACEPARENT"]);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_CNI_variables_are_set_even_when_their_values_are_empty()
    {
        var script = _fixture.WriteScript("script.json", "{}");
        var environment = CniEnvironment(script);
        environment["CNI_CONTAINERID"] = string.Empty;
        environment["CNI_NETNS"] = string.Empty;
        environment["CNI_IFNAME"] = string.Empty;
        environment["CNI_PATH"] = string.Empty;

        await RunAsync("{}", environment: environment);

        var env = Assert.Single(_fixture.ReadLog())["env"]!.AsObject();
        Assert.Equal(
            ["CNI_ARGS", "CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS", "CNI_PATH", TestPluginFixture.InheritedCniVariable],
            env.Select(p => p.Key).Where(k => k.StartsWith("CNI_", StringComparison.Ordinal)).ToArray());
        Assert.Equal(string.Empty, (string?)env["CNI_CONTAINERID"]);
        Assert.Equal(string.Empty, (string?)env["CNI_NETNS"]);
        Assert.Equal(string.Empty, (string?)env["CNI_IFNAME"]);
        Assert.Equal(string.Empty, (string?)env["CNI_PATH"]);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_runtime_environment_is_inherited_and_CNI_values_of_the_invocation_win_over_inherited_ones()
    {
        var script = _fixture.WriteScript("script.json", "{}");
        var environment = CniEnvironment(script);
        environment[TestPluginFixture.InheritedCniVariable] = "from-the-invocation";

        await RunAsync("{}", environment: environment);

        var env = Assert.Single(_fixture.ReadLog())["env"]!.AsObject();
        Assert.Equal(TestPluginFixture.MarkerValue, (string?)env[TestPluginFixture.MarkerVariable]);
        Assert.Equal("from-the-invocation", (string?)env[TestPluginFixture.InheritedCniVariable]);
        Assert.Equal(TestPluginFixture.InheritedCniValue, Environment.GetEnvironmentVariable(TestPluginFixture.InheritedCniVariable));
    }

    [Fact(Timeout = 10_000)]
    public async Task Stderr_and_the_exit_code_are_kept_with_whatever_stdout_held()
    {
        var result = await RunAsync("""{"stderr":"some stderr message\n","rawStdout":"partial","exitCode":42}""");

        Assert.Equal(42, result.ExitCode);
        Assert.Equal("some stderr message\n", result.Stderr);
        Assert.Equal("partial", Encoding.UTF8.GetString(result.Stdout.Span));
        Assert.False(result.StdoutTruncated);
    }

    [Fact(Timeout = 10_000)]
    public async Task Stderr_is_capped()
    {
        var result = await RunAsync("""{"stderr":"0123456789abcdefghijklmnopqrstuvwxyz"}""", new ProcessPluginExecutorOptions { MaxStderrBytes = 10 });

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("0123456789", result.Stderr);
    }

    [Fact(Timeout = 10_000)]
    public async Task Stdout_over_the_cap_is_truncated_to_the_cap_and_the_plugin_is_drained_to_its_end()
    {
        var watch = Stopwatch.StartNew();

        var result = await RunAsync("""{"stdoutBytes":4194304,"exitCode":3}""", new ProcessPluginExecutorOptions { MaxStdoutBytes = 1000 });

        Assert.True(result.StdoutTruncated);
        Assert.Equal(1000, result.Stdout.Length);
        Assert.All(result.Stdout.ToArray(), b => Assert.Equal((byte)'x', b));
        Assert.Equal(3, result.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact(Timeout = 10_000)]
    public async Task Stdout_of_exactly_the_cap_is_not_truncated()
    {
        var result = await RunAsync("""{"stdoutBytes":1000}""", new ProcessPluginExecutorOptions { MaxStdoutBytes = 1000 });

        Assert.False(result.StdoutTruncated);
        Assert.Equal(1000, result.Stdout.Length);
    }

    private string MakeUnstartable(string kind)
    {
        var path = Path.Combine(_fixture.Root, kind);
        switch (kind)
        {
            case "garbage":
                File.WriteAllBytes(path, [0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0xff, 0xfe, 0x13, 0x37]);
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                break;
            case "not-executable":
                File.WriteAllText(path, "#!/bin/sh\necho hi\n");
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
        }

        return path;
    }

    [Theory(Timeout = 10_000)]
    [InlineData("garbage")]
    [InlineData("not-executable")]
    [InlineData("missing")]
    [InlineData("directory")]
    public async Task A_plugin_that_cannot_be_started_fails_with_an_execution_error_naming_the_path(string kind)
    {
        var path = MakeUnstartable(kind);
        var executor = new ProcessPluginExecutor();

        var error = await Assert.ThrowsAsync<CniPluginExecutionException>(
            () => executor.ExecuteAsync(new PluginInvocation(path, Stdin(), CniEnvironment("unused")), CancellationToken.None));

        Assert.StartsWith($"failed to start plugin {path}: ", error.Message, StringComparison.Ordinal);
        Assert.Equal(path, error.PluginPath);
        Assert.Null(error.ExitCode);
        Assert.Equal(CniErrorCode.Unknown, error.Code);
    }

    // The operating system's own reason, not a wrapper's generic one ("Target file or working directory doesn't exist, ...").
    [Theory(Timeout = 10_000)]
    [InlineData("garbage", "Exec format error")]
    [InlineData("not-executable", "Permission denied")]
    [InlineData("missing", "No such file or directory")]
    [InlineData("directory", "should not be a directory unless UseShellExecute is set.")]
    public async Task A_start_failure_names_the_operating_systems_reason(string kind, string reason)
    {
        var path = MakeUnstartable(kind);
        var executor = new ProcessPluginExecutor();

        var error = await Assert.ThrowsAsync<CniPluginExecutionException>(
            () => executor.ExecuteAsync(new PluginInvocation(path, Stdin(), CniEnvironment("unused")), CancellationToken.None));

        Assert.EndsWith(reason, error.Message, StringComparison.Ordinal);
    }
}
