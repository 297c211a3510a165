using System.Diagnostics;
using System.Globalization;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;
using Xunit.Abstractions;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Reliability;

/// <summary>
/// Many sandboxes on one bridge network, each publishing a port, set up and torn down 8 at a time, through the
/// library and through parallel cnirt processes: no failure, no address twice, and nothing left afterwards.
/// <c>CNIRT_LOAD_SANDBOXES</c> sets the count (40 by default; tools/reliability/load.sh runs 200).
/// </summary>
[Trait("Category", "Integration")]
[Collection(Ports.NetfilterTests.Name)]
public sealed class LoadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int AtATime = 8;
    private static readonly int Count = int.TryParse(Environment.GetEnvironmentVariable("CNIRT_LOAD_SANDBOXES"), CultureInfo.InvariantCulture, out var count) ? count : 40;
    private CnirtWorld _world = null!;

    public async Task InitializeAsync() => _world = await CnirtWorld.CreateAsync("load");

    public async Task DisposeAsync() => await _world.DisposeAsync();

    [IntegrationFact]
    public async Task Sandboxes_with_ports_through_the_library_eight_at_a_time_get_distinct_addresses_and_leave_nothing()
    {
        var manager = new SandboxManager(new SandboxManagerOptions
        {
            Cni = new CniClientOptions { PluginDirectories = [Prerequisites.PluginDirectory], CacheDirectory = _world.Node.CacheDirectory },
            ConfigDirectory = _world.ConfigDirectory,
        });
        var watch = Stopwatch.StartNew();
        var sandboxes = await EightAtATimeAsync(Enumerable.Range(0, Count), i => manager.SetupAsync(new SandboxRequest
        {
            Networks = [new SandboxNetworkRequest(_world.Network)],
            Capabilities = new CapabilityArgs { PortMappings = [new PortMapping(30_000 + i, 80)] },
        }));
        var setup = watch.Elapsed;

        Assert.Equal(Count, sandboxes.Select(s => s.Addresses.Single().Address.ToString()).Distinct().Count());
        Assert.Equal(Count, (await BridgePortsAsync(_world.Bridge)).Count);
        Assert.Equal(Count, (await RunAsync("nft", "list", "map", "ip", "cnirt", "hp_any")).Split("comment").Length - 1);

        watch.Restart();
        await EightAtATimeAsync(sandboxes, s => manager.TeardownAsync(s.Id));
        var teardown = watch.Elapsed;

        await _world.AssertNothingLeftAsync();
        Report("library", setup, teardown);
    }

    [IntegrationFact]
    public async Task Sandboxes_with_ports_through_parallel_cnirt_processes_get_distinct_addresses_and_leave_nothing()
    {
        var watch = Stopwatch.StartNew();
        var runs = await EightAtATimeAsync(Enumerable.Range(0, Count), i => _world.Cnirt("run", "--network", _world.Network, "-p", $"{31_000 + i}:80", "--json"));
        var setup = watch.Elapsed;

        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.ToString()));
        var started = runs.Select(r => System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement).ToList();
        var addresses = started.Select(s => s.GetProperty("interfaces").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "eth0").GetProperty("addresses")[0].GetProperty("address").GetString()).ToList();
        Assert.Equal(Count, addresses.Distinct().Count());

        watch.Restart();
        var removals = await EightAtATimeAsync(started, s => _world.Cnirt("rm", s.GetProperty("id").GetString()!));
        var teardown = watch.Elapsed;

        Assert.All(removals, r => Assert.True(r.ExitCode == 0, r.ToString()));
        await _world.AssertNothingLeftAsync();
        Report("cnirt processes", setup, teardown);
    }

    private static async Task<List<TResult>> EightAtATimeAsync<T, TResult>(IEnumerable<T> items, Func<T, Task<TResult>> action)
    {
        using var gate = new SemaphoreSlim(AtATime);
        return [.. await Task.WhenAll(items.Select(async item =>
        {
            await gate.WaitAsync();
            try
            {
                return await action(item);
            }
            finally
            {
                gate.Release();
            }
        }))];
    }

    private void Report(string how, TimeSpan setup, TimeSpan teardown) =>
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"load ({how}): {Count} sandboxes, {AtATime} at a time: setup {Count / setup.TotalSeconds:F1}/s, teardown {Count / teardown.TotalSeconds:F1}/s, both {Count / (setup + teardown).TotalSeconds:F1}/s"));
}
