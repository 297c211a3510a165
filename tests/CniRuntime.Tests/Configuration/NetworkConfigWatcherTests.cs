using System.Collections.Concurrent;
using CniRuntime.Configuration;
using CniRuntime.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace CniRuntime.Tests.Configuration;

/// <summary>
/// The directory watcher against the real file system: what runtimes got wrong (a recreated directory, files renamed
/// into place, a malformed neighbour, the default network's order). Every test waits for a condition with a timeout;
/// none sleeps to assert.
/// </summary>
public sealed class NetworkConfigWatcherTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    // Polling off: these tests prove that events alone are enough.
    private static NetworkConfigWatcherOptions Fast => new() { Debounce = TimeSpan.FromMilliseconds(30), PollInterval = null };

    private static string List(string name, string type = "bridge") =>
        $$"""{"cniVersion":"1.0.0","name":"{{name}}","plugins":[{"type":"{{type}}"}]}""";

    private static string[] Names(ConfigDirectoryScan scan) => [.. scan.Networks.Select(n => n.Name)];

    private static async Task<ConfigDirectoryScan> Until(NetworkConfigWatcher watcher, Func<ConfigDirectoryScan, bool> condition)
    {
        try
        {
            return await watcher.WaitUntilAsync(condition).WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            var scan = watcher.Current;
            Assert.Fail($"condition not met within {Timeout}; files: [{string.Join(", ", scan.Files.Select(Path.GetFileName))}], " +
                $"networks: [{string.Join(", ", Names(scan))}], diagnostics: [{string.Join("; ", scan.Diagnostics.Select(d => d.Message))}]");
            throw;
        }
    }

    private static void Write(string path, string contents)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, contents);
    }

    [Fact]
    public async Task A_file_added_is_picked_up_and_raises_Changed_with_both_snapshots()
    {
        var dir = _root.Combine("net.d");
        Directory.CreateDirectory(dir);
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);
        var raised = new TaskCompletionSource<NetworkConfigChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.Changed += (_, e) => raised.TrySetResult(e);
        Assert.Empty(watcher.Current.Files);

        Write(Path.Combine(dir, "10-a.conflist"), List("a"));

        var scan = await Until(watcher, s => Names(s) is ["a"]);
        var change = await raised.Task.WaitAsync(Timeout);
        Assert.Empty(change.Previous.Networks);
        Assert.Same(scan, change.Current);
        Assert.Equal("a", watcher.DefaultNetwork?.Name);
    }

    [Fact]
    public async Task A_file_edited_is_picked_up()
    {
        var file = _root.File("net.d/10-a.conflist", List("a", "bridge"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);
        Assert.Equal("bridge", Assert.Single(watcher.Current.Networks).Plugins[0].Type);

        File.WriteAllText(file, List("a", "ptp"));

        await Until(watcher, s => s.Networks is [{ Plugins: [{ Type: "ptp" }] }]);
    }

    [Fact]
    public async Task A_file_deleted_is_dropped()
    {
        _root.File("net.d/10-a.conflist", List("a"));
        var doomed = _root.File("net.d/20-b.conflist", List("b"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);
        Assert.Equal(["a", "b"], Names(watcher.Current));

        File.Delete(doomed);

        var scan = await Until(watcher, s => Names(s) is ["a"]);
        Assert.Single(scan.Files);
    }

    [Fact]
    public async Task A_file_renamed_into_place_is_picked_up_and_one_renamed_away_is_dropped()
    {
        var dir = _root.Combine("net.d");
        Directory.CreateDirectory(dir);
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);

        // What ansible's copy module does: write a temporary file beside the target, then rename it into place.
        var temp = Path.Combine(dir, ".ansible_tmp1234-10-a.conflist.tmp");
        File.WriteAllText(temp, List("a"));
        File.Move(temp, Path.Combine(dir, "10-a.conflist"));

        var scan = await Until(watcher, s => Names(s) is ["a"]);
        Assert.Equal([Path.Combine(dir, "10-a.conflist")], scan.Files);

        File.Move(Path.Combine(dir, "10-a.conflist"), Path.Combine(dir, "10-a.conflist.disabled"));

        await Until(watcher, s => s.Files.Count == 0);
    }

    [Fact]
    public async Task A_broken_file_is_reported_in_diagnostics_and_hides_nothing()
    {
        _root.File("net.d/10-a.conflist", List("a"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);
        var broken = _root.Combine("net.d", "05-broken.conflist");

        File.WriteAllText(broken, """{"cniVersion":"1.0.0","name":"broken","plugins":[""");

        var scan = await Until(watcher, s => s.Diagnostics.Count == 1);
        Assert.Equal(broken, scan.Diagnostics[0].File);
        Assert.Equal(["a"], Names(scan));
        Assert.Equal("a", scan.DefaultNetwork?.Name);

        File.WriteAllText(broken, List("broken", "ptp"));

        scan = await Until(watcher, s => s.Diagnostics.Count == 0);
        Assert.Equal(["broken", "a"], Names(scan));
        Assert.Equal("broken", scan.DefaultNetwork?.Name);
    }

    [Fact]
    public async Task The_directory_deleted_and_recreated_with_new_files_is_picked_up_and_watched_again()
    {
        var dir = _root.Combine("net.d");
        _root.File("net.d/10-a.conflist", List("a"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);

        Directory.Delete(dir, recursive: true);
        await Until(watcher, s => s.Files.Count == 0);
        Directory.CreateDirectory(dir);
        Write(Path.Combine(dir, "20-b.conflist"), List("b"));
        await Until(watcher, s => Names(s) is ["b"]);

        // An event from the new directory (not only the rescan after re-arming) is noticed.
        Write(Path.Combine(dir, "30-c.conflist"), List("c"));
        await Until(watcher, s => Names(s) is ["b", "c"]);
    }

    [Fact]
    public async Task The_directory_replaced_by_a_rename_at_once_is_watched_again()
    {
        var dir = _root.Combine("net.d");
        _root.File("net.d/10-a.conflist", List("a"));
        _root.File("staging/20-b.conflist", List("b"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);

        Directory.Delete(dir, recursive: true);
        Directory.Move(_root.Combine("staging"), dir);
        await Until(watcher, s => Names(s) is ["b"]);

        Write(Path.Combine(dir, "30-c.conflist"), List("c"));
        await Until(watcher, s => Names(s) is ["b", "c"]);
    }

    [Fact]
    public async Task A_directory_created_after_the_watcher_started_is_picked_up()
    {
        // Neither the directory nor its parents exist yet.
        var dir = _root.Combine("etc", "cni", "net.d");
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);
        Assert.Empty(watcher.Current.Files);
        Assert.Empty(watcher.Current.Diagnostics);
        Assert.Null(watcher.DefaultNetwork);

        Directory.CreateDirectory(dir);
        Write(Path.Combine(dir, "10-a.conflist"), List("a"));
        await Until(watcher, s => Names(s) is ["a"]);

        Write(Path.Combine(dir, "20-b.conf"), """{"cniVersion":"0.4.0","name":"b","type":"ptp"}""");
        await Until(watcher, s => Names(s) is ["a", "b"]);
    }

    [Fact]
    public async Task The_default_network_is_the_first_valid_file_by_name_whatever_its_extension()
    {
        _root.File("00-broken.conflist", "{ not json");
        _root.File("05-x.conf", """{"cniVersion":"0.4.0","name":"x","type":"ptp"}""");
        _root.File("10-y.conflist", List("y"));

        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_root.Path);

        Assert.Equal(["y", "x"], Names(scan)); // load order: .conflist first
        Assert.Equal("x", scan.DefaultNetwork?.Name);
        Assert.Equal(_root.Combine("05-x.conf"), scan.DefaultNetwork?.Source);
    }

    [Fact]
    public async Task A_default_network_shadowed_by_a_conflist_of_the_same_name_is_the_conflist()
    {
        _root.File("00-same.conf", """{"cniVersion":"0.4.0","name":"same","type":"ptp"}""");
        _root.File("10-other.conflist", List("other"));
        _root.File("99-same.conflist", List("same", "bridge"));

        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_root.Path);

        // 00-same.conf picks the name; the network of that name is the one the loader resolves.
        Assert.Equal("same", scan.DefaultNetwork?.Name);
        Assert.Same(scan.FindNetwork("same"), scan.DefaultNetwork);
        Assert.Equal("bridge", scan.DefaultNetwork?.Plugins[0].Type);
    }

    [Fact]
    public async Task No_valid_file_means_no_default_network()
    {
        _root.File("00-broken.conflist", "{ not json");

        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_root.Path);

        Assert.Null(scan.DefaultNetwork);
    }

    [Fact]
    public async Task The_default_network_follows_the_directory()
    {
        _root.File("net.d/10-y.conflist", List("y"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);
        Assert.Equal("y", watcher.DefaultNetwork?.Name);

        File.WriteAllText(_root.Combine("net.d", "05-x.conf"), """{"cniVersion":"0.4.0","name":"x","type":"ptp"}""");
        await Until(watcher, s => s.DefaultNetwork?.Name == "x");

        File.WriteAllText(_root.Combine("net.d", "00-broken.conflist"), "{ not json");
        var scan = await Until(watcher, s => s.Diagnostics.Count == 1);
        Assert.Equal("x", scan.DefaultNetwork?.Name);
    }

    [Fact]
    public async Task Disposing_stops_events_and_waits()
    {
        var dir = _root.Combine("net.d");
        Directory.CreateDirectory(dir);
        var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);
        var events = 0;
        watcher.Changed += (_, _) => Interlocked.Increment(ref events);
        File.WriteAllText(Path.Combine(dir, "10-a.conflist"), List("a"));
        await Until(watcher, s => Names(s) is ["a"]);
        await watcher.DisposeAsync();
        var before = Volatile.Read(ref events);

        // A second watcher with the same debounce is the witness that the next change was seen and delivered.
        await using var witness = await NetworkConfigWatcher.StartAsync(dir, Fast);
        File.WriteAllText(Path.Combine(dir, "20-b.conflist"), List("b"));
        await Until(witness, s => Names(s) is ["a", "b"]);

        Assert.Equal(before, Volatile.Read(ref events));
        Assert.Equal(["a"], Names(watcher.Current));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => watcher.RescanAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => watcher.WaitForChangeAsync());
        await watcher.DisposeAsync(); // twice is fine
    }

    [Fact]
    public async Task A_burst_of_writes_ends_in_a_snapshot_that_matches_the_disk()
    {
        var dir = _root.Combine("net.d");
        Directory.CreateDirectory(dir);
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);
        var events = 0;
        watcher.Changed += (_, _) => Interlocked.Increment(ref events);

        var writes = 0;
        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 20; i++)
            {
                File.WriteAllText(Path.Combine(dir, $"{i:D2}-n{i}.conflist"), List($"n{i}", round % 2 == 0 ? "bridge" : "ptp"));
                writes++;
            }

            File.Delete(Path.Combine(dir, $"{round:D2}-n{round}.conflist"));
            File.WriteAllText(Path.Combine(dir, $"{round:D2}-n{round}.conf"), "{ half-written");
        }

        var disk = await NetworkConfigLoader.ScanDirectoryAsync(dir);
        var scan = await Until(watcher, s => NetworkConfigWatcher.SameSnapshot(s, disk));
        Assert.Equal(19, scan.Networks.Count); // the last round rewrote every list but deleted 04-n4.conflist
        Assert.Equal(5, scan.Diagnostics.Count);
        Assert.All(scan.Networks, n => Assert.Equal("bridge", n.Plugins[0].Type));
        Assert.True(Volatile.Read(ref events) < writes, $"{events} events for {writes} writes: the burst was not debounced");
    }

    [Fact]
    public async Task Plugin_files_in_a_subdirectory_are_watched_too()
    {
        _root.File("net.d/10-a.conflist", List("a"));
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);

        Write(_root.Combine("net.d", "a", "50-portmap.conf"), """{"type":"portmap"}""");
        await Until(watcher, s => s.Networks is [{ Plugins: [{ Type: "bridge" }, { Type: "portmap" }] }]);

        File.WriteAllText(_root.Combine("net.d", "a", "50-portmap.conf"), """{"type":"tuning"}""");
        await Until(watcher, s => s.Networks is [{ Plugins: [{ Type: "bridge" }, { Type: "tuning" }] }]);
    }

    [Fact]
    public async Task A_watcher_error_rescans()
    {
        // A change inotify cannot see: the file in the directory is a symlink and its target is edited elsewhere.
        var target = _root.File("elsewhere/a.conflist", List("a", "bridge"));
        Directory.CreateDirectory(_root.Combine("net.d"));
        File.CreateSymbolicLink(_root.Combine("net.d", "10-a.conflist"), target);
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);
        File.WriteAllText(target, List("a", "ptp"));

        watcher.SimulateWatcherError();

        await Until(watcher, s => s.Networks is [{ Plugins: [{ Type: "ptp" }] }]);
    }

    [Fact]
    public async Task RescanAsync_returns_what_is_on_disk_now()
    {
        var target = _root.File("elsewhere/a.conflist", List("a", "bridge"));
        Directory.CreateDirectory(_root.Combine("net.d"));
        File.CreateSymbolicLink(_root.Combine("net.d", "10-a.conflist"), target);
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), Fast);
        File.WriteAllText(target, List("a", "ptp"));

        var scan = await watcher.RescanAsync();

        Assert.Equal("ptp", Assert.Single(scan.Networks).Plugins[0].Type);
        Assert.Same(scan, watcher.Current);
        Assert.Same(scan, await watcher.RescanAsync()); // nothing changed: the snapshot is kept
    }

    [Fact]
    public async Task Polling_notices_changes_that_send_no_event()
    {
        var target = _root.File("elsewhere/a.conflist", List("a", "bridge"));
        Directory.CreateDirectory(_root.Combine("net.d"));
        File.CreateSymbolicLink(_root.Combine("net.d", "10-a.conflist"), target);
        var clock = new FakeTimeProvider();
        var options = new NetworkConfigWatcherOptions { Debounce = TimeSpan.Zero, PollInterval = TimeSpan.FromMinutes(1), TimeProvider = clock };
        await using var watcher = await NetworkConfigWatcher.StartAsync(_root.Combine("net.d"), options);
        File.WriteAllText(target, List("a", "ptp"));

        // Only the clock can cause the rescan; advance it until the poll (whenever it starts waiting) fires.
        using var stop = new CancellationTokenSource();
        var ticking = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                clock.Advance(TimeSpan.FromMinutes(1));
                await Task.Delay(20, CancellationToken.None);
            }
        });
        try
        {
            await Until(watcher, s => s.Networks is [{ Plugins: [{ Type: "ptp" }] }]);
        }
        finally
        {
            await stop.CancelAsync();
            await ticking;
        }
    }

    [Fact]
    public async Task A_handler_that_throws_does_not_stop_the_others_or_later_changes()
    {
        var dir = _root.Combine("net.d");
        Directory.CreateDirectory(dir);
        await using var watcher = await NetworkConfigWatcher.StartAsync(dir, Fast);
        var seen = new ConcurrentQueue<string[]>();
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.Changed += (_, _) => throw new InvalidOperationException("subscriber bug");
        watcher.Changed += (_, e) =>
        {
            seen.Enqueue(Names(e.Current));
            if (seen.Count == 2)
            {
                second.TrySetResult();
            }
        };

        File.WriteAllText(Path.Combine(dir, "10-a.conflist"), List("a"));
        await Until(watcher, s => Names(s) is ["a"]);
        File.WriteAllText(Path.Combine(dir, "20-b.conflist"), List("b"));

        await second.Task.WaitAsync(Timeout);
        Assert.Equal([["a"], ["a", "b"]], seen);
    }

    [Fact]
    public async Task Invalid_options_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            NetworkConfigWatcher.StartAsync(_root.Path, new NetworkConfigWatcherOptions { Debounce = TimeSpan.FromSeconds(-1) }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            NetworkConfigWatcher.StartAsync(_root.Path, new NetworkConfigWatcherOptions { PollInterval = TimeSpan.Zero }));
    }
}
