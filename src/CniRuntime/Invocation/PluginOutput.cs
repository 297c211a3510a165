using System.Globalization;
using System.Text;
using System.Text.Json;
using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>Turns how a plugin exited into its output, or into the error it reported, keeping everything known.</summary>
internal static class PluginOutput
{
    private const int MaxQuoted = 1024;

    /// <summary>Returns stdout of a successful run, or throws the plugin's error.</summary>
    /// <exception cref="CniPluginException">The plugin exited non-zero with a CNI error object.</exception>
    /// <exception cref="CniPluginExecutionException">The plugin failed without a usable error object.</exception>
    public static ReadOnlyMemory<byte> Interpret(PluginProcessResult result, string pluginPath)
    {
        if (result.StdoutTruncated)
        {
            throw new CniPluginExecutionException(
                string.Create(CultureInfo.InvariantCulture, $"plugin printed more than {result.Stdout.Length} bytes; output refused"),
                pluginPath,
                result.ExitCode,
                result.Stderr);
        }

        if (result.ExitCode == 0)
        {
            return result.Stdout;
        }

        var exit = string.Create(CultureInfo.InvariantCulture, $"exit status {result.ExitCode}");
        var stdout = result.Stdout.Span.Trim(" \t\r\n"u8);
        if (stdout.IsEmpty)
        {
            var stderr = result.Stderr.Trim();
            throw new CniPluginExecutionException(
                stderr.Length == 0
                    ? $"netplugin failed with no error message: {exit}"
                    : $"netplugin failed: \"{Quote(stderr)}\": {exit}",
                pluginPath,
                result.ExitCode,
                result.Stderr);
        }

        if (TryReadError(stdout, out var code, out var message, out var details, out var problem))
        {
            throw new CniPluginException(code, message, details, pluginPath, result.ExitCode, result.Stderr);
        }

        throw new CniPluginExecutionException(
            $"netplugin failed but error parsing its diagnostic message \"{Quote(Encoding.UTF8.GetString(stdout))}\": {problem}; {exit}",
            pluginPath,
            result.ExitCode,
            result.Stderr);
    }

    /// <summary>Reads a CNI error object (<c>code</c>, <c>msg</c>, <c>details</c>).</summary>
    public static bool TryReadError(ReadOnlySpan<byte> json, out CniErrorCode code, out string message, out string? details, out string? problem)
    {
        code = CniErrorCode.Unknown;
        message = string.Empty;
        details = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "expected a JSON object";
                return false;
            }

            if (root.TryGetProperty("code", out var codeElement))
            {
                if (!codeElement.TryGetUInt32(out var raw))
                {
                    problem = "code is not a non-negative integer";
                    return false;
                }

                code = (CniErrorCode)raw;
            }

            if (root.TryGetProperty("msg", out var msg) && msg.ValueKind == JsonValueKind.String)
            {
                message = msg.GetString() ?? string.Empty;
            }

            if (root.TryGetProperty("details", out var detailsElement) && detailsElement.ValueKind == JsonValueKind.String)
            {
                details = detailsElement.GetString();
            }

            if (code == CniErrorCode.Unknown && message.Length == 0 && details is null)
            {
                problem = "not a CNI error object (no code, msg or details)";
                return false;
            }

            problem = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            problem = ex.Message;
            return false;
        }
    }

    private static string Quote(string text) => text.Length <= MaxQuoted ? text : text[..MaxQuoted] + "…";
}
