using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CniRuntime.TestPlugin;

/// <summary>Raw byte output on fds 1 and 2 (no System.Console; a closed pipe is ignored).</summary>
internal static class Output
{
    private const int StdoutFd = 1, StderrFd = 2;

    public static void Write(string text) => Native.WriteAll(StdoutFd, Encoding.UTF8.GetBytes(text));

    public static void WriteError(string text) => Native.WriteAll(StderrFd, Encoding.UTF8.GetBytes(text));

    /// <summary>Compact JSON, one write.</summary>
    public static void WriteJson(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            node.WriteTo(w);
        }

        Native.WriteAll(StdoutFd, buffer.WrittenSpan);
    }

    /// <summary>Writes <paramref name="count"/> 'x' bytes, stopping quietly if the reader closes the pipe.</summary>
    public static void WriteXs(long count)
    {
        var chunk = new byte[(int)Math.Min(count, 64 * 1024)];
        chunk.AsSpan().Fill((byte)'x');
        while (count > 0)
        {
            var n = (int)Math.Min(count, chunk.Length);
            if (!Native.WriteAll(StdoutFd, chunk.AsSpan(0, n)))
            {
                return;
            }

            count -= n;
        }
    }

    /// <summary>Prints a CNI error object on stdout and returns <paramref name="exitCode"/>.</summary>
    public static int CniError(string cniVersion, long code, string msg, string? details, int exitCode)
    {
        var error = new JsonObject { ["cniVersion"] = cniVersion, ["code"] = code, ["msg"] = msg };
        if (details is not null)
        {
            error["details"] = details;
        }

        WriteJson(error);
        return exitCode;
    }
}
