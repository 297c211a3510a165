using CniRuntime.Interop;
using CniRuntime.Protocol;

namespace CniRuntime.Caching;

/// <summary>
/// Writes files so that a crash leaves the old content or the new, never an empty or half-written file: a
/// temporary file in the same directory, fsync, rename over the target, fsync of the directory. Files are 0600 in
/// 0700 directories (they hold container IDs, namespaces and addresses).
/// </summary>
internal static class AtomicFile
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <exception cref="CniException">The file cannot be written (code 5); the previous file, if any, is intact.</exception>
    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory, DirectoryMode);
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                BufferSize = 0,
            };
            var stream = new FileStream(temporary, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            Libc.FsyncDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            TryDelete(temporary);
            if (ex is OperationCanceledException)
            {
                throw;
            }

            throw new CniException(CniErrorCode.IoFailure, $"failed to write {path}: {ex.Message}", null, ex);
        }
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

    /// <summary>Reads a whole file, or null when it does not exist.</summary>
    /// <exception cref="IOException">The file exists but cannot be read.</exception>
    public static async Task<byte[]?> ReadIfExistsAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return null;
            }

            if (info.Length > maxBytes)
            {
                throw new IOException($"{path} is {info.Length} bytes, more than the {maxBytes} allowed");
            }

            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }
}
