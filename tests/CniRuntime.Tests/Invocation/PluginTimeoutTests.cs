using System.Diagnostics;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

// libcni's sleep-plugin tests: every operation on a plugin that hangs fails with a timeout within seconds and
// leaves no process behind. Split over several classes so xunit runs the slow tests in parallel.

/// <summary>Shared set-up of the timeout tests: a 1 s plugin timeout and a plugin that sleeps 60 s in one command.</summary>
internal static class HangingPlugin
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    public static readonly RuntimeConfig Runtime = new() { ContainerId = "ctr-1", NetworkNamespace = "/var/run/netns/ns-1", InterfaceName = "eth0" };

    public static string Script(TestPluginFixture fixture, string command, string extra = "") =>
        fixture.WriteScript("script.json", "{\"commands\":{\"" + command + "\":{\"delayMs\":60000" + extra + "}}}");

    public static CniClient Client(TestPluginFixture fixture) => fixture.CreateClient(o => o with { PluginTimeout = Timeout, TransientRetries = 0 });

    /// <summary>Runs <paramref name="action"/>, expecting <typeparamref name="T"/> within 5 s.</summary>
    public static async Task<T> FailsQuicklyAsync<T>(Func<Task> action)
        where T : Exception
    {
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<T>(action);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.True(watch.Elapsed >= Timeout - TimeSpan.FromMilliseconds(50), $"took only {watch.Elapsed}");
        return error;
    }

    public static void AssertTimeout(Exception exception, TestPluginFixture fixture, string type, string? network, string command)
    {
        var error = Assert.IsType<CniPluginTimeoutException>(exception);
        var path = Path.Combine(fixture.PluginDirectory, type);
        Assert.Equal(Timeout, error.Timeout);
        Assert.Equal(path, error.PluginPath);
        Assert.Null(error.ExitCode);
        Assert.Equal(type, error.PluginType);
        Assert.Equal(network, error.NetworkName);
        Assert.Equal(command, error.Command);
        var name = network is null ? string.Empty : $" name=\"{network}\"";
        Assert.Equal($"plugin type=\"{type}\"{name} failed ({(command == "DEL" ? "delete" : command.ToLowerInvariant())}): plugin {path} timed out after 1s and was killed", error.Message);
    }

    /// <summary>Every process that recorded <paramref name="command"/> is gone.</summary>
    public static async Task AssertKilledAsync(TestPluginFixture fixture, string command)
    {
        var pids = fixture.ReadLog().Where(c => (string?)c["command"] == command).Select(c => (int)c["pid"]!).ToList();
        Assert.NotEmpty(pids);
        foreach (var pid in pids)
        {
            Assert.True(await TestPluginFixture.WaitUntilDeadAsync(pid), $"plugin {pid} ({command}) is still running");
        }
    }
}

public sealed class PluginTimeoutAddAndDeleteTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_ADD_times_out_is_killed_and_is_rolled_back()
    {
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", HangingPlugin.Script(_fixture, "ADD")));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.AddNetworkListAsync(list, HangingPlugin.Runtime));

        HangingPlugin.AssertTimeout(error, _fixture, "noop", "net", "ADD");
        await HangingPlugin.AssertKilledAsync(_fixture, "ADD");
        Assert.Equal(["ADD noop", "DEL noop"], _fixture.ReadCalls());
        Assert.False(File.Exists(client.Cache.GetPath("net", "ctr-1", "eth0")));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_DEL_times_out_and_is_killed()
    {
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", HangingPlugin.Script(_fixture, "DEL")));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.DeleteNetworkListAsync(list, HangingPlugin.Runtime));

        HangingPlugin.AssertTimeout(error, _fixture, "noop", "net", "DEL");
        await HangingPlugin.AssertKilledAsync(_fixture, "DEL");
    }
}

public sealed class PluginTimeoutCheckAndStatusTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_CHECK_times_out_and_is_killed()
    {
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", HangingPlugin.Script(_fixture, "CHECK")));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.CheckNetworkListAsync(list, HangingPlugin.Runtime));

        HangingPlugin.AssertTimeout(error, _fixture, "noop", "net", "CHECK");
        await HangingPlugin.AssertKilledAsync(_fixture, "CHECK");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_STATUS_times_out_and_is_killed()
    {
        var list = TestPluginFixture.List("net", "1.1.0", _fixture.Plugin("noop", HangingPlugin.Script(_fixture, "STATUS")));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.GetStatusNetworkListAsync(list));

        HangingPlugin.AssertTimeout(error, _fixture, "noop", "net", "STATUS");
        await HangingPlugin.AssertKilledAsync(_fixture, "STATUS");
    }
}

public sealed class PluginTimeoutVersionAndValidateTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_VERSION_times_out_and_is_killed()
    {
        _fixture.AddScriptedPlugin("noop", HangingPlugin.Script(_fixture, "VERSION"));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.GetVersionInfoAsync("noop"));

        HangingPlugin.AssertTimeout(error, _fixture, "noop", null, "VERSION");
        await HangingPlugin.AssertKilledAsync(_fixture, "VERSION");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_VERSION_fails_validation_with_the_timeout_among_the_errors()
    {
        _fixture.AddScriptedPlugin("noop", HangingPlugin.Script(_fixture, "VERSION"));
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop"));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniAggregateException>(() => client.ValidateNetworkListAsync(list));

        HangingPlugin.AssertTimeout(Assert.Single(error.Errors), _fixture, "noop", null, "VERSION");
        await HangingPlugin.AssertKilledAsync(_fixture, "VERSION");
    }
}

public sealed class PluginTimeoutGcAndProcessTreeTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_GC_times_out_is_killed_and_is_reported_in_the_aggregate()
    {
        var list = TestPluginFixture.List("net", "1.1.0", _fixture.Plugin("noop", HangingPlugin.Script(_fixture, "GC")));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniAggregateException>(() => client.GcNetworkListAsync(list, new GcArgs([])));

        HangingPlugin.AssertTimeout(Assert.Single(error.Errors), _fixture, "noop", "net", "GC");
        await HangingPlugin.AssertKilledAsync(_fixture, "GC");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_timeout_kills_the_plugins_whole_process_tree()
    {
        var script = HangingPlugin.Script(_fixture, "ADD", ""","spawnGrandchild":true""");
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", script));
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.AddNetworkListAsync(list, HangingPlugin.Runtime));

        HangingPlugin.AssertTimeout(error, _fixture, "noop", "net", "ADD");
        var grandchild = _fixture.ReadGrandchildPid();
        Assert.NotNull(grandchild);
        Assert.True(await TestPluginFixture.WaitUntilDeadAsync(grandchild.Value), $"grandchild {grandchild} is still running");
        await HangingPlugin.AssertKilledAsync(_fixture, "ADD");
    }
}

public sealed class PluginTimeoutLeftoverOutputTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task A_plugin_that_exits_while_a_grandchild_keeps_its_stdout_open_does_not_hang_past_the_timeout()
    {
        // The plugin answers and exits at once; the sleep it started inherited stdout and stderr, so they never
        // reach EOF. Go's exec (and so libcni) waits forever here; the timeout must bound it.
        var script = _fixture.WriteScript("script.json", """{"commands":{"ADD":{"spawnGrandchild":true}}}""");
        var list = TestPluginFixture.List("net", "1.0.0", _fixture.Plugin("noop", script));
        var client = HangingPlugin.Client(_fixture);
        var watch = Stopwatch.StartNew();

        try
        {
            await client.AddNetworkListAsync(list, HangingPlugin.Runtime);
        }
        catch (CniPluginTimeoutException error)
        {
            HangingPlugin.AssertTimeout(error, _fixture, "noop", "net", "ADD");
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.NotNull(_fixture.ReadGrandchildPid());
    }
}

/// <summary>libcni's sleep cases for AddNetwork and CheckNetwork: the timeout is reported as it is, without the call's description.</summary>
public sealed class PluginTimeoutSinglePluginAddAndCheckTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new("noop");

    public void Dispose() => _fixture.Dispose();

    internal static PluginConfig Plugin(TestPluginFixture fixture, string command)
    {
        var plugin = fixture.Plugin("noop", HangingPlugin.Script(fixture, command));
        plugin["name"] = "net";
        plugin["cniVersion"] = "1.0.0";
        return PluginConfig.Parse(System.Text.Encoding.UTF8.GetBytes(plugin.ToJsonString()));
    }

    internal static void AssertTimeout(Exception exception, TestPluginFixture fixture, string? network, string command)
    {
        var error = Assert.IsType<CniPluginTimeoutException>(exception);
        var path = Path.Combine(fixture.PluginDirectory, "noop");
        Assert.Equal($"plugin {path} timed out after 1s and was killed", error.Message);
        Assert.Equal(("noop", network, command), (error.PluginType, error.NetworkName, error.Command));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_single_plugin_ADD_times_out_is_killed_and_is_rolled_back()
    {
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.AddNetworkAsync(Plugin(_fixture, "ADD"), HangingPlugin.Runtime));

        AssertTimeout(error, _fixture, "net", "ADD");
        await HangingPlugin.AssertKilledAsync(_fixture, "ADD");
        Assert.Equal(["ADD noop", "DEL noop"], _fixture.ReadCalls());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_single_plugin_CHECK_times_out_and_is_killed()
    {
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.CheckNetworkAsync(Plugin(_fixture, "CHECK"), HangingPlugin.Runtime));

        AssertTimeout(error, _fixture, "net", "CHECK");
        await HangingPlugin.AssertKilledAsync(_fixture, "CHECK");
    }
}

/// <summary>libcni's sleep cases for DelNetwork and ValidateNetwork.</summary>
public sealed class PluginTimeoutSinglePluginDeleteAndValidateTests : IDisposable
{
    private readonly TestPluginFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_single_plugin_DEL_times_out_and_is_killed()
    {
        _fixture.AddPlugin("noop");
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.DeleteNetworkAsync(PluginTimeoutSinglePluginAddAndCheckTests.Plugin(_fixture, "DEL"), HangingPlugin.Runtime));

        PluginTimeoutSinglePluginAddAndCheckTests.AssertTimeout(error, _fixture, "net", "DEL");
        await HangingPlugin.AssertKilledAsync(_fixture, "DEL");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_hanging_VERSION_fails_single_plugin_validation_with_the_timeout()
    {
        _fixture.AddScriptedPlugin("noop", HangingPlugin.Script(_fixture, "VERSION"));
        var plugin = PluginConfig.Parse("""{"cniVersion":"1.0.0","name":"net","type":"noop"}"""u8);
        var client = HangingPlugin.Client(_fixture);

        var error = await HangingPlugin.FailsQuicklyAsync<CniPluginTimeoutException>(() => client.ValidateNetworkAsync(plugin));

        PluginTimeoutSinglePluginAddAndCheckTests.AssertTimeout(error, _fixture, null, "VERSION");
        await HangingPlugin.AssertKilledAsync(_fixture, "VERSION");
    }
}
