using System.Diagnostics;
using CniRuntime.Caching;
using CniRuntime.Invocation;
using CniRuntime.Namespaces;
using CniRuntime.Networks;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Robustness;

/// <summary>
/// What lives under the cache directory is only ever CniRuntime's own: names never escape their directory,
/// planted links and special files are not followed or read, and files are private (0600 in 0700 directories).
/// </summary>
public sealed class FileSafetyTests : IDisposable
{
    private static readonly string[] HostileNames = ["../escape", "a/b", ".", "..", "", "x\0y", "/etc/passwd"];
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Names => [.. HostileNames];

    [Theory]
    [MemberData(nameof(Names))]
    public async Task A_name_that_would_become_a_path_outside_its_directory_is_refused_everywhere(string name)
    {
        var executor = new FakePluginExecutor();
        var client = new CniClient(new CniClientOptions { PluginDirectories = [FakePluginExecutor.Directory], CacheDirectory = _dir.Combine("cache") }, executor);
        var list = CniRuntime.Configuration.NetworkConfigList.Parse("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}"""u8);
        var runtime = new RuntimeConfig { ContainerId = "c1", NetworkNamespace = "/run/netns/x" };

        await Assert.ThrowsAnyAsync<CniException>(() => client.AddNetworkListAsync(list, runtime with { ContainerId = name }));
        await Assert.ThrowsAnyAsync<CniException>(() => client.AddNetworkListAsync(list, runtime with { InterfaceName = name }));
        await Assert.ThrowsAnyAsync<CniException>(() => client.AddNetworkListAsync(list with { Name = name }, runtime));
        Assert.ThrowsAny<CniException>(() => PluginLocator.Find(name, [_dir.Path]));
        await Assert.ThrowsAnyAsync<CniException>(() => new PortMapper(new PortMapperOptions { StateDirectory = _dir.Combine("ports") }).PublishAsync(name, [new PortMapping(80, 80)], [IpPrefix.Parse("10.0.0.2/24")], default));
        await Assert.ThrowsAnyAsync<CniException>(() => new NetworkNamespaces(_dir.Combine("netns")).CreateAsync(name));
        var manager = new SandboxManager(new SandboxManagerOptions { Cni = client.Options }, new FakeNetworkNamespaces(), client, new InMemoryNetworkConfigSource());
        await Assert.ThrowsAnyAsync<CniException>(() => manager.SetupAsync(new SandboxRequest { Id = name, Networks = [new SandboxNetworkRequest("net")] }));
        Assert.Empty(executor.Calls);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "escape")));
    }

    [Fact]
    public async Task A_link_planted_in_the_cache_is_neither_followed_nor_listed()
    {
        var cache = new ResultCache(_dir.Combine("cache"));
        Directory.CreateDirectory(cache.ResultsDirectory);
        var secret = _dir.File("secret", """{"kind":"cniCacheV1","containerId":"c1","networkName":"net","ifName":"eth0"}""");
        File.CreateSymbolicLink(Path.Combine(cache.ResultsDirectory, "net-c1-eth0"), secret);
        File.CreateSymbolicLink(Path.Combine(cache.ResultsDirectory, "net-c2-eth0"), "/dev/zero");

        var linked = await Assert.ThrowsAsync<CniCacheException>(() => cache.ReadAsync("net", "c1", "eth0"));
        var device = await Assert.ThrowsAsync<CniCacheException>(() => cache.ReadAsync("net", "c2", "eth0"));

        Assert.Contains("symbolic link", linked.Message, StringComparison.Ordinal);
        Assert.Contains("symbolic link", device.Message, StringComparison.Ordinal);
        Assert.Empty(await cache.ListAsync());
    }

    [Fact]
    public async Task A_fifo_planted_in_the_cache_reads_as_empty_instead_of_hanging()
    {
        var cache = new ResultCache(_dir.Combine("cache"));
        Directory.CreateDirectory(cache.ResultsDirectory);
        using (var mkfifo = Process.Start("mkfifo", Path.Combine(cache.ResultsDirectory, "net-c1-eth0")))
        {
            await mkfifo.WaitForExitAsync();
        }

        var error = await Assert.ThrowsAsync<CniCacheException>(() => cache.ReadAsync("net", "c1", "eth0")).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Contains("is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_link_planted_where_a_lock_file_goes_is_refused()
    {
        var cache = new ResultCache(_dir.Combine("cache"));
        Directory.CreateDirectory(cache.LocksDirectory);
        var target = _dir.Combine("created-through-the-link");
        File.CreateSymbolicLink(Path.Combine(cache.LocksDirectory, "net-c1-eth0"), target);

        var error = await Assert.ThrowsAsync<CniException>(() => cache.LockAsync("net", "c1", "eth0"));

        Assert.Contains("cannot open lock file", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task Every_file_is_0600_in_a_0700_directory()
    {
        var executor = new FakePluginExecutor();
        var options = new CniClientOptions { PluginDirectories = [FakePluginExecutor.Directory], CacheDirectory = _dir.Combine("cache") };
        var client = new CniClient(options, executor);
        var configs = new InMemoryNetworkConfigSource();
        configs.Add("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}""");
        var manager = new SandboxManager(new SandboxManagerOptions { Cni = options }, new FakeNetworkNamespaces(), client, configs, new FakePortMapper());

        await manager.SetupAsync(new SandboxRequest { Id = "sb1", Networks = [new SandboxNetworkRequest("net")] });

        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;
        var files = Directory.EnumerateFiles(_dir.Combine("cache"), "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => f.Contains("results", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains("sandboxes", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Equal(Private, File.GetUnixFileMode(f)));
        Assert.All(Directory.EnumerateDirectories(_dir.Combine("cache"), "*", SearchOption.AllDirectories), d => Assert.Equal(PrivateDirectory, File.GetUnixFileMode(d)));
    }

    [Fact]
    public async Task A_damaged_port_state_file_is_set_aside_and_the_other_publications_go_on()
    {
        var nft = _dir.File("nft", "#!/bin/sh\ncat > /dev/null\n");
        File.SetUnixFileMode(nft, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var state = _dir.Combine("ports");
        var mapper = new PortMapper(new PortMapperOptions { StateDirectory = state, Backend = PortMappingBackend.Nftables, NftPath = nft, ProbeHostListeners = false, ConntrackPath = null });
        await mapper.PublishAsync("good", [new PortMapping(8080, 80)], [IpPrefix.Parse("10.0.0.2/24")], default);
        await File.WriteAllTextAsync(Path.Combine(state, "damaged.json"), "{\"version\":1,\"sandboxId\":");
        File.CreateSymbolicLink(Path.Combine(state, "linked.json"), "/dev/zero");

        await mapper.PublishAsync("new", [new PortMapping(8081, 80)], [IpPrefix.Parse("10.0.0.3/24")], default);

        Assert.Equal(["good", "new"], (await mapper.ListAsync(default)).Select(p => p.SandboxId));
        Assert.True(File.Exists(Path.Combine(state, ".damaged.json.corrupt")));
        Assert.True(File.Exists(Path.Combine(state, ".linked.json.corrupt")) || new FileInfo(Path.Combine(state, ".linked.json.corrupt")).LinkTarget is not null);
    }
}
