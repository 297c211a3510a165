using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>How a failing plugin's output becomes an exception, end to end through <see cref="CniClient.AddNetworkListAsync"/>.</summary>
public sealed class PluginErrorInterpretationTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    private static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0" };

    private async Task<Exception> AddFailingAsync(string addScript)
    {
        var script = _fixture.WriteScript("script.json", "{\"commands\":{\"ADD\":" + addScript + "}}");
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", script));
        var client = _fixture.CreateClient(o => o with { TransientRetries = 0 });

        var error = await Assert.ThrowsAnyAsync<CniException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal(["ADD noop", "DEL noop"], _fixture.ReadCalls());
        return error;
    }

    [Fact(Timeout = 10_000)]
    public async Task A_JSON_error_becomes_a_plugin_exception_with_every_part_and_libcni_message()
    {
        var error = Assert.IsType<CniPluginException>(
            await AddFailingAsync("""{"error":"banana","errorCode":7,"errorDetails":"more about bananas","stderr":"a log line\n"}"""));

        Assert.Equal(CniErrorCode.InvalidNetworkConfig, error.Code);
        Assert.Equal("banana", error.ErrorMessage);
        Assert.Equal("more about bananas", error.Details);
        Assert.Equal(1, error.ExitCode);
        Assert.Equal("a log line\n", error.Stderr);
        Assert.Equal(Path.Combine(_fixture.PluginDirectory, "noop"), error.PluginPath);
        Assert.Equal("noop", error.PluginType);
        Assert.Equal("net", error.NetworkName);
        Assert.Equal("ADD", error.Command);
        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): banana; more about bananas", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_JSON_error_with_a_custom_code_and_no_details_keeps_the_code()
    {
        var error = Assert.IsType<CniPluginException>(await AddFailingAsync("""{"error":"quota exceeded","errorCode":107,"exitCode":5}"""));

        Assert.Equal((CniErrorCode)107, error.Code);
        Assert.Null(error.Details);
        Assert.Equal(5, error.ExitCode);
        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): quota exceeded", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Stderr_and_exit_1_with_empty_stdout_is_an_execution_error_quoting_stderr()
    {
        var error = Assert.IsType<CniPluginExecutionException>(await AddFailingAsync("""{"stderr":"some stderr message","rawStdout":"","exitCode":1}"""));

        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): netplugin failed: \"some stderr message\": exit status 1", error.Message);
        Assert.Equal(1, error.ExitCode);
        Assert.Equal("some stderr message", error.Stderr);
    }

    [Fact(Timeout = 10_000)]
    public async Task No_output_and_exit_1_is_an_execution_error_with_no_error_message()
    {
        var error = Assert.IsType<CniPluginExecutionException>(await AddFailingAsync("""{"rawStdout":"","exitCode":1}"""));

        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): netplugin failed with no error message: exit status 1", error.Message);
        Assert.Equal(1, error.ExitCode);
        Assert.Equal(string.Empty, error.Stderr);
    }

    [Fact(Timeout = 10_000)]
    public async Task Whitespace_only_stdout_counts_as_no_output()
    {
        var error = Assert.IsType<CniPluginExecutionException>(await AddFailingAsync("""{"rawStdout":" \n\t ","exitCode":2}"""));

        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): netplugin failed with no error message: exit status 2", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Garbage_stdout_and_exit_1_is_an_execution_error_quoting_the_output()
    {
        var error = Assert.IsType<CniPluginExecutionException>(await AddFailingAsync("""{"rawStdout":"I am not JSON","stderr":"why","exitCode":1}"""));

        Assert.StartsWith(
            "plugin type=\"noop\" name=\"net\" failed (add): netplugin failed but error parsing its diagnostic message \"I am not JSON\": ",
            error.Message,
            StringComparison.Ordinal);
        Assert.EndsWith("; exit status 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, error.ExitCode);
        Assert.Equal("why", error.Stderr);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_result_printed_with_a_failing_exit_code_is_not_taken_as_an_error_object()
    {
        var error = Assert.IsType<CniPluginExecutionException>(await AddFailingAsync("""{"exitCode":1}"""));

        Assert.Equal(
            "plugin type=\"noop\" name=\"net\" failed (add): netplugin failed but error parsing its diagnostic message \"{\"cniVersion\":\"1.0.0\"}\": not a CNI error object (no code, msg or details); exit status 1",
            error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Output_over_the_cap_is_refused_even_with_exit_0()
    {
        var script = _fixture.WriteScript("script.json", """{"commands":{"ADD":{"stdoutBytes":5000000}}}""");
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", script));
        var client = _fixture.CreateClient();

        var error = await Assert.ThrowsAsync<CniPluginExecutionException>(() => client.AddNetworkListAsync(list, Runtime));

        Assert.Equal("plugin type=\"noop\" name=\"net\" failed (add): plugin printed more than 4194304 bytes; output refused", error.Message);
        Assert.Equal(0, error.ExitCode);
    }
}
