using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using CniRuntime.Tests.Networks;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Caching;

/// <summary>The cache's file format against libcni's, atomic writes and the attachment locks.</summary>
public sealed class ResultCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // What Go's libcni (1.2 and later) writes for `cnitool add` with CAP_ARGS='{"portMappings":[{"hostPort":8080,
    // "containerPort":80,"protocol":"tcp"}]}': cachedInfo's fields in struct order, base64 config, omitempty, and the
    // capabilityArgs and result maps with sorted keys.
    private const string LibcniFile =
        """{"kind":"cniCacheV1","containerId":"cnitool-77f0e6f5bd2b9f4ae1b4","config":"eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoibXluZXQiLCJwbHVnaW5zIjpbeyJ0eXBlIjoibm9vcCJ9XX0=","ifName":"eth0","networkName":"mynet","netns":"/run/netns/test","cniArgs":[["IgnoreUnknown","1"]],"capabilityArgs":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"result":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/test"}],"ips":[{"address":"10.22.0.5/16","gateway":"10.22.0.1","interface":0}]}}""";

    // The same ADD through libcni 1.3.0's cacheAdd (json.Marshal of the result, json.Unmarshal into a map, json.Marshal
    // of cachedInfo), for a plugin that printed RichResult.
    private const string RichResult =
        """{"cniVersion":"1.1.0","interfaces":[{"name":"br0","mac":"02:42:AC:11:00:01","mtu":9000},{"name":"eth0","mac":"02:42:ac:11:00:02","sandbox":"/run/netns/ü<x>&y","socketPath":"/run/vhost\u2028.sock","pciID":"0000:3b:02.1"}],"ips":[{"interface":1,"address":"2001:DB8:0:0::2/64","gateway":"2001:db8::1"},{"interface":1,"address":"172.17.0.2/16","gateway":"172.17.0.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"172.17.0.1","mtu":1450,"advmss":1410,"priority":100,"table":0,"scope":0},{"dst":"2001:db8::/32"}],"dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["a<b>.svc","é.local"],"options":["ndots:5"]}}""";

    private const string RichCapabilityArgs =
        """{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":"::1"}],"bandwidth":{"ingressRate":12345678901234567890,"egressBurst":1.5e-7},"zébra":{"b":[1,2.50,{"z":"\u003c","a":null}],"a":true},"Z":"\u2029"}""";

    private const string RichLibcniFile =
        """{"kind":"cniCacheV1","containerId":"c1","config":"eyJjbmlWZXJzaW9uIjoiMS4xLjAiLCJuYW1lIjoibmV0IiwicGx1Z2lucyI6W3sidHlwZSI6ImZpcnN0IiwiY2FwYWJpbGl0aWVzIjp7InBvcnRNYXBwaW5ncyI6dHJ1ZX19LHsidHlwZSI6InNlY29uZCJ9XX0=","ifName":"eth0","networkName":"net","netns":"/run/netns/ü\u003cx\u003e\u0026y","cniArgs":[["IgnoreUnknown","1"],["K8S_POD_NAME","web\u003c1\u003e\u0026\"2\""]],"capabilityArgs":{"Z":"\u2029","bandwidth":{"egressBurst":1.5e-7,"ingressRate":12345678901234567000},"portMappings":[{"containerPort":80,"hostIP":"::1","hostPort":8080,"protocol":"tcp"}],"zébra":{"a":true,"b":[1,2.5,{"a":null,"z":"\u003c"}]}},"result":{"cniVersion":"1.1.0","dns":{"domain":"cluster.local","nameservers":["10.96.0.10"],"options":["ndots:5"],"search":["a\u003cb\u003e.svc","é.local"]},"interfaces":[{"mac":"02:42:AC:11:00:01","mtu":9000,"name":"br0"},{"mac":"02:42:ac:11:00:02","name":"eth0","pciID":"0000:3b:02.1","sandbox":"/run/netns/ü\u003cx\u003e\u0026y","socketPath":"/run/vhost\u2028.sock"}],"ips":[{"address":"2001:db8::2/64","gateway":"2001:db8::1","interface":1},{"address":"172.17.0.2/16","gateway":"172.17.0.1","interface":1}],"routes":[{"advmss":1410,"dst":"0.0.0.0/0","gw":"172.17.0.1","mtu":1450,"priority":100,"scope":0,"table":0},{"dst":"2001:db8::/32"}]}}""";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Writes_are_atomic_and_a_durable_one_fsyncs_the_file_before_the_rename_and_the_directory_after(bool durable)
    {
        var cache = new ResultCache(_dir.Path, durable: durable);
        var attachment = new NetworkAttachment { ContainerId = "c1", NetworkName = "net", InterfaceName = "eth0", Config = "{}"u8.ToArray() };
        await cache.WriteAsync(attachment);
        var steps = new List<(AtomicFile.Step Step, string Path)>();
        AtomicFile.Observer.Value = (step, path) => steps.Add((step, path));

        await cache.WriteAsync(attachment with { NetworkNamespace = "/run/netns/x" });

        AtomicFile.Observer.Value = null;
        var target = cache.GetPath("net", "c1", "eth0");
        var temporary = steps[0].Path;
        Assert.StartsWith(Path.Combine(cache.ResultsDirectory, ".net-c1-eth0."), temporary, StringComparison.Ordinal);
        (AtomicFile.Step, string)[] expected = durable
            ? [(AtomicFile.Step.Create, temporary), (AtomicFile.Step.Write, temporary), (AtomicFile.Step.SyncFile, temporary), (AtomicFile.Step.Rename, target), (AtomicFile.Step.SyncDirectory, cache.ResultsDirectory)]
            : [(AtomicFile.Step.Create, temporary), (AtomicFile.Step.Write, temporary), (AtomicFile.Step.Rename, target)];
        Assert.Equal(expected, steps);
        Assert.Equal("/run/netns/x", (await cache.ReadAsync("net", "c1", "eth0"))!.NetworkNamespace);
        Assert.Equal(["net-c1-eth0"], Directory.EnumerateFiles(cache.ResultsDirectory).Select(Path.GetFileName)); // no temp file left
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 4)]
    public async Task DurableWrites_fsyncs_both_cache_writes_of_an_ADD_file_and_directory(bool durable, int fsyncs)
    {
        using var f = new CniClientFixture(o => o with { DurableWrites = durable });
        var steps = new List<AtomicFile.Step>();
        AtomicFile.Observer.Value = (step, _) => steps.Add(step);

        await f.Client.AddNetworkListAsync(CniClientFixture.List("""{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"noop"}]}"""), CniClientFixture.Runtime());

        AtomicFile.Observer.Value = null;
        Assert.Equal(2, steps.Count(s => s == AtomicFile.Step.Rename)); // the pending record, then the result
        Assert.Equal(fsyncs, steps.Count(s => s is AtomicFile.Step.SyncFile or AtomicFile.Step.SyncDirectory));
    }

    [Fact]
    public async Task A_file_written_by_libcni_reads_back_field_for_field()
    {
        var cache = new ResultCache(_dir.Path);
        Directory.CreateDirectory(cache.ResultsDirectory);
        File.WriteAllText(Path.Combine(cache.ResultsDirectory, "mynet-cnitool-77f0e6f5bd2b9f4ae1b4-eth0"), LibcniFile);

        var attachment = await cache.ReadAsync("mynet", "cnitool-77f0e6f5bd2b9f4ae1b4", "eth0");

        Assert.NotNull(attachment);
        Assert.Equal("""{"cniVersion":"1.0.0","name":"mynet","plugins":[{"type":"noop"}]}""", Encoding.UTF8.GetString(attachment.Config.Span));
        Assert.Equal("/run/netns/test", attachment.NetworkNamespace);
        Assert.Equal([new KeyValuePair<string, string>("IgnoreUnknown", "1")], attachment.CniArgs);
        Assert.Equal(8080, attachment.CapabilityArgs["portMappings"][0].GetProperty("hostPort").GetInt32());
        Assert.False(attachment.IsLegacy);
    }

    [Fact]
    public void Serialising_that_attachment_gives_libcnis_bytes_back()
    {
        var original = ResultCache.Parse(Encoding.UTF8.GetBytes(LibcniFile), "x", "mynet", "cnitool-77f0e6f5bd2b9f4ae1b4", "eth0");

        Assert.Equal(LibcniFile, Encoding.UTF8.GetString(ResultCache.Serialize(original)));
    }

    [Fact]
    public async Task An_ADD_writes_byte_for_byte_the_cache_file_libcni_writes_for_it()
    {
        using var f = new CniClientFixture();
        f.Executor.OnCommand("second", "ADD", _ => FakePluginExecutor.Success(RichResult));
        var list = CniClientFixture.List("""{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"first","capabilities":{"portMappings":true}},{"type":"second"}]}""");

        await f.Client.AddNetworkListAsync(list, new RuntimeConfig
        {
            ContainerId = "c1",
            NetworkNamespace = "/run/netns/ü<x>&y",
            Args = [new("IgnoreUnknown", "1"), new("K8S_POD_NAME", "web<1>&\"2\"")],
            CapabilityArgs = CniClientFixture.Caps(RichCapabilityArgs),
        });

        Assert.Equal(RichLibcniFile, File.ReadAllText(f.CachePath("net", "c1")));
    }

    [Theory]
    [InlineData("0.2.0", """{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.2/24"}}""", """{"cniVersion":"0.2.0","dns":{},"ip4":{"ip":"10.1.0.2/24"}}""")]
    [InlineData("0.4.0", """{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.0.2/24"}]}""", """{"cniVersion":"0.4.0","dns":{},"ips":[{"address":"10.1.0.2/24","version":"4"}]}""")]
    [InlineData("1.0.0", """{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.2/24"}]}""", """{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.2/24"}]}""")]
    public async Task A_cached_result_carries_dns_exactly_when_libcnis_result_type_does(string version, string pluginResult, string cachedResult)
    {
        using var f = new CniClientFixture();
        f.Executor.OnCommand("noop", "ADD", _ => FakePluginExecutor.Success(pluginResult));
        var list = CniClientFixture.List($$"""{"cniVersion":"{{version}}","name":"net","plugins":[{"type":"noop"}]}""");

        await f.Client.AddNetworkListAsync(list, CniClientFixture.Runtime());

        var file = File.ReadAllText(f.CachePath("net"));
        Assert.EndsWith($",\"result\":{cachedResult}}}", file, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_network_added_by_libcni_is_deleted_with_its_cached_result()
    {
        using var f = new CniClientFixture();
        Directory.CreateDirectory(Path.Combine(f.Dir.Combine("cache"), "results"));
        File.WriteAllText(f.CachePath("mynet", "cnitool-77f0e6f5bd2b9f4ae1b4"), LibcniFile);
        var list = NetworkConfigList.Parse("""{"cniVersion":"1.0.0","name":"mynet","plugins":[{"type":"noop"}]}"""u8);

        await f.Client.DeleteNetworkListAsync(list, new RuntimeConfig { ContainerId = "cnitool-77f0e6f5bd2b9f4ae1b4", NetworkNamespace = "/run/netns/test" });

        Assert.Equal("10.22.0.5/16", f.Executor.Calls[0].Stdin["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>());
        Assert.False(File.Exists(f.CachePath("mynet", "cnitool-77f0e6f5bd2b9f4ae1b4")));
    }

    [Fact]
    public async Task Empty_and_corrupt_files_are_errors_naming_the_file_and_missing_files_are_null()
    {
        var cache = new ResultCache(_dir.Path);
        Directory.CreateDirectory(cache.ResultsDirectory);
        var path = cache.GetPath("n", "c", "eth0");
        File.WriteAllText(path, string.Empty);
        var empty = await Assert.ThrowsAsync<CniCacheException>(() => cache.ReadAsync("n", "c", "eth0"));
        File.WriteAllText(path, "{\"kind\":\"cniCacheV1\",\"contai");
        var truncated = await Assert.ThrowsAsync<CniCacheException>(() => cache.ReadAsync("n", "c", "eth0"));
        File.WriteAllText(path, "{\"kind\":\"somethingElse\"}");
        var wrongKind = await Assert.ThrowsAsync<CniCacheException>(() => cache.ReadAsync("n", "c", "eth0"));

        Assert.Equal($"cache file {path} is empty", empty.Message);
        Assert.StartsWith($"cache file {path} is not valid JSON", truncated.Message, StringComparison.Ordinal);
        Assert.Equal($"cache file {path} has wrong kind", wrongKind.Message);
        Assert.Null(await cache.ReadAsync("n", "other", "eth0"));
    }

    [Fact]
    public async Task Listing_skips_broken_files_temp_files_and_other_containers()
    {
        var cache = new ResultCache(_dir.Path);
        Directory.CreateDirectory(cache.ResultsDirectory);
        File.WriteAllText(Path.Combine(cache.ResultsDirectory, "mynet-cnitool-77f0e6f5bd2b9f4ae1b4-eth0"), LibcniFile);
        File.WriteAllText(Path.Combine(cache.ResultsDirectory, "broken-x-eth0"), "{");
        File.WriteAllText(Path.Combine(cache.ResultsDirectory, ".mynet-x-eth0.abc.tmp"), LibcniFile);
        File.WriteAllText(Path.Combine(cache.ResultsDirectory, "legacy-x-eth0"), """{"cniVersion":"0.4.0"}""");

        var all = await cache.ListAsync();
        var byContainer = await cache.ListAsync("cnitool-77f0e6f5bd2b9f4ae1b4");
        var none = await cache.ListAsync("77f0e6f5bd2b9f4ae1b4");

        Assert.Equal("mynet", Assert.Single(all).NetworkName);
        Assert.Single(byContainer);
        Assert.Empty(none);
    }

    [Fact]
    public async Task A_rewrite_replaces_the_file_atomically_and_leaves_no_temp_files()
    {
        var cache = new ResultCache(_dir.Path);
        var attachment = new NetworkAttachment { ContainerId = "c", NetworkName = "n", InterfaceName = "eth0", Config = "{}"u8.ToArray() };

        await cache.WriteAsync(attachment);
        await cache.WriteAsync(attachment with { NetworkNamespace = "/run/netns/x" });

        Assert.Equal("/run/netns/x", (await cache.ReadAsync("n", "c", "eth0"))!.NetworkNamespace);
        Assert.Equal(["n-c-eth0"], Directory.EnumerateFiles(cache.ResultsDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Reads_and_writes_finish_on_the_callers_thread_with_files_0600_in_a_0700_directory()
    {
        var cache = new ResultCache(_dir.Path);
        var attachment = new NetworkAttachment { ContainerId = "c", NetworkName = "n", InterfaceName = "eth0", Config = "{}"u8.ToArray() };

        // Small local files: no thread-pool hop (a cnirt command pays for every one before its first plugin runs).
        var write = cache.WriteAsync(attachment);
        var read = cache.ReadAsync("n", "c", "eth0");
        var list = cache.ListAsync();

        Assert.True(write.IsCompletedSuccessfully && read.IsCompletedSuccessfully && list.IsCompletedSuccessfully);
        await write;
        Assert.Equal("c", (await read)!.ContainerId);
        Assert.Single(await list);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cache.GetPath("n", "c", "eth0")));
        Assert.Equal(AtomicFile.DirectoryMode, File.GetUnixFileMode(cache.ResultsDirectory));
    }

    [Fact]
    public async Task Errors_and_cancellations_of_synchronous_work_land_in_the_task_as_in_an_async_method()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        var failed = Synchronously.Run<int>(() => throw new CniException(CniErrorCode.IoFailure, "no"));
        var cancelled = Synchronously.Run(() => cancel.Token.ThrowIfCancellationRequested());

        await Assert.ThrowsAsync<CniException>(() => failed);
        Assert.True(cancelled.IsCanceled);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(7, await Synchronously.Run(() => 7));
    }

    [Theory]
    [InlineData(nameof(AtomicFile.Step.Create))]
    [InlineData(nameof(AtomicFile.Step.Write))]
    [InlineData(nameof(AtomicFile.Step.SyncFile))]
    [InlineData(nameof(AtomicFile.Step.Rename))]
    public async Task A_write_that_fails_keeps_the_previous_file_and_leaves_no_temp_file(string failingStep)
    {
        var failing = Enum.Parse<AtomicFile.Step>(failingStep);
        var cache = new ResultCache(_dir.Path, durable: true);
        var attachment = new NetworkAttachment { ContainerId = "c", NetworkName = "n", InterfaceName = "eth0", Config = "{}"u8.ToArray() };
        await cache.WriteAsync(attachment);
        var path = cache.GetPath("n", "c", "eth0");
        AtomicFile.Observer.Value = (step, _) =>
        {
            if (step == failing)
            {
                throw new IOException("No space left on device");
            }
        };

        var error = await Assert.ThrowsAsync<CniException>(() => cache.WriteAsync(attachment with { NetworkNamespace = "/new" }));

        AtomicFile.Observer.Value = null;
        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.Equal($"failed to write cache file {path}: No space left on device", error.Message);
        Assert.Null((await cache.ReadAsync("n", "c", "eth0"))!.NetworkNamespace);
        Assert.Equal(["n-c-eth0"], Directory.EnumerateFiles(cache.ResultsDirectory).Select(Path.GetFileName));
    }

    [Fact(Timeout = 20000)]
    public async Task A_lock_held_by_another_process_is_waited_for()
    {
        var cache = new ResultCache(_dir.Path);
        using (await cache.LockAsync("n", "c", "eth0"))
        {
        }

        var lockFile = Path.Combine(cache.LocksDirectory, "n-c-eth0");
        using var holder = Process.Start(new ProcessStartInfo("flock", ["--exclusive", lockFile, "sleep", "0.7"]) { UseShellExecute = false })!;
        var deadline = Stopwatch.StartNew();
        while (!IsLockedByOther(lockFile) && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(10);
        }

        var waited = Stopwatch.StartNew();
        using (await cache.LockAsync("n", "c", "eth0"))
        {
            waited.Stop();
        }

        await holder.WaitForExitAsync();
        Assert.True(waited.Elapsed >= TimeSpan.FromMilliseconds(200), $"acquired after {waited.Elapsed}");
    }

    [Fact(Timeout = 20000)]
    public async Task Waiting_for_a_lock_honours_cancellation()
    {
        var cache = new ResultCache(_dir.Path);
        using var held = await cache.LockAsync("n", "c", "eth0");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.LockAsync("n", "c", "eth0", cts.Token));
    }

    [Fact(Timeout = 20000)]
    public async Task A_lock_removed_on_release_is_never_held_twice()
    {
        var cache = new ResultCache(_dir.Path);
        var inside = 0;
        var overlaps = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            for (var round = 0; round < 20; round++)
            {
                using var held = await cache.LockAsync("n", "c", "eth0");
                if (Interlocked.Increment(ref inside) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                await Task.Yield();
                Interlocked.Decrement(ref inside);
                if ((round + i) % 2 == 0)
                {
                    held.RemoveOnRelease();
                }
            }
        }));

        Assert.Equal(0, overlaps);
    }

    [Fact]
    public async Task A_lock_directory_removed_between_locks_is_made_again_0700()
    {
        var cache = new ResultCache(_dir.Path);
        (await cache.LockAsync("n", "c", "eth0")).Dispose();
        Directory.Delete(cache.LocksDirectory, recursive: true);

        using var held = await cache.LockAsync("n", "c", "eth0");

        Assert.True(File.Exists(held.Path));
        Assert.Equal(AtomicFile.DirectoryMode, File.GetUnixFileMode(cache.LocksDirectory));
    }

    private static bool IsLockedByOther(string path)
    {
        var output = Process.Start(new ProcessStartInfo("flock", ["--nonblock", "--exclusive", path, "true"]) { UseShellExecute = false })!;
        output.WaitForExit();
        return output.ExitCode != 0;
    }

    [Fact]
    public void Capability_args_survive_the_round_trip_as_json_with_libcnis_float64_numbers()
    {
        var attachment = new NetworkAttachment
        {
            ContainerId = "c",
            NetworkName = "n",
            InterfaceName = "eth0",
            CapabilityArgs = new Dictionary<string, JsonElement> { ["bandwidth"] = JsonDocument.Parse("""{"ingressRate":12345678901234567890}""").RootElement },
        };

        var back = ResultCache.Parse(ResultCache.Serialize(attachment), "x", "n", "c", "eth0");

        // As in libcni, a number goes through float64 on its way into the cache.
        Assert.Equal("""{"ingressRate":12345678901234567000}""", back.CapabilityArgs["bandwidth"].GetRawText());
    }
}
