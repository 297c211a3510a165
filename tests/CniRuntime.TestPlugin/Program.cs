using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CniRuntime.TestPlugin;

/// <summary>
/// A scriptable CNI plugin for the tests (the counterpart of libcni's <c>noop</c> test plugin):
/// records each call to a log file and answers as a JSON script says. See README.md.
/// </summary>
internal static class Program
{
    private const string DefaultCniVersion = "1.1.0";

    private static readonly string[] DefaultSupportedVersions = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

    private static int Main()
    {
        try
        {
            return Run();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ScriptException)
        {
            Output.WriteError($"CniRuntime.TestPlugin: {e.Message}\n");
            return 2;
        }
    }

    private static int Run()
    {
        var command = Environment.GetEnvironmentVariable("CNI_COMMAND");
        var stdin = Native.ReadToEnd(0);
        var (stdinIsJson, stdinJson) = TryParse(stdin);
        var config = stdinJson as JsonObject;
        var confVersion = GetString(config, "cniVersion") ?? DefaultCniVersion;

        var scriptPath = DebugArg(Environment.GetEnvironmentVariable("CNI_ARGS")) ?? GetString(config, "debugFile");
        var script = Script.Empty;
        ScriptException? scriptError = null;
        if (scriptPath is not null)
        {
            try
            {
                script = Script.Load(scriptPath, command);
            }
            catch (ScriptException e)
            {
                scriptError = e;
            }
        }

        // Record first, before anything scripted (a broken script still records via config "commandLog").
        var logFile = script.LogFile ?? GetString(config, "commandLog");
        if (logFile is not null)
        {
            Recorder.Record(logFile, command, stdin, stdinIsJson, stdinJson);
        }

        if (scriptError is not null)
        {
            throw scriptError;
        }

        if (string.IsNullOrEmpty(command))
        {
            return Output.CniError(confVersion, 4, "CNI_COMMAND is not set", null, 1);
        }

        if (command is not ("ADD" or "DEL" or "CHECK" or "STATUS" or "GC" or "VERSION"))
        {
            return Output.CniError(confVersion, 4, $"unknown CNI_COMMAND: {command}", null, 1);
        }

        if (script.SpawnGrandchild)
        {
            SpawnGrandchild(logFile);
        }

        if (script.DelayMs > 0)
        {
            Thread.Sleep(script.DelayMs);
        }

        if (script.Stderr is not null)
        {
            Output.WriteError(script.Stderr);
        }

        if (script.Signal > 0)
        {
            // Dies of the signal as a crashing plugin would; should it be caught, the plugin still ends.
            _ = Native.Kill(Environment.ProcessId, script.Signal);
            Thread.Sleep(10_000);
            return 125;
        }

        if (script.TransientFailures > 0 && NextCallNumber(script.Path!) <= script.TransientFailures)
        {
            return Output.CniError(confVersion, 11, "try again later", null, 1);
        }

        var exitCode = script.ExitCode ?? 0;
        if (script.StdoutBytes > 0)
        {
            Output.WriteXs(script.StdoutBytes);
            return exitCode;
        }

        if (script.RawStdout is not null)
        {
            Output.Write(script.RawStdout);
            return exitCode;
        }

        if (script.Error is not null || script.ErrorCode is not null)
        {
            return Output.CniError(confVersion, script.ErrorCode ?? 999, script.Error ?? "", script.ErrorDetails, script.ExitCode ?? 1);
        }

        // A top-level "result" applies to ADD only; "commands.<CMD>.result" applies to that command.
        var result = script.ResultIsPerCommand || command == "ADD" ? script.Result : null;
        if (result is null)
        {
            if (command == "ADD")
            {
                result = "PASSTHROUGH";
            }
            else if (command == "VERSION")
            {
                Output.WriteJson(new JsonObject
                {
                    ["cniVersion"] = confVersion,
                    ["supportedVersions"] = script.SupportedVersions?.DeepClone()
                        ?? new JsonArray(Array.ConvertAll(DefaultSupportedVersions, v => (JsonNode?)v)),
                });
                return exitCode;
            }
            else
            {
                return exitCode;
            }
        }

        if (result.GetValueKind() != JsonValueKind.String)
        {
            Output.WriteJson(result);
            return exitCode;
        }

        var text = result.GetValue<string>();
        if (text is not ("PASSTHROUGH" or "INJECT-DNS"))
        {
            Output.Write(text);
            return exitCode;
        }

        if (config is null)
        {
            return Output.CniError(confVersion, 6, $"{text}: the network configuration on stdin is not a JSON object", null, 1);
        }

        var output = new JsonObject { ["cniVersion"] = confVersion };
        if (config["prevResult"] is JsonObject prev)
        {
            foreach (var (key, value) in prev)
            {
                if (key != "cniVersion")
                {
                    output[key] = value?.DeepClone();
                }
            }
        }

        if (text == "INJECT-DNS")
        {
            if (output["dns"] is not JsonObject dns)
            {
                dns = [];
                output["dns"] = dns;
            }

            dns["nameservers"] = new JsonArray("1.2.3.4");
        }

        Output.WriteJson(output);
        return exitCode;
    }

    private static (bool IsJson, JsonNode? Node) TryParse(byte[] utf8)
    {
        try
        {
            var node = JsonNode.Parse(utf8);
            if (node is JsonObject o)
            {
                _ = o.Count; // materialise now so duplicate keys fail here, not later
            }

            return (true, node);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return (false, null);
        }
    }

    private static string? GetString(JsonObject? obj, string key) =>
        obj?[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    /// <summary>The value of <c>DEBUG=</c> in CNI_ARGS (<c>K=V;K2=V2</c>), if non-empty.</summary>
    private static string? DebugArg(string? cniArgs)
    {
        foreach (var pair in (cniArgs ?? "").Split(';'))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && pair.AsSpan(0, eq).SequenceEqual("DEBUG") && eq < pair.Length - 1)
            {
                return pair[(eq + 1)..];
            }
        }

        return null;
    }

    /// <summary>Starts <c>sleep 600</c>, inheriting stdout/stderr, and records its pid in "&lt;logFile&gt;.grandchild".</summary>
    private static void SpawnGrandchild(string? logFile)
    {
        var start = File.Exists("/bin/sleep")
            ? new ProcessStartInfo("/bin/sleep", "600")
            : new ProcessStartInfo("/bin/sh", ["-c", "sleep 600"]);
        start.UseShellExecute = false;
        using var child = Process.Start(start) ?? throw new IOException("could not start the grandchild");
        if (logFile is not null)
        {
            File.WriteAllText(logFile + ".grandchild", child.Id.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Increments the call counter in "&lt;script&gt;.count" under an exclusive lock; returns this call's number (1-based).</summary>
    private static int NextCallNumber(string scriptPath)
    {
        var path = scriptPath + ".count";
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                using var reader = new StreamReader(file, leaveOpen: true);
                var text = reader.ReadToEnd().Trim();
                var n = (text.Length == 0 ? 0 : int.Parse(text, CultureInfo.InvariantCulture)) + 1;
                file.SetLength(0);
                file.Write(Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture)));
                return n;
            }
            catch (IOException) when (attempt < 500)
            {
                Thread.Sleep(10); // another plugin holds the lock
            }
        }
    }
}
