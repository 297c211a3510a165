using CniRuntime.IntegrationTests.Infrastructure;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Reliability;

/// <summary>Two cnirt processes racing on one sandbox: one wins, the other fails cleanly, the state stays whole.</summary>
[Trait("Category", "Integration")]
[Collection(Ports.NetfilterTests.Name)]
public sealed class RaceTests : IAsyncLifetime
{
    private CnirtWorld _world = null!;

    public async Task InitializeAsync() => _world = await CnirtWorld.CreateAsync("race");

    public async Task DisposeAsync() => await _world.DisposeAsync();

    [IntegrationFact]
    public async Task Two_processes_setting_up_and_tearing_down_the_same_sandbox_never_corrupt_it()
    {
        for (var round = 0; round < 5; round++)
        {
            var name = $"race-{round}";
            string[] run = ["run", "--name", name, "--network", _world.Network, "-p", "18181:80"];
            var runs = await Task.WhenAll(_world.Cnirt(run), _world.Cnirt(run));

            Assert.Single(runs, r => r.ExitCode == 0);
            var loser = Assert.Single(runs, r => r.ExitCode != 0);
            Assert.Contains($"sandbox name \"{name}\" is already used by sandbox", loser.Stderr, StringComparison.Ordinal);
            Assert.Single(await BridgePortsAsync(_world.Bridge));
            var inspect = await _world.Cnirt("inspect", name);
            Assert.True(inspect.ExitCode == 0, inspect.ToString());

            var removals = await Task.WhenAll(_world.Cnirt("rm", "--force", name), _world.Cnirt("rm", "--force", name));

            Assert.All(removals, r => Assert.True(r.ExitCode == 0, r.ToString()));
            Assert.Single(removals, r => r.Stdout == name + "\n"); // one removed it, the other found it gone
            Assert.Single((await _world.Cnirt("ls")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the header
            await _world.AssertNothingLeftAsync();
        }
    }
}
