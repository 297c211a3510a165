using System.Runtime.InteropServices;
using CniRuntime.Interop;
using CniRuntime.Protocol;
using Microsoft.Win32.SafeHandles;

namespace CniRuntime.Caching;

/// <summary>
/// A lock held across threads and processes with <c>flock(2)</c> on a lock file: exclusive (one holder) or shared
/// (many holders, no exclusive one). Operations on the same attachment or sandbox never interleave, whether they
/// come from this process or another <c>cnirt</c>; GC takes the exclusive side of a lock that setup and teardown
/// share. Disposing releases the lock.
/// </summary>
public sealed class FileLock : IDisposable
{
    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromMilliseconds(50);
    private readonly SafeFileHandle _handle;
    private bool _removeOnRelease;

    private FileLock(string path, SafeFileHandle handle, bool shared)
    {
        Path = path;
        _handle = handle;
        IsShared = shared;
    }

    /// <summary>True for a shared lock.</summary>
    public bool IsShared { get; }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>Deletes the lock file when released, so finished attachments leave no files behind.</summary>
    /// <remarks>Safe against racing lockers: a locker re-checks after locking that the file it holds is still the one at the path.</remarks>
    /// <exception cref="InvalidOperationException">The lock is shared: other holders still use the file.</exception>
    public void RemoveOnRelease() =>
        _removeOnRelease = IsShared ? throw new InvalidOperationException("a shared lock's file cannot be removed") : true;

    /// <summary>Waits for the lock on <paramref name="path"/>, polling without blocking a thread.</summary>
    /// <param name="path">The lock file (created if missing, with its directory).</param>
    /// <param name="timeProvider">The clock for the polling pauses.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <param name="shared">True for a shared lock; a shared lock's file is never removed.</param>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    /// <exception cref="CniException">The lock file cannot be created (code 5).</exception>
    public static async Task<FileLock> AcquireAsync(string path, TimeProvider timeProvider, CancellationToken cancellationToken, bool shared = false)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        var operation = (shared ? Libc.LockShared : Libc.LockExclusive) | Libc.LockNonBlocking;
        var delay = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var handle = Open(path);
            var fd = (int)handle.DangerousGetHandle();
            if (Libc.Flock(fd, operation) == 0)
            {
                // A holder may have removed the file between our open and our lock: then we hold a lock on an
                // unlinked inode that nobody else can see, and must start over on the file now at the path.
                if (Libc.Identity(fd) is { } held && Libc.Identity(path) == held)
                {
                    return new FileLock(path, handle, shared);
                }
            }
            else
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (Libc.EWouldBlock or Libc.EIntr))
                {
                    handle.Dispose();
                    throw new CniException(CniErrorCode.IoFailure, $"cannot lock {path}: errno {errno}");
                }
            }

            handle.Dispose();
            await Task.Delay(delay, timeProvider, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxPollInterval.Ticks));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_handle.IsClosed)
        {
            return;
        }

        if (_removeOnRelease)
        {
            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
            }
        }

        _handle.Dispose();
    }

    private static SafeFileHandle Open(string path)
    {
        // open(2) directly: a FileStream takes a flock of its own that would collide with ours. A symbolic link
        // planted in the lock directory is refused, not followed (which would create or lock a file elsewhere).
        // The directory is made only when the open finds it missing, so a lock usually costs no mkdir.
        const int Flags = Libc.ORdWr | Libc.OCreat | Libc.OCloExec | Libc.ONoFollow;
        var fd = Libc.Open(path, Flags, 0x180 /* 0600 */);
        if (fd < 0 && Marshal.GetLastPInvokeError() is Libc.ENoEnt or Libc.ENotDir)
        {
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!, AtomicFile.DirectoryMode);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CniException(CniErrorCode.IoFailure, $"cannot create lock directory for {path}: {ex.Message}", null, ex);
            }

            fd = Libc.Open(path, Flags, 0x180 /* 0600 */);
        }

        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new CniException(CniErrorCode.IoFailure, $"cannot open lock file {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
