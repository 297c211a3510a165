using CniRuntime.Namespaces;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Namespaces;

/// <summary>What needs no privilege: names, paths, the checks that refuse before any system call, and reading namespaces.</summary>
public sealed class NetworkNamespacesTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly NetworkNamespaces _namespaces;

    public NetworkNamespacesTests()
    {
        _namespaces = new NetworkNamespaces(_dir.Path + "/");
    }

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, bool> Names => new()
    {
        { "ns1", true },
        { "cni-1234-abcd", true },
        { "with space", true },
        { "ünïcødé", true },
        { new string('a', 255), true },
        { new string('a', 256), false },
        { new string('é', 127), true },   // 254 bytes
        { new string('é', 128), false },  // 256 bytes
        { "", false },
        { ".", false },
        { "..", false },
        { "...", true },
        { "a/b", false },
        { "/abs", false },
        { "nul\0byte", false },
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Names_follow_iproute2s_rules(string name, bool valid) => Assert.Equal(valid, NetworkNamespaces.IsValidName(name));

    [Fact]
    public void The_directory_is_absolute_without_a_trailing_separator()
    {
        Assert.Equal(_dir.Path, _namespaces.Directory);
        Assert.Equal("/run/netns", new NetworkNamespaces().Directory);
    }

    [Theory]
    [InlineData("ns1", "{dir}/ns1")]
    [InlineData("/run/netns/other", "/run/netns/other")]
    [InlineData("/var/run/netns/../netns/x", "/var/run/netns/x")]
    [InlineData("/proc/1/ns/net", "/proc/1/ns/net")]
    public void A_name_resolves_into_the_directory_and_a_value_with_a_slash_is_a_path(string nameOrPath, string expected) =>
        Assert.Equal(expected.Replace("{dir}", _dir.Path, StringComparison.Ordinal), _namespaces.GetPath(nameOrPath));

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    public void An_invalid_name_is_refused_with_code_8(string name)
    {
        var error = Assert.Throws<NetworkNamespaceException>(() => _namespaces.GetPath(name));

        Assert.Equal(NetworkNamespaceError.InvalidName, error.Error);
        Assert.Equal(CniErrorCode.InvalidNetworkNamespace, error.Code);
        Assert.StartsWith($"invalid network namespace name \"{name}\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    public async Task Create_refuses_an_invalid_name_before_touching_anything(string name)
    {
        var missing = new NetworkNamespaces(_dir.Combine("not-created"));

        var error = await Assert.ThrowsAsync<NetworkNamespaceException>(() => missing.CreateAsync(name));

        Assert.Equal(NetworkNamespaceError.InvalidName, error.Error);
        Assert.False(Directory.Exists(missing.Directory));
    }

    [Fact]
    public async Task Create_honours_a_cancelled_token_before_it_starts()
    {
        var missing = new NetworkNamespaces(_dir.Combine("not-created"));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => missing.CreateAsync("ns", new CancellationToken(canceled: true)));

        Assert.False(Directory.Exists(missing.Directory));
    }

    [Fact]
    public async Task Delete_refuses_a_path_outside_the_directory_and_leaves_it()
    {
        using var other = new TempDirectory();
        var victim = other.File("victim", "keep");

        var error = await Assert.ThrowsAsync<NetworkNamespaceException>(() => _namespaces.DeleteAsync(victim));
        var sneaky = await Assert.ThrowsAsync<NetworkNamespaceException>(() => _namespaces.DeleteAsync(_dir.Path + "/../" + Path.GetFileName(other.Path) + "/victim"));

        Assert.Equal(NetworkNamespaceError.OutsideDirectory, error.Error);
        Assert.Equal(NetworkNamespaceError.OutsideDirectory, sneaky.Error);
        Assert.Equal(CniErrorCode.InvalidNetworkNamespace, error.Code);
        Assert.Equal($"refusing to delete \"{victim}\": it is not in the network namespace directory {_dir.Path}", error.Message);
        Assert.True(File.Exists(victim));
    }

    [Fact]
    public async Task Delete_of_a_missing_namespace_succeeds()
    {
        await _namespaces.DeleteAsync("never-created");
        await _namespaces.DeleteAsync(_dir.Combine("never-created"));
        await new NetworkNamespaces(_dir.Combine("no-such-dir")).DeleteAsync("never-created");
    }

    [Fact]
    public async Task Delete_removes_an_unmounted_leftover_file()
    {
        var leftover = _dir.File("leftover", string.Empty);

        await _namespaces.DeleteAsync("leftover");

        Assert.False(File.Exists(leftover));
    }

    [Fact]
    public void A_missing_namespace_does_not_exist_and_opening_it_fails_with_code_8()
    {
        var path = _dir.Combine("missing");

        var error = Assert.Throws<NetworkNamespaceException>(() => _namespaces.Open("missing"));

        Assert.False(_namespaces.Exists("missing"));
        Assert.False(_namespaces.Exists(path));
        Assert.Equal(NetworkNamespaceError.NotFound, error.Error);
        Assert.Equal(CniErrorCode.InvalidNetworkNamespace, error.Code);
        Assert.Equal($"network namespace \"{path}\" does not exist", error.Message);
    }

    [Fact]
    public void A_regular_file_or_a_directory_is_not_a_network_namespace()
    {
        var file = _dir.File("plain", "text");
        Directory.CreateDirectory(_dir.Combine("subdir"));

        var fileError = Assert.Throws<NetworkNamespaceException>(() => _namespaces.Open("plain"));
        var dirError = Assert.Throws<NetworkNamespaceException>(() => _namespaces.Open("subdir"));

        Assert.Equal(NetworkNamespaceError.NotNetworkNamespace, fileError.Error);
        Assert.Equal(NetworkNamespaceError.NotNetworkNamespace, dirError.Error);
        Assert.StartsWith($"\"{file}\" is not a network namespace", fileError.Message, StringComparison.Ordinal);
        Assert.False(_namespaces.Exists("plain"));
        Assert.Empty(_namespaces.List());
    }

    [Fact]
    public void Exists_is_false_for_invalid_names_and_for_other_namespace_types()
    {
        Assert.False(_namespaces.Exists(""));
        Assert.False(_namespaces.Exists(".."));
        Assert.False(_namespaces.Exists("/proc/self/ns/uts"));
        Assert.True(_namespaces.Exists("/proc/self/ns/net"));
    }

    [Fact]
    public void The_own_namespace_opens_by_process_with_the_inode_proc_shows()
    {
        var link = new FileInfo("/proc/self/ns/net").LinkTarget;

        using var byProcess = NetworkNamespaces.OpenByProcess(Environment.ProcessId);
        using var byPath = _namespaces.Open("/proc/thread-self/ns/net");

        Assert.Equal(link, byProcess.ToString());
        Assert.True(byProcess.IsSameNamespace(byPath));
        Assert.False(byProcess.Handle.IsInvalid);
    }

    [Fact]
    public void Another_namespace_type_is_named_in_the_error()
    {
        var error = Assert.Throws<NetworkNamespaceException>(() => _namespaces.Open("/proc/self/ns/uts"));

        Assert.Equal(NetworkNamespaceError.NotNetworkNamespace, error.Error);
        Assert.Equal("\"/proc/self/ns/uts\" is not a network namespace: it is a uts namespace", error.Message);
    }

    [Fact]
    public void List_of_a_missing_directory_is_empty() => Assert.Empty(new NetworkNamespaces(_dir.Combine("nothing")).List());
}
