using System.Text;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>
/// Go's libcni (Debian's golang-github-appc-cni-dev, driven by tests/interop/libcni-driver) and CniRuntime share a
/// cache directory: what one adds, the other deletes, with the real bridge plugin; for the same ADD both write the
/// same cache file, byte for byte.
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

    // Results the test plugin prints as the chain's first plugin (the second passes it through). Only what Debian's
    // libcni 1.1.2 holds, in which the cache file of libcni 1.2 and later is the same: no 1.1.0 fields, no empty
    // 1.x dns (1.1.2 writes "dns":{}, 1.2 leaves it out), no netns (1.2 added the field), no \b or \f in strings
    // (Go before 1.22 writes them as \u0008 and \u000c).
    private const string Result100 = """
        { "cniVersion": "1.0.0",
          "interfaces": [{ "name": "br-<&>", "mac": "0A:58:0A:16:00:01" }, { "name": "eth0", "mac": "0a:58:0a:16:00:05", "sandbox": "/run/netns/ü<x>" }],
          "ips": [{ "interface": 1, "address": "10.22.0.5/16", "gateway": "10.22.0.1" }, { "interface": 1, "address": "FD00:22:0::5/64" }],
          "routes": [{ "dst": "0.0.0.0/0", "gw": "10.22.0.1" }, { "dst": "fd00::/8" }],
          "dns": { "nameservers": ["10.96.0.10"], "domain": "cluster.local", "search": ["a<b>&c", "é.local\u2028"], "options": ["ndots:5"] } }
        """;

    private const string Result040 = """
        { "cniVersion": "0.4.0",
          "interfaces": [{ "name": "eth0", "sandbox": "/run/netns/x" }],
          "ips": [{ "version": "4", "interface": 0, "address": "10.22.0.6/16", "gateway": "10.22.0.1" }] }
        """;

    private const string CapabilityArgs = """
        { "portMappings": [{ "hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1" }],
          "bandwidth": { "ingressRate": 12345678901234567890, "ingressBurst": 1.5e-7, "egressRate": 1E3 },
          "zébra": { "b": [1, 2.50, { "z": "\u003c\u2029&", "a": null }], "a": true }, "Z": [] }
        """;

    [IntegrationTheory]
    [InlineData("1.0.0", Result100)]
    [InlineData("0.4.0", Result040)]
    public async Task For_the_same_ADD_CniRuntime_writes_byte_for_byte_the_cache_file_libcni_writes(string version, string result)
    {
        RequireDriver();
        var plugins = _node.NewTempDirectory("plugins");
        File.CreateSymbolicLink(Path.Combine(plugins, "noop"), TestPluginBinary.Path);
        var first = Path.Combine(plugins, "first.json");
        var second = Path.Combine(plugins, "second.json");
        await File.WriteAllTextAsync(first, $$"""{ "result": {{result}} }""");
        await File.WriteAllTextAsync(second, """{ "result": "PASSTHROUGH" }""");
        var conflist = Path.Combine(plugins, "net.conflist");
        await File.WriteAllTextAsync(conflist, $$$"""
            {"cniVersion":"{{{version}}}","name":"same","plugins":[
              {"type":"noop","debugFile":"{{{first}}}","capabilities":{"portMappings":true,"bandwidth":true}},
              {"type":"noop","debugFile":"{{{second}}}","note":"<&>\u00e9"}]}
            """);
        var containerId = NewContainerId();
        var libcniCache = _node.NewTempDirectory("libcni-cache");
        var cniRuntimeCache = _node.NewTempDirectory("cnirt-cache");
        var capabilities = JsonDocument.Parse(CapabilityArgs).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());

        var run = await ProcessRunner.RunAsync(
            Driver,
            ["add", conflist, containerId, string.Empty, "eth0", libcniCache],
            TimeSpan.FromMinutes(1),
            new Dictionary<string, string?> { ["CNI_PATH"] = plugins, ["CAP_ARGS"] = CapabilityArgs });
        Assert.True(run.ExitCode == 0, $"libcni add failed: {run.Stderr}");
        var client = new CniClient(new CniClientOptions { PluginDirectories = [plugins], CacheDirectory = cniRuntimeCache });
        await client.AddNetworkListAsync(
            await Configuration.NetworkConfigLoader.LoadFileAsync(conflist),
            new RuntimeConfig { ContainerId = containerId, Args = [new("IgnoreUnknown", "1")], CapabilityArgs = capabilities });

        var libcniFile = await File.ReadAllTextAsync(Path.Combine(libcniCache, "results", $"same-{containerId}-eth0"));
        var cniRuntimeFile = await File.ReadAllTextAsync(Path.Combine(cniRuntimeCache, "results", $"same-{containerId}-eth0"));
        Assert.Contains("\"capabilityArgs\":{\"Z\":[],\"bandwidth\":{", libcniFile, StringComparison.Ordinal);
        Assert.Equal(libcniFile, cniRuntimeFile);
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
