using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using CniRuntime.Interop;
using Microsoft.Win32.SafeHandles;
using static CniRuntime.Interop.NamespaceInterop;

namespace CniRuntime.Namespaces;

/// <summary>
/// Named network namespaces the way iproute2 keeps them: an empty file <c>&lt;directory&gt;/NAME</c> (default
/// <c>/run/netns</c>) onto which the namespace is bind-mounted, in a directory that is a shared mount, so that
/// <c>ip netns</c> and this class see, enter and delete the same namespaces.
/// </summary>
/// <remarks>
/// <para>Everything that changes a thread's namespace happens on a dedicated <see cref="Thread"/> made for that one
/// operation, never on the caller's thread or a pool thread, and that thread exits afterwards: a thread that could not
/// be restored is never reused. Paths are resolved by <see cref="GetPath"/>: a value without '/' is a name in the
/// directory, a value with '/' is a path.</para>
/// <para>Creating, entering and deleting need CAP_SYS_ADMIN; <see cref="Exists"/>, <see cref="List"/> and
/// <see cref="Open"/> of a namespace file usually do not.</para>
/// </remarks>
public sealed class NetworkNamespaces : INetworkNamespaces
{
    /// <summary>iproute2's directory of named network namespaces.</summary>
    public const string DefaultDirectory = "/run/netns";

    /// <summary>The longest name, in UTF-8 bytes (NAME_MAX).</summary>
    public const int MaxNameBytes = 255;

    private const string ThreadSelfNet = "/proc/thread-self/ns/net";
    private const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Uses <paramref name="directory"/> (default <c>/run/netns</c>) for named namespaces.</summary>
    public NetworkNamespaces(string directory = DefaultDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
    }

    /// <summary>The directory of named namespaces (absolute, without a trailing '/').</summary>
    public string Directory { get; }

    /// <summary>
    /// True when <paramref name="name"/> can name a namespace: not empty, no '/' or NUL, not <c>.</c> or <c>..</c>,
    /// at most 255 UTF-8 bytes.
    /// </summary>
    public static bool IsValidName(string? name) => NameProblem(name) is null;

    /// <summary>The file a name or path refers to: <c>&lt;directory&gt;/NAME</c> for a name, the full path for a value containing '/'.</summary>
    /// <exception cref="NetworkNamespaceException">A name (no '/') that is not valid (<see cref="NetworkNamespaceError.InvalidName"/>).</exception>
    public string GetPath(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (nameOrPath.Contains('/', StringComparison.Ordinal))
        {
            return nameOrPath.Contains('\0', StringComparison.Ordinal)
                ? throw InvalidName(nameOrPath, "it contains a NUL character")
                : Path.GetFullPath(nameOrPath);
        }

        return NameProblem(nameOrPath) is { } problem ? throw InvalidName(nameOrPath, problem) : Path.Join(Directory, nameOrPath);
    }

    /// <summary>
    /// Creates a named namespace as <c>ip netns add</c> does: makes the directory a shared mount (bind-mounting it
    /// onto itself first if it is not a mount point), creates <c>&lt;directory&gt;/NAME</c> exclusively with mode 0,
    /// and on a dedicated thread unshares a new network namespace and bind-mounts that thread's namespace onto the
    /// file. On failure the file is removed. Returns the file's path.
    /// </summary>
    /// <remarks>The work (well under a millisecond) runs on its own thread; <paramref name="cancellationToken"/> is
    /// checked before it starts, not during, so a namespace is never half made or made after cancellation.</remarks>
    /// <exception cref="NetworkNamespaceException">The name is invalid, the file already exists, or the caller lacks CAP_SYS_ADMIN.</exception>
    public async Task<string> CreateAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        cancellationToken.ThrowIfCancellationRequested();
        if (name.Contains('/', StringComparison.Ordinal) || NameProblem(name) is not null)
        {
            throw InvalidName(name, NameProblem(name) ?? "it contains '/'");
        }

        var path = Path.Join(Directory, name);
        return await DedicatedThread.RunAsync("cnirt-netns-create", () => CreateCore(path), smallStack: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes a namespace file in the directory as <c>ip netns delete</c> does: a lazy unmount (repeated while
    /// namespaces are stacked on it), then unlink. A missing file is not an error; a file that is not mounted (left by
    /// an interrupted create) is simply removed. The namespace itself lives on while a process or handle still uses it.
    /// </summary>
    /// <exception cref="NetworkNamespaceException">The path is outside the directory (nothing is touched), the name is
    /// invalid, or the caller lacks the privilege.</exception>
    public Task DeleteAsync(string nameOrPath, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        try
        {
            // Two system calls, no namespace change: done on the caller's thread.
            Delete(nameOrPath);
            return Task.CompletedTask;
        }
        catch (Exception ex) when (ex is NetworkNamespaceException or ArgumentException)
        {
            return Task.FromException(ex);
        }
    }

    /// <summary>The synchronous form of <see cref="DeleteAsync"/>.</summary>
    /// <exception cref="NetworkNamespaceException">See <see cref="DeleteAsync"/>.</exception>
    public void Delete(string nameOrPath)
    {
        var path = GetPath(nameOrPath);
        if (!string.Equals(Path.GetDirectoryName(path), Directory, StringComparison.Ordinal))
        {
            throw new NetworkNamespaceException(
                NetworkNamespaceError.OutsideDirectory,
                path,
                $"refusing to delete \"{path}\": it is not in the network namespace directory {Directory}");
        }

        // UMOUNT_NOFOLLOW: a symbolic link in the directory is removed, never followed to unmount what it points at.
        for (var i = 0; i < 64 && Umount2(path, MntDetach | UmountNoFollow) == 0; i++)
        {
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno is EPerm)
        {
            // umount2 checks the privilege before it looks at the path: without CAP_SYS_ADMIN a missing file or an
            // unmounted leftover is still no reason to fail.
            var type = FileSystemType(path, out var statErrno);
            if (type is null && statErrno == ENoEnt)
            {
                return;
            }

            errno = type == NsfsMagic ? EPerm : EInval;
        }

        if (errno is not (EInval or ENoEnt))
        {
            throw Failure("unmount", path, errno);
        }

        if (Unlink(path) != 0 && (errno = Marshal.GetLastPInvokeError()) != ENoEnt)
        {
            throw Failure("remove", path, errno);
        }
    }

    /// <summary>
    /// True when the path (or <c>&lt;directory&gt;/NAME</c>) is a network namespace: it lives on nsfs
    /// (<c>statfs</c> f_type NSFS_MAGIC, 0x6e736673, which a bind-mounted namespace file and <c>/proc/PID/ns/*</c>
    /// report and an unmounted file does not) and, when it can be opened, the kernel says it is a network one
    /// (<c>ioctl NS_GET_NSTYPE</c> is CLONE_NEWNET). The mount table is not read. Never throws: an invalid name is false.
    /// </summary>
    public bool Exists(string nameOrPath)
    {
        if (nameOrPath is null || (!nameOrPath.Contains('/', StringComparison.Ordinal) && !IsValidName(nameOrPath)))
        {
            return false;
        }

        var path = GetPath(nameOrPath);
        if (FileSystemType(path, out _) != NsfsMagic)
        {
            return false;
        }

        var fd = NamespaceInterop.Open(path, ORdOnly | OCloExec, 0);
        if (fd < 0)
        {
            // On nsfs but not openable (EACCES for another user's namespace): take statfs's word.
            return true;
        }

        try
        {
            return NamespaceType(fd) == CloneNewNet;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>The names of the network namespaces in the directory (files that are not namespaces are left out), sorted.</summary>
    public IReadOnlyList<string> List()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        var names = new List<string>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(path);
            if (IsValidName(name) && Exists(path))
            {
                names.Add(name);
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>Opens a network namespace by name or path; the handle keeps it alive until disposed.</summary>
    /// <exception cref="NetworkNamespaceException">It does not exist, is not a network namespace, or may not be opened.</exception>
    public NetworkNamespaceHandle Open(string nameOrPath) => OpenPath(GetPath(nameOrPath));

    /// <summary>Opens the network namespace a process is in (<c>/proc/PID/ns/net</c>, the thread-group leader's).</summary>
    /// <exception cref="NetworkNamespaceException">The process does not exist or its namespace may not be opened.</exception>
    public static NetworkNamespaceHandle OpenByProcess(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        return OpenPath(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/ns/net"));
    }

    /// <summary>
    /// Runs <paramref name="action"/> inside the namespace on a dedicated thread and returns its result; the
    /// calling thread waits. The thread enters with <c>setns</c>, runs the action, restores its namespace in a
    /// <c>finally</c> and exits, so it is never reused, whether or not the restore worked. Exceptions from the action
    /// reach the caller with their stack trace.
    /// </summary>
    /// <remarks>
    /// <para>The action must be synchronous and self-contained: it must not start threads, use the thread pool
    /// (<c>Task.Run</c>, timers, async I/O, <c>await</c>), or log through background threads, because any thread
    /// created while inside inherits the namespace, and pool threads made that way serve the whole process from
    /// inside it. Netlink sockets, <c>NetworkInterface.GetAllNetworkInterfaces()</c> and <c>/proc/thread-self/net/*</c>
    /// see the namespace; <c>/proc/self/net/*</c> and <c>/sys/class/net</c> do not (they show the thread-group
    /// leader's namespace and the mounted sysfs). A child started with <c>Process.Start</c> from the action runs in
    /// the namespace; read its output synchronously (asynchronous reads use the pool). The runtime's signal thread,
    /// which a first <c>Process.Start</c> would create inside, is started beforehand on the caller's thread.
    /// Runtime threads that never touch the network (the JIT's tiering worker, the background GC thread) may still be
    /// born inside when the action triggers them; they only keep the namespace alive until they exit.</para>
    /// </remarks>
    /// <exception cref="NetworkNamespaceException">The namespace does not exist, is not a network namespace, or may not be entered.</exception>
    public T Run<T>(string nameOrPath, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        using var target = Open(nameOrPath);
        return Run(target, action);
    }

    /// <summary>Runs <paramref name="action"/> inside the namespace on a dedicated thread; see <see cref="Run{T}(string, Func{T})"/>.</summary>
    /// <exception cref="NetworkNamespaceException">The namespace does not exist, is not a network namespace, or may not be entered.</exception>
    public void Run(string nameOrPath, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _ = Run(nameOrPath, () =>
        {
            action();
            return true;
        });
    }

    /// <summary>Runs <paramref name="action"/> inside an open namespace on a dedicated thread; see <see cref="Run{T}(string, Func{T})"/>.</summary>
    /// <exception cref="NetworkNamespaceException">The namespace may not be entered.</exception>
    public static T Run<T>(NetworkNamespaceHandle networkNamespace, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(networkNamespace);
        ArgumentNullException.ThrowIfNull(action);
        return DedicatedThread.Run("cnirt-netns-run", () => Enter(networkNamespace, action));
    }

    /// <summary>
    /// Runs <paramref name="action"/> inside the namespace on a dedicated thread without blocking the caller; the
    /// same rules as <see cref="Run{T}(string, Func{T})"/> apply to the action. Cancellation is checked before it starts.
    /// </summary>
    /// <exception cref="NetworkNamespaceException">The namespace does not exist, is not a network namespace, or may not be entered.</exception>
    public async Task<T> RunAsync<T>(string nameOrPath, Func<T> action, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        cancellationToken.ThrowIfCancellationRequested();
        using var target = Open(nameOrPath);
        return await DedicatedThread.RunAsync("cnirt-netns-run", () => Enter(target, action)).ConfigureAwait(false);
    }

    private static string? NameProblem(string? name) => name switch
    {
        null or "" => "it is empty",
        "." or ".." => "it is \".\" or \"..\"",
        _ when name.Contains('/', StringComparison.Ordinal) => "it contains '/'",
        _ when name.Contains('\0', StringComparison.Ordinal) => "it contains a NUL character",
        _ when Encoding.UTF8.GetByteCount(name) > MaxNameBytes => string.Create(CultureInfo.InvariantCulture, $"it is longer than {MaxNameBytes} bytes"),
        _ => null,
    };

    private static NetworkNamespaceException InvalidName(string name, string problem) =>
        new(NetworkNamespaceError.InvalidName, name, $"invalid network namespace name \"{name}\": {problem}");

    /// <summary>On the dedicated thread: iproute2's netns_add.</summary>
    private string CreateCore(string path)
    {
        EnsureSharedDirectory();

        // O_EXCL: two creators of one name cannot both succeed; mode 0 as iproute2 makes it.
        var fd = NamespaceInterop.Open(path, ORdOnly | OCreat | OExcl | OCloExec, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == EExist
                ? new NetworkNamespaceException(NetworkNamespaceError.AlreadyExists, path, $"network namespace \"{path}\" already exists", errno)
                : Failure("create namespace file", path, errno);
        }

        _ = Close(fd);
        try
        {
            BindNewNamespace(path);
        }
        catch
        {
            _ = Unlink(path);
            throw;
        }

        return path;
    }

    private void EnsureSharedDirectory()
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory, DirectoryMode);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new NetworkNamespaceException(
                NetworkNamespaceError.NotPermitted, Directory, $"cannot create the network namespace directory {Directory}: permission denied: it needs write access to {System.IO.Path.GetDirectoryName(Directory)} (run as root)", EAcces, ex);
        }
        catch (IOException ex)
        {
            throw new NetworkNamespaceException(
                NetworkNamespaceError.SystemError, Directory, $"cannot create the network namespace directory {Directory}: {ex.Message}", null, ex);
        }

        // Shared, so a namespace mounted here shows in every mount namespace that shares it (and is unmounted from
        // all of them by delete). A directory that is not a mount point gives EINVAL: make it one, once.
        var madeMountPoint = false;
        while (Mount(string.Empty, Directory, "none", MsShared | MsRec, 0) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EInval || madeMountPoint)
            {
                throw Failure("make shared mount", Directory, errno);
            }

            if (Mount(Directory, Directory, "none", MsBind | MsRec, 0) != 0)
            {
                throw Failure("bind mount", Directory, Marshal.GetLastPInvokeError());
            }

            madeMountPoint = true;
        }
    }

    /// <summary>On the dedicated thread: unshare, bind-mount this thread's namespace, restore.</summary>
    private static void BindNewNamespace(string path)
    {
        var original = OpenThreadNamespace();
        try
        {
            if (Unshare(CloneNewNet) != 0)
            {
                throw Failure("create network namespace (unshare)", path, Marshal.GetLastPInvokeError());
            }

            try
            {
                // This thread's namespace, never /proc/self/ns/net (the thread-group leader's).
                var source = string.Create(CultureInfo.InvariantCulture, $"/proc/self/task/{Gettid()}/ns/net");
                if (Mount(source, path, "none", MsBind, 0) != 0)
                {
                    throw Failure($"bind mount {source} onto", path, Marshal.GetLastPInvokeError());
                }
            }
            finally
            {
                // If this fails the thread is left in the new namespace; it exits right after and is never reused.
                _ = Setns(original, CloneNewNet);
            }
        }
        finally
        {
            _ = Close(original);
        }
    }

    /// <summary>On the dedicated thread: setns into the target, run, restore.</summary>
    private static T Enter<T>(NetworkNamespaceHandle target, Func<T> action)
    {
        var original = OpenThreadNamespace();
        try
        {
            var added = false;
            target.Handle.DangerousAddRef(ref added);
            try
            {
                if (Setns((int)target.Handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    throw errno == EInval
                        ? NotNetworkNamespace(target.Path, "setns refused it")
                        : Failure("enter network namespace", target.Path, errno);
                }
            }
            finally
            {
                if (added)
                {
                    target.Handle.DangerousRelease();
                }
            }

            try
            {
                return action();
            }
            finally
            {
                // If this fails the thread stays inside; it is dedicated and exits right after, so nothing reuses it.
                _ = Setns(original, CloneNewNet);
            }
        }
        finally
        {
            _ = Close(original);
        }
    }

    private static int OpenThreadNamespace()
    {
        var fd = NamespaceInterop.Open(ThreadSelfNet, ORdOnly | OCloExec, 0);
        return fd >= 0 ? fd : throw Failure("open", ThreadSelfNet, Marshal.GetLastPInvokeError());
    }

    private static NetworkNamespaceHandle OpenPath(string path)
    {
        var fd = NamespaceInterop.Open(path, ORdOnly | OCloExec, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno is ENoEnt or ENotDir
                ? new NetworkNamespaceException(NetworkNamespaceError.NotFound, path, $"network namespace \"{path}\" does not exist", errno)
                : Failure("open network namespace", path, errno);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (FileSystemType(fd, out var errno) is not { } type)
            {
                throw Failure("statfs", path, errno);
            }

            if (type != NsfsMagic)
            {
                throw NotNetworkNamespace(path, "it is not a namespace file (a regular file, a directory, or a namespace file left unmounted)");
            }

            var nsType = NamespaceType(fd);
            if (nsType != CloneNewNet)
            {
                throw NotNetworkNamespace(path, nsType < 0 ? "the kernel does not report its namespace type" : $"it is a {TypeName(nsType)} namespace");
            }

            var identity = Libc.Identity(fd) ?? throw Failure("stat", path, Marshal.GetLastPInvokeError());
            return new NetworkNamespaceHandle(handle, path, identity.Device, identity.Inode);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static string TypeName(int cloneFlag) => cloneFlag switch
    {
        0x00020000 => "mount",
        0x02000000 => "cgroup",
        0x04000000 => "uts",
        0x08000000 => "ipc",
        0x10000000 => "user",
        0x20000000 => "pid",
        0x00000080 => "time",
        _ => string.Create(CultureInfo.InvariantCulture, $"0x{cloneFlag:x}"),
    };

    private static NetworkNamespaceException NotNetworkNamespace(string path, string why) =>
        new(NetworkNamespaceError.NotNetworkNamespace, path, $"\"{path}\" is not a network namespace: {why}");

    private static NetworkNamespaceException Failure(string operation, string path, int errno)
    {
        var text = Marshal.GetPInvokeErrorMessage(errno);
        return errno is EPerm or EAcces
            ? new NetworkNamespaceException(
                NetworkNamespaceError.NotPermitted,
                path,
                $"{operation} \"{path}\": {text}: network namespaces need CAP_SYS_ADMIN (run as root)",
                errno)
            : new NetworkNamespaceException(
                NetworkNamespaceError.SystemError,
                path,
                string.Create(CultureInfo.InvariantCulture, $"{operation} \"{path}\" failed: {text} (errno {errno})"),
                errno);
    }
}
