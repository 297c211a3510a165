using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace CniRuntime.Namespaces;

/// <summary>
/// An open network namespace: a file descriptor on nsfs that keeps the namespace alive while it is open (even after
/// its <c>/run/netns</c> file is deleted) and that <c>setns</c> accepts. From <see cref="NetworkNamespaces.Open"/>
/// or <see cref="NetworkNamespaces.OpenByProcess"/>.
/// </summary>
public sealed class NetworkNamespaceHandle : IDisposable
{
    internal NetworkNamespaceHandle(SafeFileHandle handle, string path, ulong device, ulong inode)
    {
        Handle = handle;
        Path = path;
        Device = device;
        Inode = inode;
    }

    /// <summary>The namespace file descriptor (opened read-only, close-on-exec).</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>The path it was opened from (<c>/run/netns/NAME</c>, <c>/proc/PID/ns/net</c>, ...).</summary>
    public string Path { get; }

    /// <summary>The nsfs device of the namespace.</summary>
    public ulong Device { get; }

    /// <summary>The namespace's inode number: the number in <c>net:[N]</c> that <c>/proc/PID/ns/net</c> links to.</summary>
    public ulong Inode { get; }

    /// <summary>True when both handles refer to the same namespace (same device and inode).</summary>
    public bool IsSameNamespace(NetworkNamespaceHandle other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Device == other.Device && Inode == other.Inode;
    }

    /// <summary>The namespace as <c>/proc/PID/ns/net</c> names it: <c>net:[N]</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"net:[{Inode}]");

    /// <summary>Closes the descriptor.</summary>
    public void Dispose() => Handle.Dispose();
}
