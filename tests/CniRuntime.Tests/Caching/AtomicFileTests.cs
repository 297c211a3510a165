using CniRuntime.Caching;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Caching;

/// <summary>How a file is put in place: created, replaced by exchange (not durable) or by rename (durable).</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string[] Entries() => [.. Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_file_is_created_then_replaced_leaving_only_the_new_content_and_no_temporary_file(bool durable)
    {
        var path = _dir.Combine("state");

        AtomicFile.Write(path, "first"u8, durable);
        AtomicFile.Write(path, "second, longer"u8, durable);

        Assert.Equal("second, longer", File.ReadAllText(path));
        Assert.Equal(["state"], Entries());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void A_reader_holding_the_old_file_keeps_reading_the_old_content()
    {
        var path = _dir.Combine("state");
        AtomicFile.Write(path, "old"u8, durable: false);
        using var reader = File.OpenRead(path);

        AtomicFile.Write(path, "new"u8, durable: false);

        Assert.Equal("old", new StreamReader(reader).ReadToEnd());
        Assert.Equal("new", File.ReadAllText(path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_directory_in_the_targets_place_fails_the_write_and_is_left_as_it_was(bool durable)
    {
        var path = _dir.Combine("state");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "inside"), "kept");

        var error = Assert.Throws<CniException>(() => AtomicFile.Write(path, "x"u8, durable));

        Assert.StartsWith($"failed to write {path}: ", error.Message, StringComparison.Ordinal);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(path, "inside")));
        Assert.Equal(["state"], Entries());
    }

    [Fact]
    public void A_target_name_of_255_bytes_can_be_written()
    {
        var path = _dir.Combine(new string('n', 255));

        AtomicFile.Write(path, "x"u8, durable: false);
        AtomicFile.Write(path, "y"u8, durable: false);

        Assert.Equal("y", File.ReadAllText(path));
        Assert.Single(Entries());
    }

    [Fact]
    public void Missing_directories_are_made_0700_the_root_first_and_made_again_when_removed_between_writes()
    {
        var root = _dir.Combine("cache");
        var path = Path.Combine(root, "results", "state");

        AtomicFile.Write(path, "first"u8, durable: false, root: root);
        Assert.Equal(AtomicFile.DirectoryMode, File.GetUnixFileMode(root));
        Assert.Equal(AtomicFile.DirectoryMode, File.GetUnixFileMode(Path.GetDirectoryName(path)!));

        Directory.Delete(root, recursive: true);
        AtomicFile.Write(path, "second"u8, durable: true, root: root);

        Assert.Equal("second", File.ReadAllText(path));
        Assert.Equal(["state"], Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void A_file_where_a_directory_should_be_fails_the_write_naming_the_target()
    {
        File.WriteAllText(_dir.Combine("results"), "not a directory");
        var path = _dir.Combine("results", "state");

        var error = Assert.Throws<CniException>(() => AtomicFile.Write(path, "x"u8, durable: false));

        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.StartsWith($"failed to write {path}: ", error.Message, StringComparison.Ordinal);
        Assert.Equal("not a directory", File.ReadAllText(_dir.Combine("results")));
    }
}
