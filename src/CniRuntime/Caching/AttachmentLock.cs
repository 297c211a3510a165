using System.Runtime.InteropServices;
using CniRuntime.Interop;
using CniRuntime.Protocol;
using Microsoft.Win32.SafeHandles;

namespace CniRuntime.Caching;

/// <summary>
/// An exclusive lock on one name, held across threads and processes with <c>flock(2)</c> on a lock file.
/// Operations on the same attachment never interleave, whether they come from this process or another
/// <c>cnirt</c>. Disposing releases the lock.
/// </summary>
public sealed class AttachmentLock : IDisposable
{
    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromMilliseconds(50);
    private readonly SafeFileHandle _handle;
    private bool _removeOnRelease;

    private AttachmentLock(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>Deletes the lock file when released, so finished attachments leave no files behind.</summary>
    /// <remarks>Safe against racing lockers: a locker re-checks after locking that the file it holds is still the one at the path.</remarks>
    public void RemoveOnRelease() => _removeOnRelease = true;

    /// <summary>Waits for the lock on <paramref name="path"/>, polling without blocking a thread.</summary>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    /// <exception cref="CniException">The lock file cannot be created (code 5).</exception>
    public static async Task<AttachmentLock> AcquireAsync(string path, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var handle = Open(path);
            var fd = (int)handle.DangerousGetHandle();
            if (Libc.Flock(fd, Libc.LockExclusive | Libc.LockNonBlocking) == 0)
            {
                // A holder may have removed the file between our open and our lock: then we hold a lock on an
                // unlinked inode that nobody else can see, and must start over on the file now at the path.
                if (Libc.Identity(fd) is { } held && Libc.Identity(path) == held)
                {
                    return new AttachmentLock(path, handle);
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
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CniException(CniErrorCode.IoFailure, $"cannot create lock directory for {path}: {ex.Message}", null, ex);
        }

        // open(2) directly: a FileStream takes a flock of its own that would collide with ours.
        var fd = Libc.Open(path, Libc.ORdWr | Libc.OCreat | Libc.OCloExec, 0x180 /* 0600 */);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new CniException(CniErrorCode.IoFailure, $"cannot open lock file {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
