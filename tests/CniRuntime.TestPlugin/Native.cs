using System.Runtime.InteropServices;

namespace CniRuntime.TestPlugin;

/// <summary>
/// Direct syscalls: cheaper at start-up than System.Console/FileStream, and O_APPEND is not reachable through
/// FileStream (FileMode.Append seeks to the end at open time, so concurrent appenders could overwrite each other).
/// </summary>
internal static partial class Native
{
    private const int OWronly = 0x1, OCreat = 0x40, OAppend = 0x400, OCloexec = 0x80000;
    private const int EIntr = 4;

    public static string LastError => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    /// <summary>Reads <paramref name="fd"/> to EOF (an unopened descriptor reads as empty).</summary>
    public static byte[] ReadToEnd(int fd)
    {
        var buffer = new byte[16 * 1024];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var n = Read(fd, ref buffer[length], buffer.Length - length);
            if (n > 0)
            {
                length += (int)n;
            }
            else if (n == 0 || Marshal.GetLastPInvokeError() != EIntr)
            {
                return buffer[..length];
            }
        }
    }

    /// <summary>Writes everything; returns false if the descriptor fails (e.g. EPIPE when the reader has gone).</summary>
    public static bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = Write(fd, in MemoryMarshal.GetReference(data), data.Length);
            if (n > 0)
            {
                data = data[(int)n..];
            }
            else if (n == 0 || Marshal.GetLastPInvokeError() != EIntr)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Appends <paramref name="line"/> with one write(2) on an O_APPEND descriptor: concurrent writers never interleave.</summary>
    public static void Append(string path, ReadOnlySpan<byte> line)
    {
        var fd = Open(path, OWronly | OCreat | OAppend | OCloexec, 0x1a4 /* 0644 */);
        if (fd < 0)
        {
            throw new IOException($"cannot open log file '{path}': {LastError}");
        }

        try
        {
            var n = Write(fd, in MemoryMarshal.GetReference(line), line.Length);
            if (n != line.Length)
            {
                throw new IOException($"write to log file '{path}' wrote {n} of {line.Length} bytes: {LastError}");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "kill")]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc.so.6", EntryPoint = "getppid")]
    public static partial int GetParentPid();

    [LibraryImport("libc.so.6", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, ref byte buffer, nint count);

    [LibraryImport("libc.so.6", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, in byte buffer, nint count);

    [LibraryImport("libc.so.6", EntryPoint = "close")]
    private static partial int Close(int fd);
}
