using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CniRuntime.IntegrationTests.Cli;
using CniRuntime.IntegrationTests.Infrastructure;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Reliability;

/// <summary>
/// cnirt killed (SIGKILL) at many points of ADD and DEL, with Debian's bridge and host-local plugins between three
/// instances of the test plugin that stop where told; then <c>cnirt recover</c> must leave nothing behind (no link,
/// no address reservation, no cache, sandbox or port state file, no namespace, no DNAT element), and the same
/// sandbox must set up again.
/// </summary>
[Trait("Category", "Integration")]
[Collection(Ports.NetfilterTests.Name)]
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private readonly string _scripts = Directory.CreateTempSubdirectory("cnirt-stoppers-").FullName;
    private CnirtWorld _world = null!;

    public async Task InitializeAsync()
    {
        var plugins = Directory.CreateDirectory(Path.Combine(_scripts, "bin")).FullName;
        File.CreateSymbolicLink(Path.Combine(plugins, "stopper"), TestPluginBinary.Path);
        var stoppers = Enumerable.Range(0, 3).Select(i => $$"""{ "type": "stopper", "debugFile": "{{Script(i)}}", "commandLog": "{{Log(i)}}" }""").ToList();
        _world = await CnirtWorld.CreateAsync("crash", before: [stoppers[0]], after: [stoppers[1], stoppers[2]], extraPluginDirectory: plugins);
        await ReleaseAllAsync();
    }

    public async Task DisposeAsync()
    {
        await _world.DisposeAsync();
        Directory.Delete(_scripts, recursive: true);
    }

    public static TheoryData<string, int> Points => new()
    {
        { "ADD", 0 }, // the intent is recorded, nothing done yet
        { "ADD", 1 }, // the bridge plugin has made the veth and reserved an address
        { "ADD", 2 }, // the last plugin
        { "DEL", 2 }, // rm: DEL runs in reverse, nothing deleted yet
        { "DEL", 0 }, // rm: the bridge plugin has already deleted its part
    };

    [IntegrationTheory]
    [MemberData(nameof(Points))]
    public async Task A_sandbox_whose_cnirt_was_killed_is_recovered_and_can_be_set_up_again(string command, int stopper)
    {
        var name = "crash-" + NextUnique();
        if (command == "DEL")
        {
            var run = await _world.Cnirt("run", "--name", name, "--network", _world.Network, "-p", "18080:80");
            Assert.True(run.ExitCode == 0, run.ToString());
        }

        await StopAtAsync(stopper, command);
        await KillWhenStoppedAsync(stopper, command, command == "ADD" ? ["run", "--name", name, "--network", _world.Network, "-p", "18080:80"] : ["rm", name]);
        await ReleaseAllAsync();

        var recover = await _world.Cnirt("recover");

        Assert.True(recover.ExitCode == 0, recover.ToString());
        Assert.Single(recover.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the sandbox's ID
        await _world.AssertNothingLeftAsync();

        var again = await _world.Cnirt("run", "--name", name, "--network", _world.Network, "-p", "18080:80");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(0, (await _world.Cnirt("rm", name)).ExitCode);
        await _world.AssertNothingLeftAsync();
    }

    [IntegrationFact]
    public async Task A_cnitool_add_whose_cnirt_was_killed_is_undone_by_recover()
    {
        var netns = "crashns-" + NextUnique();
        Assert.Equal(0, (await _world.Cnirt("netns", "add", netns)).ExitCode);
        try
        {
            await StopAtAsync(1, "ADD");
            await KillWhenStoppedAsync(1, "ADD", ["add", _world.Network, "/run/netns/" + netns]);
            await ReleaseAllAsync();
            Assert.NotEmpty(await BridgePortsAsync(_world.Bridge)); // the bridge plugin ran before the kill

            var recover = await _world.Cnirt("recover");

            Assert.True(recover.ExitCode == 0, recover.ToString());
            await _world.AssertNothingLeftAsync();
            var add = await _world.Cnirt("add", _world.Network, "/run/netns/" + netns);
            Assert.True(add.ExitCode == 0, add.ToString());
            Assert.Equal(0, (await _world.Cnirt("del", _world.Network, "/run/netns/" + netns)).ExitCode);
        }
        finally
        {
            await _world.Cnirt("netns", "del", netns);
        }
    }

    private string Script(int stopper) => Path.Combine(_scripts, $"stopper{stopper}.json");

    private string Log(int stopper) => Path.Combine(_scripts, $"stopper{stopper}.log");

    private async Task StopAtAsync(int stopper, string command)
    {
        await File.WriteAllTextAsync(Script(stopper), $$"""{ "commands": { "{{command}}": { "delayMs": 120000 } } }""");
        File.Delete(Log(stopper));
    }

    private async Task ReleaseAllAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            await File.WriteAllTextAsync(Script(i), "{}");
        }
    }

    /// <summary>Starts cnirt, waits until the stopper has started the command, then kills cnirt and the stopper.</summary>
    private async Task KillWhenStoppedAsync(int stopper, string command, string[] arguments)
    {
        var start = new ProcessStartInfo(CnirtBinary.Path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in _world.CommonArguments.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var cnirt = Process.Start(start)!;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        int? pluginPid = null;
        while (pluginPid is null)
        {
            if (cnirt.HasExited)
            {
                Assert.Fail($"cnirt {string.Join(' ', arguments)} ended (exit {cnirt.ExitCode}) before stopper {stopper} got {command}: {await cnirt.StandardError.ReadToEndAsync()}");
            }

            Assert.True(DateTime.UtcNow < deadline, $"stopper {stopper} never got {command}");
            if (File.Exists(Log(stopper)))
            {
                foreach (var line in await File.ReadAllLinesAsync(Log(stopper)))
                {
                    using var call = JsonDocument.Parse(line);
                    if (call.RootElement.GetProperty("command").GetString() == command)
                    {
                        pluginPid = call.RootElement.GetProperty("pid").GetInt32();
                    }
                }
            }

            await Task.Delay(20);
        }

        cnirt.Kill(); // SIGKILL: no cleanup of any kind runs
        await cnirt.WaitForExitAsync();
        try
        {
            using var plugin = Process.GetProcessById(pluginPid.Value);
            plugin.Kill();
        }
        catch (ArgumentException)
        {
        }
    }
}
