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
    private readonly NetnsFixture _node = new();
    private string _confDir = string.Empty;
    private string _pluginDir = string.Empty;
    private string _scripts = string.Empty;
    private string _bridge = string.Empty;
    private string _network = string.Empty;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _confDir = _node.NewTempDirectory("conf");
        _pluginDir = _node.NewTempDirectory("bin");
        _scripts = _node.NewTempDirectory("scripts");
        File.CreateSymbolicLink(Path.Combine(_pluginDir, "stopper"), TestPluginBinary());
        _bridge = _node.NewBridgeName();
        _network = "crash" + NextUnique();
        var subnet = NewSubnet();
        var stoppers = Enumerable.Range(0, 3).Select(i => $$"""{ "type": "stopper", "debugFile": "{{Script(i)}}", "commandLog": "{{Log(i)}}" }""").ToList();
        await File.WriteAllTextAsync(Path.Combine(_confDir, "10-crash.conflist"), $$"""
            {
              "cniVersion": "1.0.0",
              "name": "{{_network}}",
              "plugins": [
                {{stoppers[0]}},
                {
                  "type": "bridge", "bridge": "{{_bridge}}", "isGateway": true, "ipMasq": false,
                  "ipam": { "type": "host-local", "dataDir": "{{_node.IpamDataDirectory}}", "ranges": [[{ "subnet": "{{subnet.Cidr}}" }]] }
                },
                {{stoppers[1]}},
                {{stoppers[2]}}
              ]
            }
            """);
        await ReleaseAllAsync();
    }

    public Task DisposeAsync() => _node.DisposeAsync();

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
            var run = await Cnirt("run", "--name", name, "--network", _network, "-p", "18080:80");
            Assert.True(run.ExitCode == 0, run.ToString());
        }

        await StopAtAsync(stopper, command);
        await KillWhenStoppedAsync(stopper, command, command == "ADD" ? ["run", "--name", name, "--network", _network, "-p", "18080:80"] : ["rm", name]);
        await ReleaseAllAsync();

        var recover = await Cnirt("recover");

        Assert.True(recover.ExitCode == 0, recover.ToString());
        Assert.Single(recover.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the sandbox's ID
        await AssertNothingLeftAsync();

        var again = await Cnirt("run", "--name", name, "--network", _network, "-p", "18080:80");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(0, (await Cnirt("rm", name)).ExitCode);
        await AssertNothingLeftAsync();
    }

    [IntegrationFact]
    public async Task A_cnitool_add_whose_cnirt_was_killed_is_undone_by_recover()
    {
        var netns = "crashns-" + NextUnique();
        Assert.Equal(0, (await Cnirt("netns", "add", netns)).ExitCode);
        try
        {
            await StopAtAsync(1, "ADD");
            await KillWhenStoppedAsync(1, "ADD", ["add", _network, "/run/netns/" + netns]);
            await ReleaseAllAsync();
            Assert.NotEmpty(await BridgePortsAsync(_bridge)); // the bridge plugin ran before the kill

            var recover = await Cnirt("recover");

            Assert.True(recover.ExitCode == 0, recover.ToString());
            await AssertNothingLeftAsync();
            var add = await Cnirt("add", _network, "/run/netns/" + netns);
            Assert.True(add.ExitCode == 0, add.ToString());
            Assert.Equal(0, (await Cnirt("del", _network, "/run/netns/" + netns)).ExitCode);
        }
        finally
        {
            await Cnirt("netns", "del", netns);
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
        foreach (var argument in CommonArguments().Concat(arguments))
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

    private async Task AssertNothingLeftAsync()
    {
        Assert.Empty(await BridgePortsWhenEmptyAsync(_bridge, TimeSpan.FromSeconds(10)));
        var reservations = Path.Combine(_node.IpamDataDirectory, _network);
        Assert.Empty(Directory.Exists(reservations)
            ? Directory.EnumerateFiles(reservations).Select(Path.GetFileName).Where(f => f is not ("lock" or "last_reserved_ip.0"))
            : []);
        foreach (var state in new[] { "results", "sandboxes", "portmap" })
        {
            var directory = Path.Combine(_node.CacheDirectory, state);
            Assert.Empty(Directory.Exists(directory) ? Directory.EnumerateFiles(directory).Where(f => !Path.GetFileName(f).StartsWith('.')) : []);
        }

        Assert.DoesNotContain(new CniRuntime.Namespaces.NetworkNamespaces().List(), n => n.StartsWith("cnirt-", StringComparison.Ordinal) && !n.StartsWith("cnirt-it-", StringComparison.Ordinal));
        Assert.DoesNotContain("18080", await RunAsync("nft", "list", "map", "ip", "cnirt", "hp_any").ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : string.Empty, TaskScheduler.Default), StringComparison.Ordinal);
    }

    private string[] CommonArguments() =>
        ["--cache-dir", _node.CacheDirectory, "--conf-dir", _confDir, "--cni-path", $"{_pluginDir}:{Prerequisites.PluginDirectory}"];

    private Task<ProcessRun> Cnirt(params string[] arguments) =>
        CnirtBinary.RunAsync(new Dictionary<string, string>(), [.. CommonArguments(), .. arguments]);

    private static string TestPluginBinary()
    {
        // AppContext.BaseDirectory is tests/CniRuntime.IntegrationTests/bin/<Configuration>/<tfm>/.
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfm.Parent!;
        var path = Path.Combine(configuration.Parent!.Parent!.Parent!.FullName, "CniRuntime.TestPlugin", "bin", configuration.Name, tfm.Name, "CniRuntime.TestPlugin");
        return File.Exists(path) ? path : throw new InvalidOperationException($"the test plugin is not built at {path}");
    }
}
