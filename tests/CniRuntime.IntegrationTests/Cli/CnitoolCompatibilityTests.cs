using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;

namespace CniRuntime.IntegrationTests.Cli;

/// <summary>The published cnirt binary as a drop-in for cnitool: arguments, environment, output, exit codes, cache.</summary>
[Trait("Category", "Integration")]
public sealed class CnitoolCompatibilityTests : IAsyncLifetime
{
    private readonly NetnsFixture _node = new();
    private string _confDir = string.Empty;
    private string _network = string.Empty;

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        _confDir = _node.NewTempDirectory("conf");
        _network = "cli" + NetnsFixture.NextUnique();
        var list = Conflists.Bridge(_network, _node.NewBridgeName(), _node.IpamDataDirectory, NetnsFixture.NewSubnet());
        await File.WriteAllBytesAsync(Path.Combine(_confDir, "10-cli.conflist"), list.Bytes.ToArray());
    }

    public Task DisposeAsync() => _node.DisposeAsync();

    [IntegrationFact]
    public async Task Add_check_del_use_cnitools_environment_output_and_cache()
    {
        var netns = await _node.AddNamespaceAsync();
        var environment = Environment(("CNI_IFNAME", "net1"), ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web"), ("CAP_ARGS", "{}"));

        var add = await Cnirt(environment, "add", _network, netns.Path);

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.StartsWith("{\n    \"cniVersion\": \"1.0.0\"", add.Stdout, StringComparison.Ordinal); // Result.Print: 4-space indent
        using (var result = JsonDocument.Parse(add.Stdout))
        {
            Assert.Contains(result.RootElement.GetProperty("interfaces").EnumerateArray(), i => i.GetProperty("name").GetString() == "net1");
        }

        var cacheFile = Path.Combine(_node.CacheDirectory, "results", $"{_network}-{CnitoolId(netns.Path)}-net1");
        using (var cached = JsonDocument.Parse(await File.ReadAllBytesAsync(cacheFile)))
        {
            Assert.Equal("cniCacheV1", cached.RootElement.GetProperty("kind").GetString());
            Assert.Equal("""[["IgnoreUnknown","1"],["K8S_POD_NAME","web"]]""", cached.RootElement.GetProperty("cniArgs").GetRawText());
        }

        Assert.NotNull(await NetnsFixture.FindLinkAsync(netns, "net1"));
        var check = await Cnirt(environment, "check", _network, netns.Path);
        Assert.Equal((0, string.Empty), (check.ExitCode, check.Stdout));

        var del = await Cnirt(environment, "del", _network, netns.Path);

        Assert.Equal((0, string.Empty, string.Empty), (del.ExitCode, del.Stdout, del.Stderr));
        Assert.False(File.Exists(cacheFile));
        Assert.Null(await NetnsFixture.FindLinkAsync(netns, "net1"));
    }

    [IntegrationFact]
    public async Task The_ifname_flag_wins_over_CNI_IFNAME_and_status_and_gc_print_nothing()
    {
        var netns = await _node.AddNamespaceAsync();
        var environment = Environment(("CNI_IFNAME", "net1"));

        var add = await Cnirt(environment, "add", _network, netns.Path, "-i", "net2");

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.NotNull(await NetnsFixture.FindLinkAsync(netns, "net2"));
        var status = await Cnirt(environment, "status", _network, netns.Path);
        Assert.Equal((0, string.Empty), (status.ExitCode, status.Stdout));
        var gc = await Cnirt(environment, "gc", _network, netns.Path);
        Assert.Equal((0, string.Empty), (gc.ExitCode, gc.Stdout));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_node.CacheDirectory, "results")));
        Assert.Null(await NetnsFixture.FindLinkAsync(netns, "net2"));
    }

    [IntegrationFact]
    public async Task An_attachment_added_by_the_library_in_libcnis_format_is_deleted_by_cnirt_and_back()
    {
        var netns = await _node.AddNamespaceAsync();
        var client = _node.CreateClient();
        var list = await Configuration.NetworkConfigLoader.LoadNetworkAsync(_confDir, _network);
        var runtime = new RuntimeConfig { ContainerId = CnitoolId(netns.Path), NetworkNamespace = netns.Path, InterfaceName = "eth0" };
        await client.AddNetworkListAsync(list, runtime);
        var cacheFile = new ResultCache(_node.CacheDirectory).GetPath(_network, runtime.ContainerId, "eth0");
        Assert.True(File.Exists(cacheFile));

        var del = await Cnirt(Environment(), "del", _network, netns.Path);

        Assert.True(del.ExitCode == 0, del.ToString());
        Assert.False(File.Exists(cacheFile));

        var add = await Cnirt(Environment(), "add", _network, netns.Path);
        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.NotNull(await client.GetCachedResultAsync(list, runtime));
        await client.DeleteNetworkListAsync(list, runtime);
        Assert.False(File.Exists(cacheFile));
    }

    [IntegrationFact]
    public async Task Libcni_adds_and_cnirt_deletes_with_the_same_cache_file_and_back()
    {
        var driver = Path.Combine(CnirtBinary.RepositoryRoot, "tests", "interop", "libcni-driver", "bin", "libcni-driver");
        Assert.True(File.Exists(driver), $"{driver} is missing: tests/interop/libcni-driver/build.sh builds it (tools/test.sh does)");
        var conflist = Path.Combine(_confDir, "10-cli.conflist");
        var netns = await _node.AddNamespaceAsync();
        var containerId = CnitoolId(netns.Path);
        var cacheFile = Path.Combine(_node.CacheDirectory, "results", $"{_network}-{containerId}-eth0");

        await NetnsFixture.RunAsync(driver, "add", conflist, containerId, netns.Path, "eth0", _node.CacheDirectory);
        var libcniBytes = await File.ReadAllBytesAsync(cacheFile);
        var del = await Cnirt(Environment(), "del", _network, netns.Path);

        Assert.True(del.ExitCode == 0, del.ToString());
        Assert.False(File.Exists(cacheFile));
        Assert.Null(await NetnsFixture.FindLinkAsync(netns, "eth0"));

        var add = await Cnirt(Environment(), "add", _network, netns.Path);
        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Equal(libcniBytes.Length > 0, File.Exists(cacheFile));
        await NetnsFixture.RunAsync(driver, "del", conflist, containerId, netns.Path, "eth0", _node.CacheDirectory);
        Assert.False(File.Exists(cacheFile));
        Assert.Null(await NetnsFixture.FindLinkAsync(netns, "eth0"));
    }

    [IntegrationTheory]
    [InlineData("bad", "invalid CNI_ARGS pair \"bad\"")]
    [InlineData("K=V=W", "invalid CNI_ARGS pair \"K=V=W\"")]
    public async Task A_bad_CNI_ARGS_is_one_line_on_stderr_and_exit_code_1(string cniArgs, string message)
    {
        var netns = await _node.AddNamespaceAsync();

        var add = await Cnirt(Environment(("CNI_ARGS", cniArgs)), "add", _network, netns.Path);

        Assert.Equal(1, add.ExitCode);
        Assert.Contains(message, add.Stderr, StringComparison.Ordinal);
        Assert.Single(add.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Equal(string.Empty, add.Stdout);
    }

    [IntegrationFact]
    public async Task A_missing_network_is_exit_code_1_and_a_missing_argument_exit_code_2()
    {
        var netns = await _node.AddNamespaceAsync();

        var missing = await Cnirt(Environment(), "add", "no-such-net", netns.Path);
        var usage = await Cnirt(Environment(), "add", _network);

        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no-such-net", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, usage.ExitCode);
    }

    [IntegrationFact]
    public async Task Global_flags_override_NETCONFPATH_and_CNI_PATH()
    {
        var netns = await _node.AddNamespaceAsync();
        var wrong = Environment(("NETCONFPATH", "/nonexistent"), ("CNI_PATH", "/nonexistent"));

        var add = await CnirtBinary.RunAsync(wrong, "--cache-dir", _node.CacheDirectory, "--conf-dir", _confDir, "--cni-path", Prerequisites.PluginDirectory, "add", _network, netns.Path);
        var del = await CnirtBinary.RunAsync(wrong, "--cache-dir", _node.CacheDirectory, "--conf-dir", _confDir, "--cni-path", Prerequisites.PluginDirectory, "del", _network, netns.Path);

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.True(del.ExitCode == 0, del.ToString());
    }

    private Dictionary<string, string> Environment(params (string Name, string Value)[] extra)
    {
        var environment = new Dictionary<string, string>
        {
            ["NETCONFPATH"] = _confDir,
            ["CNI_PATH"] = Prerequisites.PluginDirectory,
        };
        foreach (var (name, value) in extra)
        {
            environment[name] = value;
        }

        return environment;
    }

    private Task<ProcessRun> Cnirt(Dictionary<string, string> environment, params string[] arguments) =>
        CnirtBinary.RunAsync(environment, ["--cache-dir", _node.CacheDirectory, .. arguments]);

    private static string CnitoolId(string netnsPath) =>
        "cnitool-" + Convert.ToHexStringLower(SHA512.HashData(Encoding.UTF8.GetBytes(netnsPath)).AsSpan(0, 10));
}
