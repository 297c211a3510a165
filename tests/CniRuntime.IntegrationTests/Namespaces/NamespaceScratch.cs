using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Interop;
using CniRuntime.Namespaces;

namespace CniRuntime.IntegrationTests.Namespaces;

/// <summary>
/// One test's namespaces: a private namespace directory (<c>/run/netns-cnirt-test-&lt;random&gt;</c>) and unique names
/// under <c>/run/netns</c> for the tests that talk to <c>ip netns</c>. <see cref="DisposeAsync"/> unmounts and removes
/// whatever is left, including the directory's own bind mount.
/// </summary>
public sealed class NamespaceScratch : IAsyncLifetime
{
    private readonly List<string> _sharedNames = [];

    public NamespaceScratch()
    {
        PrivateDirectory = "/run/netns-cnirt-test-" + Guid.NewGuid().ToString("N")[..12];
        Private = new NetworkNamespaces(PrivateDirectory);
        Shared = new NetworkNamespaces();
    }

    /// <summary>The private directory (created by the first create in it).</summary>
    public string PrivateDirectory { get; }

    /// <summary>Namespaces in <see cref="PrivateDirectory"/>.</summary>
    public NetworkNamespaces Private { get; }

    /// <summary>Namespaces in /run/netns, where <c>ip netns</c> looks.</summary>
    public NetworkNamespaces Shared { get; }

    /// <summary>The test process's own network namespace, as <c>/proc/self/ns/net</c> links to it (<c>net:[N]</c>).</summary>
    public static string OriginalNamespace { get; } = LinkTarget("/proc/self/ns/net");

    public Task InitializeAsync()
    {
        Prerequisites.Require();
        return Task.CompletedTask;
    }

    /// <summary>A unique name for /run/netns, removed on dispose if it is still there.</summary>
    public string NewSharedName()
    {
        var name = "cnirt-it-ns-" + Guid.NewGuid().ToString("N")[..12];
        lock (_sharedNames)
        {
            _sharedNames.Add(name);
        }

        return name;
    }

    /// <summary>A unique name for the private directory.</summary>
    public static string NewName() => "ns-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The raw text of a /proc ns link (<c>net:[4026531840]</c>).</summary>
    public static string LinkTarget(string link) =>
        new FileInfo(link).LinkTarget ?? throw new InvalidOperationException($"{link} has no link target");

    public Task DisposeAsync()
    {
        string[] names;
        lock (_sharedNames)
        {
            names = [.. _sharedNames];
        }

        foreach (var name in names)
        {
            RemoveNamespaceFile(Path.Join(NetworkNamespaces.DefaultDirectory, name));
        }

        if (Directory.Exists(PrivateDirectory))
        {
            foreach (var file in Directory.EnumerateFileSystemEntries(PrivateDirectory))
            {
                RemoveNamespaceFile(file);
            }

            // The first create bind-mounted the directory onto itself to make it a shared mount point.
            while (NamespaceInterop.Umount2(PrivateDirectory, NamespaceInterop.MntDetach) == 0)
            {
            }

            Directory.Delete(PrivateDirectory, recursive: true);
        }

        return Task.CompletedTask;
    }

    private static void RemoveNamespaceFile(string path)
    {
        while (NamespaceInterop.Umount2(path, NamespaceInterop.MntDetach) == 0)
        {
        }

        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }
}
