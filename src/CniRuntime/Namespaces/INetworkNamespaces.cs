namespace CniRuntime.Namespaces;

/// <summary>
/// The seam between sandboxes and the kernel's network namespaces: what the sandbox layer needs to allocate a
/// namespace for a container and to release it. <see cref="NetworkNamespaces"/> is the real implementation
/// (iproute2-compatible, under <c>/run/netns</c>); tests substitute a fake.
/// </summary>
public interface INetworkNamespaces
{
    /// <summary>Creates a named namespace the way <c>ip netns add</c> does and returns its path (<c>/run/netns/NAME</c>).</summary>
    /// <exception cref="Protocol.CniException">It already exists, the name is invalid, or the caller lacks the privilege (code 5 or 8).</exception>
    Task<string> CreateAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Deletes a namespace created by name (lazy unmount, then unlink); a missing one is not an error.</summary>
    Task DeleteAsync(string nameOrPath, CancellationToken cancellationToken = default);

    /// <summary>True when the path (or <c>/run/netns/NAME</c>) is a mounted network namespace.</summary>
    bool Exists(string nameOrPath);

    /// <summary>The names of the namespaces in the namespace directory.</summary>
    IReadOnlyList<string> List();

    /// <summary>The path a name stands for (a value containing <c>/</c> is already a path).</summary>
    string GetPath(string nameOrPath);
}
