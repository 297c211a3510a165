using System.Text;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>
/// A plugin binary still open for writing (being copied into place) fails to exec with ETXTBSY: retried, and a
/// failure when it persists (libcni's fall-through reports success with empty output).
/// </summary>
public sealed class TextFileBusyTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string WriteScriptPlugin()
    {
        var path = _directory.Combine("busy-plugin");
        TestPluginFixture.WriteExecutable(path, "#!/bin/sh\ncat >/dev/null\necho \"busy-ok $CNI_COMMAND\"\n");
        return path;
    }

    private static FileStream HoldOpenForWriting(string path) =>
        new(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);

    private static PluginInvocation Invocation(string path) =>
        new(path, "{}"u8.ToArray(), new Dictionary<string, string> { ["CNI_COMMAND"] = "VERSION" });

    [Fact(Timeout = 20_000)]
    public async Task A_busy_binary_is_retried_until_it_is_released()
    {
        var path = WriteScriptPlugin();
        var writer = HoldOpenForWriting(path);
        var executor = new ProcessPluginExecutor(new ProcessPluginExecutorOptions { TextFileBusyRetries = 50, TextFileBusyDelay = TimeSpan.FromMilliseconds(20) });
        var release = Task.Run(async () =>
        {
            await Task.Delay(300);
            await writer.DisposeAsync();
        });

        var result = await executor.ExecuteAsync(Invocation(path), CancellationToken.None);
        await release;

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("busy-ok VERSION\n", Encoding.UTF8.GetString(result.Stdout.Span));
    }

    [Fact(Timeout = 20_000)]
    public async Task A_binary_that_stays_busy_fails_with_text_file_busy_after_the_retries()
    {
        var path = WriteScriptPlugin();
        await using var writer = HoldOpenForWriting(path);
        var executor = new ProcessPluginExecutor(new ProcessPluginExecutorOptions { TextFileBusyRetries = 2, TextFileBusyDelay = TimeSpan.FromMilliseconds(10) });

        var error = await Assert.ThrowsAsync<CniPluginExecutionException>(() => executor.ExecuteAsync(Invocation(path), CancellationToken.None));

        Assert.Equal($"failed to start plugin {path}: text file busy (still after 2 retries)", error.Message);
        Assert.Equal(path, error.PluginPath);
        Assert.Null(error.ExitCode);
    }

    [Fact(Timeout = 20_000)]
    public async Task Cancelling_while_waiting_to_retry_a_busy_binary_throws_OperationCanceledException()
    {
        var path = WriteScriptPlugin();
        await using var writer = HoldOpenForWriting(path);
        var executor = new ProcessPluginExecutor(new ProcessPluginExecutorOptions { TextFileBusyRetries = 1000, TextFileBusyDelay = TimeSpan.FromMilliseconds(50) });
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => executor.ExecuteAsync(Invocation(path), cancellation.Token));
    }
}
