using System.Text;
using CniRuntime.Caching;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>
/// Go's libcni (Debian's golang-github-appc-cni-dev, driven by tests/interop/libcni-driver) and CniRuntime share a
/// cache directory: what one adds, the other deletes, with the real bridge plugin.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LibcniInteropTests : IAsyncLifetime
{
    private static readonly string Driver = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../interop/libcni-driver/bin/libcni-driver"));
    private readonly NetnsFixture _node = new();
    private string _bridge = string.Empty;
    private string _conflist = string.Empty;
    private Configuration.NetworkConfigList _list = null!;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _bridge = _node.NewBridgeName();
        _list = Conflists.Bridge("interop", _bridge, _node.IpamDataDirectory, NewSubnet());
        _conflist = Path.Combine(_node.NewTempDirectory("net.d"), "10-interop.conflist");
        await File.WriteAllBytesAsync(_conflist, _list.Bytes.ToArray());
    }

    public Task DisposeAsync() => _node.DisposeAsync();

    private static void RequireDriver()
    {
        Prerequisites.Require();
        Assert.True(File.Exists(Driver), $"{Driver} is missing: tests/interop/libcni-driver/build.sh builds it (tools/test.sh does)");
    }

    private async Task<string> LibcniAsync(string verb, string containerId, Netns netns)
    {
        var run = await ProcessRunner.RunAsync(Driver, [verb, _conflist, containerId, netns.Path, "eth0", _node.CacheDirectory], TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, $"libcni {verb} failed: {run.Stderr}");
        return run.Stdout;
    }

    private string[] Reservations() =>
        [.. Directory.EnumerateFiles(_node.IpamDataDirectory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).OfType<string>().Where(f => char.IsAsciiDigit(f[0]))];

    [IntegrationFact]
    public async Task An_attachment_added_by_libcni_is_checked_and_deleted_by_CniRuntime()
    {
        RequireDriver();
        var netns = await _node.AddNamespaceAsync();
        var containerId = NewContainerId();
        await LibcniAsync("add", containerId, netns);
        var client = _node.CreateClient();
        var runtime = new RuntimeConfig { ContainerId = containerId, NetworkNamespace = netns.Path, Args = [new("IgnoreUnknown", "1")] };

        var cached = await client.GetCachedResultAsync(_list, runtime);
        await client.CheckNetworkListAsync(_list, runtime);
        await client.DeleteNetworkListAsync(_list, runtime);

        Assert.NotNull(cached);
        Assert.Null(await FindLinkAsync(netns, "eth0"));
        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Empty(Reservations());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
    }

    [IntegrationFact]
    public async Task An_attachment_added_by_CniRuntime_is_checked_and_deleted_by_libcni()
    {
        RequireDriver();
        var netns = await _node.AddNamespaceAsync();
        var containerId = NewContainerId();
        var client = _node.CreateClient();
        await client.AddNetworkListAsync(_list, new RuntimeConfig { ContainerId = containerId, NetworkNamespace = netns.Path, Args = [new("IgnoreUnknown", "1")] });

        await LibcniAsync("check", containerId, netns);
        await LibcniAsync("del", containerId, netns);

        Assert.Null(await FindLinkAsync(netns, "eth0"));
        Assert.Empty(await BridgePortsAsync(_bridge));
        Assert.Empty(Reservations());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
    }

    [IntegrationFact]
    public async Task A_cache_file_written_by_libcni_is_written_back_byte_for_byte()
    {
        RequireDriver();
        var netns = await _node.AddNamespaceAsync();
        var containerId = NewContainerId();
        await LibcniAsync("add", containerId, netns);
        var cache = new ResultCache(_node.CacheDirectory);
        var path = cache.GetPath("interop", containerId, "eth0");
        var written = await File.ReadAllBytesAsync(path);

        var attachment = await cache.ReadAsync("interop", containerId, "eth0");

        Assert.NotNull(attachment);
        Assert.False(attachment.IsLegacy);
        Assert.Equal(containerId, attachment.ContainerId);
        Assert.Equal([new KeyValuePair<string, string>("IgnoreUnknown", "1")], attachment.CniArgs);
        Assert.Equal(_list.Bytes.ToArray(), attachment.Config.ToArray());
        Assert.Equal(Encoding.UTF8.GetString(written), Encoding.UTF8.GetString(ResultCache.Serialize(attachment)));
        await LibcniAsync("del", containerId, netns);
    }
}
