using System.Runtime.InteropServices;

namespace CniRuntime.Interop;

/// <summary>
/// The few libc calls .NET has no API for (file locks, inode identity and file type, directory fsync), a
/// directory listing lighter than .NET's on a cold start, and plain open, write and rename for the state files,
/// where a FileStream and File.Move add six system calls to each write.
/// </summary>
internal static unsafe partial class Libc
{
    public const int LockShared = 1;
    public const int LockExclusive = 2;
    public const int LockNonBlocking = 4;
    public const int LockUnlock = 8;
    public const int EWouldBlock = 11;
    public const int EIntr = 4;
    public const int ENoEnt = 2;
    public const int ORdOnly = 0;
    public const int ODirectory = 0x10000;
    public const int OCloExec = 0x80000;
    public const int ORdWr = 2;
    public const int OCreat = 0x40;
    public const int ONoFollow = 0x20000;
    public const int ONonBlock = 0x800;
    public const int ELoop = 40;
    public const int EAccess = 13;
    public const int EPerm = 1;
    public const int ENotDir = 20;
    public const int EExist = 17;
    public const int OWrOnly = 1;
    public const int OExcl = 0x80;

    // The file type bits of a mode (S_IFMT and its values).
    public const int FileTypeMask = 0xF000;
    public const int FileTypeFifo = 0x1000;
    public const int FileTypeCharacterDevice = 0x2000;
    public const int FileTypeDirectory = 0x4000;
    public const int FileTypeBlockDevice = 0x6000;
    public const int FileTypeRegular = 0x8000;
    public const int FileTypeSocket = 0xC000;

    // struct stat starts with st_dev (8 bytes) then st_ino (8 bytes) on both x86-64 and arm64 Linux.
    private const int StatBufferSize = 256;
    private const int InodeOffset = 8;

    // statx(2), unlike stat(2), lays its struct out the same on every architecture: stx_mode (u16) at 28,
    // stx_size (u64) at 40, 256 bytes in all.
    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxSize = 0x200;
    private const int StatxBufferSize = 256;
    private const int StatxModeOffset = 28;
    private const int StatxSizeOffset = 40;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    // open(2) without O_CREAT takes no mode, so the variadic third argument is never read.
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    // With O_CREAT the mode is read as the first variadic argument; on x86-64 and arm64 Linux an int passed as a
    // fixed argument lands where va_arg reads it.
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nint count);

    /// <summary>Writes all of <paramref name="bytes"/> (interrupted and partial writes continued); 0, or the errno.</summary>
    public static int WriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            for (var written = 0; written < bytes.Length;)
            {
                var n = Write(fd, start + written, bytes.Length - written);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != EIntr)
                    {
                        return errno;
                    }

                    continue;
                }

                written += (int)n;
            }
        }

        return 0;
    }

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameRaw(string oldPath, string newPath);

    /// <summary>rename(2): 0, or the errno (EISDIR when a directory is in the new path's place).</summary>
    public static int Rename(string oldPath, string newPath) => RenameRaw(oldPath, newPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int Fstat(int fd, byte* buffer);

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, byte* buffer);

    /// <summary>The (device, inode) of an open file, or null on failure.</summary>
    public static (ulong Device, ulong Inode)? Identity(int fd)
    {
        var buffer = stackalloc byte[StatBufferSize];
        return Fstat(fd, buffer) == 0 ? (*(ulong*)buffer, *(ulong*)(buffer + InodeOffset)) : null;
    }

    /// <summary>The (device, inode) a path names now, or null when it does not exist.</summary>
    public static (ulong Device, ulong Inode)? Identity(string path)
    {
        var buffer = stackalloc byte[StatBufferSize];
        return Stat(path, buffer) == 0 ? (*(ulong*)buffer, *(ulong*)(buffer + InodeOffset)) : null;
    }

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirectoryFd, string oldPath, int newDirectoryFd, string newPath, uint flags);

    /// <summary>
    /// Swaps two existing paths atomically (<c>renameat2</c> with <c>RENAME_EXCHANGE</c>); 0, or the errno: ENOENT
    /// when either is missing, EINVAL or ENOSYS where the file system or kernel cannot exchange.
    /// </summary>
    public static int Exchange(string path, string otherPath) =>
        RenameAt2(AtFdCwd, path, AtFdCwd, otherPath, 2 /* RENAME_EXCHANGE */) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>The mode (type and permission bits) of what a path names, symbolic links followed, or null when it cannot be examined.</summary>
    public static int? Mode(string path)
    {
        var buffer = stackalloc byte[StatxBufferSize];
        return Statx(AtFdCwd, path, 0, StatxType | StatxMode, buffer) == 0 ? *(ushort*)(buffer + StatxModeOffset) : null;
    }

    /// <summary>The file type bits (<c>S_IFMT</c> of the mode) and size of an open file, or null with <paramref name="errno"/> set.</summary>
    public static (int Type, long Size)? TypeAndSize(int fd, out int errno)
    {
        var buffer = stackalloc byte[StatxBufferSize];
        if (Statx(fd, string.Empty, AtEmptyPath, StatxType | StatxSize, buffer) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        errno = 0;
        return (*(ushort*)(buffer + StatxModeOffset) & FileTypeMask, *(long*)(buffer + StatxSizeOffset));
    }

    /// <summary>Flushes a directory's entries (a rename into it) to disk; best effort.</summary>
    public static void FsyncDirectory(string path)
    {
        var fd = Open(path, ORdOnly | ODirectory | OCloExec);
        if (fd >= 0)
        {
            _ = Fsync(fd);
            _ = Close(fd);
        }
    }

    // struct dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then the name, on every Linux architecture.
    private const int DirentTypeOffset = 18;
    private const int DirentNameOffset = 19;
    private const byte DirentTypeDirectory = 4;
    private const byte DirentTypeSymbolicLink = 10;
    private const byte DirentTypeUnknown = 0;

    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint OpenDirectory(string path);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial byte* ReadDirectory(nint directory);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDirectory(nint directory);

    /// <summary>
    /// The names in a directory other than <c>.</c> and <c>..</c>, with whether each is a directory (a symbolic link
    /// is followed; one that leads nowhere is not a directory); null when there is no directory at the path. Unlike
    /// <see cref="Directory.EnumerateFiles(string)"/>, it costs a few microseconds in a process that has not
    /// enumerated a directory before, not ~50.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be read (EACCES, EPERM).</exception>
    /// <exception cref="IOException">Any other failure.</exception>
    public static List<(string Name, bool IsDirectory)>? ListDirectory(string path)
    {
        var directory = OpenDirectory(path);
        if (directory == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENoEnt or ENotDir ? null : throw DirectoryError(path, errno);
        }

        try
        {
            var entries = new List<(string, bool)>();
            while (true)
            {
                var entry = ReadDirectory(directory);
                if (entry is null)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    return errno == 0 ? entries : throw DirectoryError(path, errno);
                }

                var name = Marshal.PtrToStringUTF8((nint)(entry + DirentNameOffset))!;
                if (name is "." or "..")
                {
                    continue;
                }

                var type = entry[DirentTypeOffset];
                var isDirectory = type is DirentTypeSymbolicLink or DirentTypeUnknown
                    ? (Mode(Path.Join(path, name)) & FileTypeMask) == FileTypeDirectory
                    : type == DirentTypeDirectory;
                entries.Add((name, isDirectory));
            }
        }
        finally
        {
            _ = CloseDirectory(directory);
        }
    }

    // The messages .NET's own directory enumeration gives for the same errors.
    private static Exception DirectoryError(string path, int errno) => errno is EAccess or EPerm
        ? new UnauthorizedAccessException($"Access to the path '{path}' is denied.")
        : new IOException($"{Marshal.GetPInvokeErrorMessage(errno)} : '{path}'");
}
