using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Sandboxes;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Sandboxes;

/// <summary>Sandboxes served by a watcher pick up configuration changes without a restart.</summary>
public sealed class WatchedConfigSourceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact(Timeout = 20000)]
    public async Task A_network_added_after_start_is_used_and_the_default_follows_file_names()
    {
        var configDirectory = _dir.Combine("net.d");
        await using var watcher = await NetworkConfigWatcher.StartAsync(configDirectory, new NetworkConfigWatcherOptions { PollInterval = null });
        var executor = new FakePluginExecutor();
        var cni = new CniClientOptions { PluginDirectories = [FakePluginExecutor.Directory], CacheDirectory = _dir.Combine("cache") };
        var manager = new SandboxManager(new SandboxManagerOptions { Cni = cni }, new FakeNetworkNamespaces(), new CniClient(cni, executor), new WatchedNetworkConfigSource(watcher));

        _dir.File("net.d/20-late.conflist", """{"cniVersion":"1.0.0","name":"late","plugins":[{"type":"noop"}]}""");
        _dir.File("net.d/10-early.conf", """{"cniVersion":"0.4.0","name":"early","type":"noop2"}""");
        _dir.File("net.d/00-broken.conflist", "{");
        await watcher.WaitUntilAsync(s => s.Networks.Count == 2 && s.Diagnostics.Count == 1, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);

        var byName = await manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("late")] });
        var byDefault = await manager.SetupAsync(new SandboxRequest());

        Assert.Equal("late", byName.Attachments.Single().NetworkName);
        Assert.Equal("early", byDefault.Attachments.Single().NetworkName);
        Assert.Equal(["ADD noop", "ADD noop2"], executor.Log);
    }
}
