using CniRuntime.IntegrationTests.Infrastructure;

namespace CniRuntime.IntegrationTests.Namespaces;

/// <summary>
/// The property everything else rests on: after many create/enter/delete cycles no thread of this process is left
/// in a sandbox namespace, and the thread pool (which a leaked thread would poison) still runs in the original one.
/// </summary>
/// <remarks>
/// It runs alone: it inspects every thread of the process, and another test class's namespace thread, busy at that
/// moment, would look like a leak.
/// </remarks>
[Trait("Category", "Integration")]
[Collection(ProcessWideTests.Name)]
public sealed class NamespaceThreadSafetyTests : IAsyncLifetime
{
    private const int Cycles = 200;
    private const int PoolItems = 2000;

    private readonly NamespaceScratch _scratch = new();

    public Task InitializeAsync() => _scratch.InitializeAsync();

    public Task DisposeAsync() => _scratch.DisposeAsync();

    [IntegrationFact]
    public async Task After_200_cycles_every_thread_and_every_pool_work_item_is_in_the_original_namespace()
    {
        Prerequisites.Require();
        var original = NamespaceScratch.OriginalNamespace;
        var seenInside = new HashSet<string>();

        for (var i = 0; i < Cycles; i++)
        {
            var path = await _scratch.Private.CreateAsync(NamespaceScratch.NewName());
            var inside = i % 2 == 0
                ? _scratch.Private.Run(path, () => NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"))
                : await _scratch.Private.RunAsync(path, () => NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"));
            if (i % 10 == 0)
            {
                Assert.Throws<InvalidOperationException>(() => _scratch.Private.Run(path, () => throw new InvalidOperationException("inside")));
            }

            Assert.NotEqual(original, inside);
            seenInside.Add(inside);
            await _scratch.Private.DeleteAsync(path);
        }

        Assert.Empty(_scratch.Private.List());
        Assert.True(seenInside.Count > 1, "each cycle should enter a namespace of its own");

        var threads = Directory.GetDirectories("/proc/self/task")
            .Select(task => (Tid: Path.GetFileName(task), Net: TryLinkTarget(Path.Join(task, "ns/net"))))
            .Where(t => t.Net is not null)
            .ToList();
        Assert.NotEmpty(threads);
        Assert.All(threads, t => Assert.True(t.Net == original, $"thread {t.Tid} ({Comm(t.Tid)}) is in {t.Net}, not {original}"));

        var poolNamespaces = await Task.WhenAll(Enumerable.Range(0, PoolItems).Select(_ => Task.Run(() => NamespaceScratch.LinkTarget("/proc/thread-self/ns/net"))));
        Assert.All(poolNamespaces, ns => Assert.Equal(original, ns));
    }

    // A thread may exit between listing and reading.
    private static string? TryLinkTarget(string link)
    {
        try
        {
            return new FileInfo(link).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string Comm(string tid)
    {
        try
        {
            return File.ReadAllText($"/proc/self/task/{tid}/comm").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }
}

/// <summary>Tests that look at the whole process (every thread), so nothing else may run beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideTests
{
    public const string Name = "process-wide";
}
