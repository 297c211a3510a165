using CniRuntime.IntegrationTests.Cli;
using CniRuntime.IntegrationTests.Infrastructure;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Reliability;

/// <summary>Two cnirt processes racing on one sandbox: one wins, the other fails cleanly, the state stays whole.</summary>
[Trait("Category", "Integration")]
[Collection(Ports.NetfilterTests.Name)]
public sealed class RaceTests : IAsyncLifetime
{
    private readonly NetnsFixture _node = new();
    private string _confDir = string.Empty;
    private string _bridge = string.Empty;
    private string _network = string.Empty;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _confDir = _node.NewTempDirectory("conf");
        _bridge = _node.NewBridgeName();
        _network = "race" + NextUnique();
        await File.WriteAllBytesAsync(Path.Combine(_confDir, "10-race.conflist"), Conflists.Bridge(_network, _bridge, _node.IpamDataDirectory, NewSubnet()).Bytes.ToArray());
    }

    public Task DisposeAsync() => _node.DisposeAsync();

    [IntegrationFact]
    public async Task Two_processes_setting_up_and_tearing_down_the_same_sandbox_never_corrupt_it()
    {
        for (var round = 0; round < 5; round++)
        {
            var name = $"race-{round}";
            var runs = await Task.WhenAll(Cnirt("run", "--name", name, "--network", _network, "-p", "18181:80"), Cnirt("run", "--name", name, "--network", _network, "-p", "18181:80"));

            var winner = Assert.Single(runs, r => r.ExitCode == 0);
            var loser = Assert.Single(runs, r => r.ExitCode != 0);
            Assert.Contains($"sandbox name \"{name}\" is already used by sandbox", loser.Stderr, StringComparison.Ordinal);
            Assert.Single(await BridgePortsAsync(_bridge));
            var inspect = await Cnirt("inspect", name);
            Assert.True(inspect.ExitCode == 0, inspect.ToString());

            var removals = await Task.WhenAll(Cnirt("rm", "--force", name), Cnirt("rm", "--force", name));

            Assert.All(removals, r => Assert.True(r.ExitCode == 0, r.ToString()));
            Assert.Single(removals, r => r.Stdout == name + "\n"); // one removed it, the other found it gone
            Assert.Empty(await BridgePortsAsync(_bridge));
            Assert.Single((await Cnirt("ls")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the header
            Assert.True(winner.ExitCode == 0);
        }

        foreach (var state in new[] { "results", "sandboxes", "portmap" })
        {
            var directory = Path.Combine(_node.CacheDirectory, state);
            Assert.Empty(Directory.Exists(directory) ? Directory.EnumerateFiles(directory).Where(f => !Path.GetFileName(f).StartsWith('.')) : []);
        }
    }

    private Task<ProcessRun> Cnirt(params string[] arguments) =>
        CnirtBinary.RunAsync(new Dictionary<string, string>(), ["--cache-dir", _node.CacheDirectory, "--conf-dir", _confDir, "--cni-path", Prerequisites.PluginDirectory, .. arguments]);
}
