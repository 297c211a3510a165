using CniRuntime.Caching;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Reliability;

/// <summary>
/// The cache directory on a full file system (a small tmpfs mounted in the test's private mount namespace): every
/// write fails cleanly, what was on disk stays intact, and nothing is created that could not be recorded.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FullDiskTests : IAsyncLifetime
{
    private readonly NetnsFixture _node = new();
    private string _disk = string.Empty;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _disk = _node.NewTempDirectory("disk");
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "cnirt-full-disk", _disk);
    }

    public async Task DisposeAsync()
    {
        await RunAsync("umount", "-l", _disk);
        await _node.DisposeAsync();
    }

    [IntegrationFact]
    public async Task A_full_disk_fails_the_write_keeps_the_old_file_and_lets_nothing_start_that_it_cannot_record()
    {
        var cache = new ResultCache(Path.Combine(_disk, "cache"));
        var old = new NetworkAttachment { ContainerId = "c1", NetworkName = "net", InterfaceName = "eth0", Config = "{}"u8.ToArray(), NetworkNamespace = "/run/netns/old" };
        await cache.WriteAsync(old);
        Fill();

        var error = await Assert.ThrowsAsync<CniException>(() => cache.WriteAsync(old with { Config = new byte[32 * 1024], NetworkNamespace = "/run/netns/new" }));

        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.Equal("/run/netns/old", (await cache.ReadAsync("net", "c1", "eth0"))!.NetworkNamespace);
        Assert.DoesNotContain(Directory.EnumerateFiles(cache.ResultsDirectory), f => f.EndsWith(".tmp", StringComparison.Ordinal));

        // A sandbox cannot record its plan, so no namespace is made and no plugin runs.
        var bridge = _node.NewBridgeName();
        var configs = _node.NewTempDirectory("conf");
        await File.WriteAllBytesAsync(Path.Combine(configs, "10.conflist"), Conflists.Bridge("full", bridge, _node.IpamDataDirectory, NewSubnet()).Bytes.ToArray());
        var manager = new SandboxManager(new SandboxManagerOptions
        {
            Cni = new CniClientOptions { PluginDirectories = [Prerequisites.PluginDirectory], CacheDirectory = cache.CacheDirectory },
            ConfigDirectory = configs,
            NamespacePrefix = "cnirt-it-full-",
        });

        await Assert.ThrowsAnyAsync<CniException>(() => manager.SetupAsync(new SandboxRequest { Networks = [new SandboxNetworkRequest("full")] }));

        Assert.Null(await FindLinkAsync(null, bridge));
        Assert.DoesNotContain(new CniRuntime.Namespaces.NetworkNamespaces().List(), n => n.StartsWith("cnirt-it-full-", StringComparison.Ordinal));
    }

    private void Fill()
    {
        using var filler = File.Create(Path.Combine(_disk, "filler"));
        var block = new byte[4096];
        try
        {
            while (true)
            {
                filler.Write(block);
                filler.Flush();
            }
        }
        catch (IOException)
        {
            // no space left on device
        }
    }
}
