using System.Diagnostics;
using System.Net.Sockets;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Invocation;

/// <summary>libcni's FindInPath checklist, item by item, and the stricter rules on what counts as a plugin.</summary>
public sealed class PluginLocatorTests : IDisposable
{
    private const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly TempDirectory _dir = new();

    public PluginLocatorTests()
    {
        First = Directory.CreateDirectory(_dir.Combine("first")).FullName;
        Second = Directory.CreateDirectory(_dir.Combine("second")).FullName;
    }

    private string First { get; }

    private string Second { get; }

    public void Dispose() => _dir.Dispose();

    private static string Plugin(string directory, string name = "noop", UnixFileMode mode = Executable)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, "#!/bin/sh\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static CniPluginNotFoundException NotFound(string type, IReadOnlyList<string> directories) =>
        Assert.Throws<CniPluginNotFoundException>(() => PluginLocator.Find(type, directories));

    [Fact]
    public void The_directories_are_searched_in_order_and_the_first_plugin_wins()
    {
        var first = Plugin(First);
        var second = Plugin(Second);

        Assert.Equal(first, PluginLocator.Find("noop", [First, Second]));
        Assert.Equal(second, PluginLocator.Find("noop", [Second, First]));
    }

    [Fact]
    public void A_plugin_only_in_a_later_directory_is_found_there()
    {
        var second = Plugin(Second);

        Assert.Equal(second, PluginLocator.Find("noop", [First, Second]));
    }

    [Fact]
    public void A_symbolic_link_to_an_executable_is_followed()
    {
        var target = Plugin(_dir.Path, "real-binary");
        var link = Path.Combine(First, "noop");
        File.CreateSymbolicLink(link, target);

        Assert.Equal(link, PluginLocator.Find("noop", [First]));
    }

    [Fact]
    public void No_directories_is_libcnis_no_paths_provided()
    {
        var error = NotFound("noop", []);

        Assert.Equal("no paths provided", error.Message);
        Assert.Equal("noop", error.RequestedType);
    }

    [Fact]
    public void An_empty_type_is_libcnis_no_plugin_name_provided()
    {
        Assert.Equal("no plugin name provided", NotFound(string.Empty, [First]).Message);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("/bin/sh")]
    [InlineData(".")]
    [InlineData("..")]
    public void A_type_that_is_not_a_plain_file_name_is_an_invalid_plugin_name(string type)
    {
        Assert.Equal($"invalid plugin name: {type}", NotFound(type, [First]).Message);
    }

    [Fact]
    public void A_missing_plugin_names_every_directory_searched_as_libcni_does()
    {
        var error = NotFound("noop", [First, Second]);

        Assert.Equal($"failed to find plugin \"noop\" in path [{First} {Second}]", error.Message);
        Assert.Equal([First, Second], error.SearchedDirectories);
    }

    [Fact]
    public void A_file_without_an_execute_bit_is_skipped_for_a_later_directory()
    {
        Plugin(First, mode: UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var second = Plugin(Second);

        Assert.Equal(second, PluginLocator.Find("noop", [First, Second]));
    }

    [Fact]
    public void A_file_without_an_execute_bit_is_named_when_nothing_better_is_found()
    {
        var first = Plugin(First, mode: UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = NotFound("noop", [First, Second]);

        Assert.Equal($"failed to find plugin \"noop\" in path [{First} {Second}]: {first} is not executable", error.Message);
    }

    [Fact]
    public void A_directory_of_the_plugins_name_is_passed_over_as_libcni_does()
    {
        Directory.CreateDirectory(Path.Combine(First, "noop"));

        Assert.Equal($"failed to find plugin \"noop\" in path [{First}]", NotFound("noop", [First]).Message);
        Assert.Equal(Plugin(Second), PluginLocator.Find("noop", [First, Second]));
    }

    [Fact]
    public void Empty_directory_entries_are_skipped_not_taken_as_the_working_directory()
    {
        var second = Plugin(Second);

        Assert.Equal(second, PluginLocator.Find("noop", [string.Empty, Second]));
        Assert.Equal("failed to find plugin \"noop\" in path [ ]", NotFound("noop", [string.Empty, string.Empty]).Message);
    }

    [Fact]
    public async Task A_fifo_with_an_execute_bit_is_not_a_plugin()
    {
        var fifo = Path.Combine(First, "noop");
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
        }

        File.SetUnixFileMode(fifo, Executable);

        Assert.Equal($"failed to find plugin \"noop\" in path [{First}]: {fifo} is not a regular file", NotFound("noop", [First]).Message);
        Assert.Equal(Plugin(Second), PluginLocator.Find("noop", [First, Second]));
    }

    [Fact]
    public void A_socket_with_an_execute_bit_is_not_a_plugin()
    {
        var path = Path.Combine(First, "noop");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, Executable);

        Assert.Equal($"failed to find plugin \"noop\" in path [{First}]: {path} is not a regular file", NotFound("noop", [First]).Message);
    }

    [Fact]
    public void A_link_to_a_device_is_not_a_plugin()
    {
        var link = Path.Combine(First, "noop");
        File.CreateSymbolicLink(link, "/dev/null");

        Assert.Equal($"failed to find plugin \"noop\" in path [{First}]: {link} is not a regular file", NotFound("noop", [First]).Message);
    }
}
