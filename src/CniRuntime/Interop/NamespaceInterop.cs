using System.Runtime.InteropServices;

namespace CniRuntime.Interop;

/// <summary>The libc calls behind network namespaces: unshare, setns, mount, umount2, statfs and the nsfs ioctl.</summary>
internal static unsafe partial class NamespaceInterop
{
    public const int CloneNewNet = 0x40000000;

    public const ulong MsBind = 0x1000;
    public const ulong MsRec = 0x4000;
    public const ulong MsShared = 1 << 20;

    public const int MntDetach = 2;
    public const int UmountNoFollow = 8;

    public const int ORdOnly = 0;
    public const int OCreat = 0x40;
    public const int OExcl = 0x80;
    public const int OCloExec = 0x80000;

    public const int EPerm = 1;
    public const int ENoEnt = 2;
    public const int EIntr = 4;
    public const int EAcces = 13;
    public const int EExist = 17;
    public const int ENotDir = 20;
    public const int EInval = 22;
    public const int ENameTooLong = 36;

    /// <summary>statfs f_type of the namespace filesystem (nsfs), which bind-mounted namespace files and /proc/PID/ns/* live on.</summary>
    public const long NsfsMagic = 0x6e736673;

    /// <summary><c>NS_GET_NSTYPE</c> = <c>_IO(0xb7, 0x3)</c>: the CLONE_NEW* type of the namespace an nsfs fd refers to (Linux 4.11).</summary>
    private const ulong NsGetNsType = 0xb703;

    // struct statfs starts with f_type as a long (__fsword_t) on x86-64 and arm64; the whole struct is 120 bytes.
    private const int StatfsBufferSize = 256;

    [LibraryImport("libc", EntryPoint = "unshare", SetLastError = true)]
    public static partial int Unshare(int flags);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int Setns(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "gettid")]
    public static partial int Gettid();

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fileSystemType, ulong flags, nint data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlink(string path);

    // open(2) is variadic; with O_CREAT the mode is read as the first variadic argument, which on x86-64 and arm64
    // Linux is where a fixed int argument lands (as Libc.Open does).
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    // ioctl(2) is variadic too; NS_GET_NSTYPE reads no argument.
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, ulong request);

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statfs(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int Fstatfs(int fd, byte* buffer);

    /// <summary>The filesystem type (statfs f_type) a path lives on, or null with <paramref name="errno"/> set.</summary>
    public static long? FileSystemType(string path, out int errno)
    {
        var buffer = stackalloc byte[StatfsBufferSize];
        if (Statfs(path, buffer) == 0)
        {
            errno = 0;
            return *(long*)buffer;
        }

        errno = Marshal.GetLastPInvokeError();
        return null;
    }

    /// <summary>The filesystem type (fstatfs f_type) of an open file, or null with <paramref name="errno"/> set.</summary>
    public static long? FileSystemType(int fd, out int errno)
    {
        var buffer = stackalloc byte[StatfsBufferSize];
        if (Fstatfs(fd, buffer) == 0)
        {
            errno = 0;
            return *(long*)buffer;
        }

        errno = Marshal.GetLastPInvokeError();
        return null;
    }

    /// <summary>The CLONE_NEW* type of the namespace an nsfs fd refers to, or -1 (not a namespace fd).</summary>
    public static int NamespaceType(int fd) => Ioctl(fd, NsGetNsType);
}
