using System.Text.Json;
using System.Text.Json.Nodes;

namespace CniRuntime.TestPlugin;

/// <summary>The script file is unreadable or malformed; the plugin reports it on stderr and exits 2.</summary>
internal sealed class ScriptException(string message) : Exception(message);

/// <summary>
/// The behaviour scripted for one call: the script's top-level fields, each overridden by the same
/// field in <c>commands.&lt;CNI_COMMAND&gt;</c> when that object has it (an explicit <c>null</c> there unsets it).
/// </summary>
internal sealed class Script
{
    private enum Kind { String, Int, Bool, StringArray, Result, Commands }

    private static readonly string[] FieldNames =
    [
        "result", "error", "errorCode", "errorDetails", "stderr", "exitCode", "rawStdout", "stdoutBytes",
        "delayMs", "spawnGrandchild", "supportedVersions", "transientFailures", "signal", "logFile", "commands",
    ];

    private static Kind? KindOf(string field) => field switch
    {
        "result" => Kind.Result,
        "error" or "errorDetails" or "stderr" or "rawStdout" or "logFile" => Kind.String,
        "errorCode" or "exitCode" or "stdoutBytes" or "delayMs" or "transientFailures" or "signal" => Kind.Int,
        "spawnGrandchild" => Kind.Bool,
        "supportedVersions" => Kind.StringArray,
        "commands" => Kind.Commands,
        _ => null,
    };

    public static Script Empty { get; } = new();

    /// <summary>The script file's path (the transient-failure counter lives next to it).</summary>
    public string? Path { get; private init; }

    /// <summary>The scripted result (a string, or a JSON object/array printed compactly).</summary>
    public JsonNode? Result { get; private init; }

    /// <summary>True when <see cref="Result"/> came from <c>commands.&lt;cmd&gt;</c> rather than the top level.</summary>
    public bool ResultIsPerCommand { get; private init; }

    public string? Error { get; private init; }
    public int? ErrorCode { get; private init; }
    public string? ErrorDetails { get; private init; }
    public string? Stderr { get; private init; }
    public int? ExitCode { get; private init; }
    public string? RawStdout { get; private init; }
    public long StdoutBytes { get; private init; }
    public int DelayMs { get; private init; }
    public bool SpawnGrandchild { get; private init; }
    public JsonArray? SupportedVersions { get; private init; }
    public int TransientFailures { get; private init; }
    public int Signal { get; private init; }
    public string? LogFile { get; private init; }

    public static Script Load(string path, string? command)
    {
        byte[] text;
        try
        {
            text = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ScriptException($"cannot read script file '{path}': {e.Message}");
        }

        JsonObject top;
        try
        {
            var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
            top = JsonNode.Parse(text, documentOptions: options) as JsonObject
                ?? throw new ScriptException($"script file '{path}' must hold a JSON object");
            Validate(top, path, "", topLevel: true);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new ScriptException($"script file '{path}' is not valid JSON: {e.Message}");
        }

        JsonObject? over = null;
        if (command is not null && top["commands"] is JsonObject commands)
        {
            over = commands[command] as JsonObject;
        }

        JsonNode? Get(string key) => over is not null && over.ContainsKey(key) ? over[key] : top[key];
        int? GetInt(string key) => Get(key) is JsonValue v ? (int)v.GetValue<long>() : null;
        string? GetString(string key) => Get(key)?.GetValue<string>();

        return new Script
        {
            Path = path,
            Result = Get("result"),
            ResultIsPerCommand = over is not null && over["result"] is not null,
            Error = GetString("error"),
            ErrorCode = GetInt("errorCode"),
            ErrorDetails = GetString("errorDetails"),
            Stderr = GetString("stderr"),
            ExitCode = GetInt("exitCode"),
            RawStdout = GetString("rawStdout"),
            StdoutBytes = Get("stdoutBytes") is JsonValue sb ? sb.GetValue<long>() : 0,
            DelayMs = GetInt("delayMs") ?? 0,
            SpawnGrandchild = Get("spawnGrandchild") is JsonValue g && g.GetValue<bool>(),
            SupportedVersions = Get("supportedVersions") as JsonArray,
            TransientFailures = GetInt("transientFailures") ?? 0,
            Signal = GetInt("signal") ?? 0,
            LogFile = GetString("logFile"),
        };
    }

    private static void Validate(JsonObject obj, string path, string prefix, bool topLevel)
    {
        foreach (var (key, value) in obj)
        {
            var name = prefix + key;
            if (KindOf(key) is not { } kind || (kind == Kind.Commands && !topLevel))
            {
                throw new ScriptException(
                    $"script file '{path}': unknown field '{name}' (known: {string.Join(", ", FieldNames)}; 'commands' only at top level)");
            }

            if (value is null)
            {
                continue; // null = not set
            }

            var valueKind = value.GetValueKind();
            var ok = kind switch
            {
                Kind.String => valueKind == JsonValueKind.String,
                Kind.Bool => valueKind is JsonValueKind.True or JsonValueKind.False,
                Kind.Int => valueKind == JsonValueKind.Number && value.AsValue().TryGetValue<long>(out var n) && n >= 0
                    && n <= (key switch { "exitCode" => 255, "signal" => 64, "stdoutBytes" => long.MaxValue, _ => int.MaxValue }),
                Kind.StringArray => value is JsonArray a && AllStrings(a),
                Kind.Result => valueKind is JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Array,
                Kind.Commands => value is JsonObject,
                _ => false,
            };
            if (!ok)
            {
                var expected = kind switch
                {
                    Kind.String => "a string",
                    Kind.Bool => "true or false",
                    Kind.Int => key switch { "exitCode" => "an integer 0..255", "signal" => "an integer 0..64", _ => "a non-negative integer" },
                    Kind.StringArray => "an array of strings",
                    Kind.Result => "a string (or a JSON object/array)",
                    _ => "an object mapping CNI_COMMAND to an object of fields",
                };
                throw new ScriptException($"script file '{path}': field '{name}' must be {expected}, got {value.ToJsonString()}");
            }

            if (kind == Kind.Commands)
            {
                foreach (var (command, fields) in value.AsObject())
                {
                    if (fields is not JsonObject o)
                    {
                        throw new ScriptException($"script file '{path}': 'commands.{command}' must be an object");
                    }

                    Validate(o, path, $"commands.{command}.", topLevel: false);
                }
            }
        }
    }

    private static bool AllStrings(JsonArray array)
    {
        foreach (var item in array)
        {
            if (item?.GetValueKind() != JsonValueKind.String)
            {
                return false;
            }
        }

        return true;
    }
}
