using System.Diagnostics;
using System.Net.NetworkInformation;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Namespaces;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Namespaces;

/// <summary>The library's namespaces against iproute2's, entering them, and every error it reports.</summary>
[Trait("Category", "Integration")]
public sealed class NetworkNamespacesTests : IAsyncLifetime
{
    private readonly NetnsFixture _fixture = new();
    private readonly NamespaceScratch _scratch = new();

    public async Task InitializeAsync()
    {
        await _fixture.InitializeAsync();
        await _scratch.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _scratch.DisposeAsync();
        await _fixture.DisposeAsync();
    }

    [IntegrationFact]
    public async Task Create_makes_a_namespace_ip_netns_lists_holding_only_lo()
    {
        Prerequisites.Require();
        var name = _scratch.NewSharedName();

        var path = await _scratch.Shared.CreateAsync(name);

        Assert.Equal("/run/netns/" + name, path);
        Assert.Contains(name, (await RunAsync(Prerequisites.Ip, "netns", "list")).Split('\n').Select(l => l.Split(' ')[0]));
        var links = await IpJsonAsync(new Netns(name), "link", "show");
        Assert.Equal(["lo"], links.Select(l => (string)l!["ifname"]!));
        Assert.True(_scratch.Shared.Exists(name));
        Assert.True(_scratch.Shared.Exists(path));
        Assert.Contains(name, _scratch.Shared.List());

        // It is a new namespace, not the test's own (the bind mount took the creating thread's, not the leader's).
        using var handle = _scratch.Shared.Open(name);
        Assert.NotEqual(NamespaceScratch.OriginalNamespace, handle.ToString());

        await _scratch.Shared.DeleteAsync(name);

        Assert.DoesNotContain(name, await RunAsync(Prerequisites.Ip, "netns", "list"));
        Assert.False(File.Exists(path));
        Assert.False(_scratch.Shared.Exists(name));
    }

    [IntegrationFact]
    public async Task A_namespace_made_by_ip_netns_add_is_opened_entered_and_deleted_by_the_library()
    {
        Prerequisites.Require();
        var netns = await _fixture.AddNamespaceAsync();

        using var handle = _scratch.Shared.Open(netns.Name);
        var inside = _scratch.Shared.Run(netns.Name, () => NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"));

        Assert.Equal(handle.ToString(), inside);
        Assert.NotEqual(NamespaceScratch.OriginalNamespace, inside);
        Assert.True(_scratch.Shared.Exists(netns.Path));
        Assert.Contains(netns.Name, _scratch.Shared.List());

        await _scratch.Shared.DeleteAsync(netns.Name);

        Assert.DoesNotContain(netns.Name, await RunAsync(Prerequisites.Ip, "netns", "list"));
        Assert.False(File.Exists(netns.Path));
    }

    [IntegrationFact]
    public async Task A_namespace_made_by_the_library_is_deleted_by_ip_netns_del()
    {
        Prerequisites.Require();
        var name = _scratch.NewSharedName();
        var path = await _scratch.Shared.CreateAsync(name);

        await RunAsync(Prerequisites.Ip, "netns", "del", name);

        Assert.False(File.Exists(path));
        Assert.False(_scratch.Shared.Exists(name));
    }

    [IntegrationFact]
    public async Task Run_adds_a_veth_pair_that_is_seen_inside_and_not_outside()
    {
        Prerequisites.Require();
        var name = _scratch.NewSharedName();
        await _scratch.Shared.CreateAsync(name);
        var ip = Prerequisites.Ip;

        var (exitCode, procDev, interfaces) = _scratch.Shared.Run(name, () =>
        {
            // A child forked from this thread runs in its namespace; no redirection, so nothing goes to the pool.
            using var process = Process.Start(new ProcessStartInfo(ip, ["link", "add", "cnirt-v0", "type", "veth", "peer", "name", "cnirt-v1"]) { UseShellExecute = false })!;
            process.WaitForExit();
            var dev = File.ReadAllLines("/proc/thread-self/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Order(StringComparer.Ordinal).ToList();
            var nics = NetworkInterface.GetAllNetworkInterfaces().Select(n => n.Name).Order(StringComparer.Ordinal).ToList();
            return (process.ExitCode, dev, nics);
        });

        Assert.Equal(0, exitCode);
        Assert.Equal(["cnirt-v0", "cnirt-v1", "lo"], procDev);
        Assert.Equal(["cnirt-v0", "cnirt-v1", "lo"], interfaces);
        Assert.Equal(["cnirt-v0", "cnirt-v1", "lo"], (await LinksAsync(new Netns(name))).Select(l => (string)l!["ifname"]!).Order(StringComparer.Ordinal));
        Assert.Null(await FindLinkAsync(null, "cnirt-v0"));
        Assert.Null(await FindLinkAsync(null, "cnirt-v1"));
        Assert.Equal(NamespaceScratch.OriginalNamespace, NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"));
    }

    [IntegrationFact]
    public async Task RunAsync_runs_inside_and_returns_on_a_thread_outside()
    {
        Prerequisites.Require();
        var path = await _scratch.Private.CreateAsync(NamespaceScratch.NewName());
        using var handle = _scratch.Private.Open(path);

        var inside = await _scratch.Private.RunAsync(path, () => NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"));

        Assert.Equal(handle.ToString(), inside);
        Assert.Equal(NamespaceScratch.OriginalNamespace, NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"));
    }

    [IntegrationFact]
    public async Task An_exception_from_the_action_reaches_the_caller_and_the_namespace_stays_usable()
    {
        Prerequisites.Require();
        var path = await _scratch.Private.CreateAsync(NamespaceScratch.NewName());
        var thrown = new InvalidOperationException("boom");

        var caught = Assert.Throws<InvalidOperationException>(() => _scratch.Private.Run(path, () => throw thrown));
        var caughtAsync = await Assert.ThrowsAsync<InvalidOperationException>(() => _scratch.Private.RunAsync<int>(path, () => throw thrown));

        Assert.Same(thrown, caught);
        Assert.Same(thrown, caughtAsync);
        Assert.Equal(42, _scratch.Private.Run(path, () => 42));
    }

    [IntegrationFact]
    public async Task A_fresh_directory_becomes_a_shared_mount_point()
    {
        Prerequisites.Require();
        var path = await _scratch.Private.CreateAsync(NamespaceScratch.NewName());

        var mountinfo = File.ReadAllLines("/proc/self/mountinfo");
        var directory = mountinfo.Select(l => l.Split(' ')).Where(f => f[4] == _scratch.PrivateDirectory).ToList();
        Assert.NotEmpty(directory);
        Assert.Contains(directory, f => f.Skip(6).TakeWhile(x => x != "-").Any(x => x.StartsWith("shared:", StringComparison.Ordinal)));
        var file = mountinfo.Select(l => l.Split(' ')).Single(f => f[4] == path);
        Assert.Equal("nsfs", file[Array.IndexOf(file, "-") + 1]);

        // A second create in the same directory finds it shared already.
        await _scratch.Private.CreateAsync(NamespaceScratch.NewName());
        Assert.Equal(2, _scratch.Private.List().Count);
    }

    [IntegrationFact]
    public async Task Creating_an_existing_name_fails_naming_the_path_and_leaves_the_namespace_alone()
    {
        Prerequisites.Require();
        var name = NamespaceScratch.NewName();
        var path = await _scratch.Private.CreateAsync(name);
        using var before = _scratch.Private.Open(path);

        var error = await Assert.ThrowsAsync<NetworkNamespaceException>(() => _scratch.Private.CreateAsync(name));

        Assert.Equal(NetworkNamespaceError.AlreadyExists, error.Error);
        Assert.Equal(CniErrorCode.InvalidNetworkNamespace, error.Code);
        Assert.Equal($"network namespace \"{path}\" already exists", error.Message);
        using var after = _scratch.Private.Open(path);
        Assert.True(before.IsSameNamespace(after));
    }

    [IntegrationFact]
    public async Task Concurrent_creates_of_one_name_yield_exactly_one_namespace()
    {
        Prerequisites.Require();
        var name = NamespaceScratch.NewName();
        await _scratch.Private.CreateAsync(NamespaceScratch.NewName()); // the directory exists and is shared

        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                await _scratch.Private.CreateAsync(name);
                return null;
            }
            catch (NetworkNamespaceException ex)
            {
                return (NetworkNamespaceError?)ex.Error;
            }
        }));

        Assert.Single(attempts, a => a is null);
        Assert.All(attempts.Where(a => a is not null), a => Assert.Equal(NetworkNamespaceError.AlreadyExists, a));
        Assert.True(_scratch.Private.Exists(name));
    }

    [IntegrationFact]
    public void Opening_or_entering_a_missing_namespace_fails_with_code_8()
    {
        Prerequisites.Require();
        var path = Path.Join(_scratch.PrivateDirectory, "missing");

        var open = Assert.Throws<NetworkNamespaceException>(() => _scratch.Private.Open("missing"));
        var run = Assert.Throws<NetworkNamespaceException>(() => _scratch.Private.Run("missing", () => { }));

        foreach (var error in new[] { open, run })
        {
            Assert.Equal(NetworkNamespaceError.NotFound, error.Error);
            Assert.Equal(CniErrorCode.InvalidNetworkNamespace, error.Code);
            Assert.Equal($"network namespace \"{path}\" does not exist", error.Message);
        }

        Assert.False(_scratch.Private.Exists("missing"));
    }

    [IntegrationFact]
    public async Task A_regular_file_or_another_namespace_type_is_not_a_network_namespace()
    {
        Prerequisites.Require();
        await _scratch.Private.CreateAsync(NamespaceScratch.NewName());
        var file = Path.Join(_scratch.PrivateDirectory, "plain");
        await File.WriteAllTextAsync(file, "not a namespace");

        var regular = Assert.Throws<NetworkNamespaceException>(() => _scratch.Private.Run(file, () => { }));
        var mount = Assert.Throws<NetworkNamespaceException>(() => _scratch.Private.Open("/proc/self/ns/mnt"));

        Assert.Equal(NetworkNamespaceError.NotNetworkNamespace, regular.Error);
        Assert.Equal(CniErrorCode.InvalidNetworkNamespace, regular.Code);
        Assert.StartsWith($"\"{file}\" is not a network namespace", regular.Message, StringComparison.Ordinal);
        Assert.Equal(NetworkNamespaceError.NotNetworkNamespace, mount.Error);
        Assert.Contains("mount namespace", mount.Message, StringComparison.Ordinal);
        Assert.False(_scratch.Private.Exists(file));
        Assert.False(_scratch.Private.Exists("/proc/self/ns/mnt"));
        Assert.True(_scratch.Private.Exists("/proc/self/ns/net"));
        Assert.DoesNotContain("plain", _scratch.Private.List());

        // Delete removes such a leftover (an interrupted create leaves an empty, unmounted file).
        await _scratch.Private.DeleteAsync("plain");
        Assert.False(File.Exists(file));
    }

    [IntegrationFact]
    public async Task Delete_refuses_a_path_outside_the_directory_and_accepts_a_missing_one()
    {
        Prerequisites.Require();
        var outside = Path.Join(_fixture.NewTempDirectory("ns"), "victim");
        await File.WriteAllTextAsync(outside, "keep me");

        var error = await Assert.ThrowsAsync<NetworkNamespaceException>(() => _scratch.Private.DeleteAsync(outside));
        await _scratch.Private.DeleteAsync("never-created");
        await _scratch.Private.DeleteAsync(Path.Join(_scratch.PrivateDirectory, "never-created"));

        Assert.Equal(NetworkNamespaceError.OutsideDirectory, error.Error);
        Assert.Contains(outside, error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(outside));
    }

    [IntegrationFact]
    public async Task A_handle_keeps_the_namespace_alive_after_delete()
    {
        Prerequisites.Require();
        var path = await _scratch.Private.CreateAsync(NamespaceScratch.NewName());
        using var handle = _scratch.Private.Open(path);

        await _scratch.Private.DeleteAsync(path);
        var inside = NetworkNamespaces.Run(handle, () => NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"));

        Assert.False(File.Exists(path));
        Assert.Equal(handle.ToString(), inside);
    }

    [IntegrationFact]
    public void OpenByProcess_gives_the_process_namespace()
    {
        Prerequisites.Require();
        using var own = NetworkNamespaces.OpenByProcess(Environment.ProcessId);

        Assert.Equal(NamespaceScratch.OriginalNamespace, own.ToString());
        Assert.Equal($"/proc/{Environment.ProcessId}/ns/net", own.Path);
        Assert.Throws<NetworkNamespaceException>(() => NetworkNamespaces.OpenByProcess(int.MaxValue));
    }
}
