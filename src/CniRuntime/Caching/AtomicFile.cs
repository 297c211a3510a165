using System.Globalization;
using System.Runtime.InteropServices;
using CniRuntime.Interop;
using CniRuntime.Protocol;
using Microsoft.Win32.SafeHandles;

namespace CniRuntime.Caching;

/// <summary>
/// Writes files so that a reader never sees an empty or half-written file: a temporary file in the same
/// directory, renamed over the target. A durable write also fsyncs the file before the rename and the directory
/// after it, so that even a power loss leaves the old content or the new. Files are 0600 in 0700 directories
/// (they hold container IDs, namespaces and addresses).
/// </summary>
/// <remarks>
/// <para>These files are small and local, so they are read and written synchronously: .NET's asynchronous file I/O
/// on Linux is the same system call made on a thread-pool thread, and the hop costs more than the call.</para>
/// <para>A write that is not durable replaces an existing file by exchanging the two names and unlinking the old
/// content, not by renaming over it: on a rename over a file, ext4 (auto_da_alloc) starts writing the new file's
/// data out and waits for the allocation, about 0.15 ms here, on every ADD and every sandbox change. Readers see
/// the old file or the new either way; only after a power loss can a non-durable file be found empty, which
/// every reader treats as missing or unreadable (and <c>DurableWrites</c> rules out).</para>
/// </remarks>
internal static class AtomicFile
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The steps of a write, in order; the fsyncs only in a durable one.</summary>
    public enum Step
    {
        /// <summary>The temporary file is created.</summary>
        Create,

        /// <summary>The bytes are written to it.</summary>
        Write,

        /// <summary>It is fsynced.</summary>
        SyncFile,

        /// <summary>It is renamed over the target.</summary>
        Rename,

        /// <summary>The directory is fsynced.</summary>
        SyncDirectory,
    }

    /// <summary>
    /// Sees every step of the writes made in the current async flow, with the path it acts on, just before it runs
    /// (an <see cref="IOException"/> it throws fails the write there). For tests; null otherwise.
    /// </summary>
    public static readonly AsyncLocal<Action<Step, string>?> Observer = new();

    /// <summary>A durable write (see the class remarks), as a task.</summary>
    /// <exception cref="CniException">The file cannot be written (code 5); the previous file, if any, is intact.</exception>
    public static Task WriteAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        Synchronously.Run(() =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            Write(path, bytes.Span, durable: true);
        });

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically; <paramref name="durable"/> adds the fsyncs.</summary>
    /// <param name="path">The file.</param>
    /// <param name="bytes">Its new content.</param>
    /// <param name="durable">Whether the file and its directory are fsynced.</param>
    /// <param name="root">
    /// A directory above the file's, created first (mode 0700) when the file's directory is missing; null when
    /// only the file's own directory is to be created.
    /// </param>
    /// <exception cref="CniException">The file cannot be written (code 5); the previous file, if any, is intact.</exception>
    public static void Write(string path, ReadOnlySpan<byte> bytes, bool durable, string? root = null)
    {
        var directory = Path.GetDirectoryName(path)!;
        // Short enough for any target name up to NAME_MAX: the name's first 100 characters say whose it is.
        var name = Path.GetFileName(path);
        var prefix = Path.Combine(directory, $".{name[..Math.Min(name.Length, 100)]}.");
        var temporary = TemporaryName(prefix);
        var created = false;
        var observer = Observer.Value;
        try
        {
            observer?.Invoke(Step.Create, temporary);
            using (var handle = CreateTemporary(ref temporary, prefix, directory, root))
            {
                created = true;
                var fd = (int)handle.DangerousGetHandle();
                observer?.Invoke(Step.Write, temporary);
                ThrowOnError(Libc.WriteAll(fd, bytes));
                if (durable)
                {
                    observer?.Invoke(Step.SyncFile, temporary);
                    ThrowOnError(Libc.Fsync(fd) == 0 ? 0 : Marshal.GetLastPInvokeError());
                }
            }

            observer?.Invoke(Step.Rename, path);
            Replace(temporary, path, durable);
            if (durable)
            {
                observer?.Invoke(Step.SyncDirectory, directory);
                Libc.FsyncDirectory(directory);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (created)
            {
                TryDelete(temporary);
            }

            throw new CniException(CniErrorCode.IoFailure, $"failed to write {path}: {ex.Message}", null, ex);
        }
    }

    // A name nobody else uses: O_EXCL makes sure, and a clash (a stray file of a crashed write) draws another. The
    // name need not be unguessable: the directory is 0700 and the file is never opened through a link.
    private static string TemporaryName(string prefix) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}{Random.Shared.NextInt64():x16}.tmp");

    // The directories are made only when the file cannot be created without them: a write to an existing
    // directory, every write but the first, costs no mkdir and no stat.
    private static SafeFileHandle CreateTemporary(ref string temporary, string prefix, string directory, string? root)
    {
        const int Flags = Libc.OWrOnly | Libc.OCreat | Libc.OExcl | Libc.OCloExec | Libc.ONoFollow;
        var madeDirectories = false;
        for (var clashes = 0; ; )
        {
            var fd = Libc.Open(temporary, Flags, 0x180 /* 0600 */);
            if (fd >= 0)
            {
                return new SafeFileHandle(fd, ownsHandle: true);
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENoEnt or Libc.ENotDir && !madeDirectories)
            {
                // A path component that is not a directory fails here with .NET's message for it.
                if (root is not null)
                {
                    Directory.CreateDirectory(root, DirectoryMode);
                }

                Directory.CreateDirectory(directory, DirectoryMode);
                madeDirectories = true;
            }
            else if (errno == Libc.EExist && ++clashes < 8)
            {
                temporary = TemporaryName(prefix);
            }
            else
            {
                throw errno is Libc.EAccess or Libc.EPerm
                    ? new UnauthorizedAccessException($"cannot create a file in {directory}: {Marshal.GetPInvokeErrorMessage(errno)}")
                    : new IOException($"cannot create a file in {directory}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    private static void ThrowOnError(int errno)
    {
        if (errno != 0)
        {
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
        }
    }

    // Puts the temporary file in the target's place (see the class remarks).
    private static void Replace(string temporary, string path, bool durable)
    {
        // Only a file is exchanged: a directory in the target's place must fail the write, as a rename over it does.
        if (!durable && File.Exists(path) && Libc.Exchange(temporary, path) == 0)
        {
            TryDelete(temporary); // now the old content; a crash before this leaves only a stray temporary file
            return;
        }

        // No file to replace (a plain rename, which ext4 does not flush), a durable write, or no RENAME_EXCHANGE
        // here. rename(2) fails with EISDIR on a directory in the target's place.
        ThrowOnError(Libc.Rename(temporary, path));
    }

    /// <summary>Deletes a file; a missing one, or one that cannot be deleted, is ignored.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Reads a whole file, or null when it does not exist. A symbolic link is refused rather than followed, and
    /// at most <paramref name="maxBytes"/> are read whatever the file claims to be (a device or a FIFO planted in a
    /// state directory could otherwise hang the reader or exhaust memory).
    /// </summary>
    /// <exception cref="IOException">The file exists but cannot be read, is a symbolic link, or is too large.</exception>
    public static byte[]? ReadIfExists(string path, int maxBytes)
    {
        var fd = Libc.Open(path, Libc.ORdOnly | Libc.OCloExec | Libc.ONoFollow | Libc.ONonBlock);
        if (fd < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            return errno switch
            {
                Libc.ENoEnt or 20 /* ENOTDIR: a parent is missing */ => null,
                Libc.ELoop => throw new IOException($"{path} is a symbolic link; state files are never followed through links"),
                _ => throw new IOException($"cannot open {path}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}"),
            };
        }

        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);

        // A regular file says how much to expect (one byte more sees the end at once); anything else starts small.
        var expected = stream.CanSeek ? stream.Length + 1 : 4096;
        var buffer = new byte[(int)Math.Clamp(expected, 1, maxBytes + 1L)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length > maxBytes)
                {
                    throw new IOException($"{path} is more than the {maxBytes} bytes allowed");
                }

                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxBytes + 1L));
            }

            var read = stream.Read(buffer, length, buffer.Length - length);
            if (read == 0)
            {
                break;
            }

            length += read;
        }

        if (length > maxBytes)
        {
            throw new IOException($"{path} is more than the {maxBytes} bytes allowed");
        }

        Array.Resize(ref buffer, length);
        return buffer;
    }
}
