using System.Globalization;

namespace CniRuntime.Protocol;

/// <summary>
/// The root of every error CniRuntime reports: a CNI error code, a message and optional details, as the
/// specification's error object has them, plus where it happened (plugin, command, network).
/// </summary>
/// <remarks>
/// <see cref="Exception.Message"/> reads like libcni's errors
/// (<c>plugin type="bridge" name="net1" failed (add): msg; details</c>) so logs and scripts that match on them keep
/// working; the parts are available as properties.
/// </remarks>
public class CniException : Exception
{
    /// <summary>Creates an error with a code, a message and optional details.</summary>
    public CniException(CniErrorCode code, string message, string? details = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        ErrorMessage = message;
        Details = string.IsNullOrEmpty(details) ? null : details;
    }

    /// <summary>Creates an unknown-code error.</summary>
    public CniException()
        : this(CniErrorCode.Unknown, "CNI error")
    {
    }

    /// <summary>Creates an unknown-code error.</summary>
    public CniException(string message)
        : this(CniErrorCode.Unknown, message)
    {
    }

    /// <summary>Creates an unknown-code error with a cause.</summary>
    public CniException(string message, Exception innerException)
        : this(CniErrorCode.Unknown, message, null, innerException)
    {
    }

    /// <summary>The CNI error code (the specification's <c>code</c>).</summary>
    public CniErrorCode Code { get; }

    /// <summary>The error text alone (the specification's <c>msg</c>).</summary>
    public string ErrorMessage { get; }

    /// <summary>Longer details, if any (the specification's <c>details</c>).</summary>
    public string? Details { get; }

    /// <summary>The plugin type involved, when the error arose in a plugin or while preparing its call.</summary>
    public string? PluginType { get; private set; }

    /// <summary>The <c>name</c> of the network (or plugin configuration) involved.</summary>
    public string? NetworkName { get; private set; }

    /// <summary>The CNI command (ADD, DEL, CHECK, STATUS, GC, VERSION) that failed.</summary>
    public string? Command { get; private set; }

    private bool _callInMessage = true;

    /// <summary>True for errors the specification says may succeed when retried later (code 11).</summary>
    public bool IsTransient => Code == CniErrorCode.TryAgainLater;

    /// <inheritdoc />
    public override string Message
    {
        get
        {
            var text = Details is null ? ErrorMessage : ErrorMessage + "; " + Details;
            if (PluginType is null || Command is null || !_callInMessage)
            {
                return text;
            }

            var name = NetworkName is null ? string.Empty : $" name=\"{NetworkName}\"";
            // libcni's words for the commands: "failed (add)", "failed (delete)", ...
            var verb = Command == "DEL" ? "delete" : Command.ToLowerInvariant();
            return string.Create(CultureInfo.InvariantCulture, $"plugin type=\"{PluginType}\"{name} failed ({verb}): {text}");
        }
    }

    /// <summary>Records which plugin call failed, once: the innermost context is the precise one.</summary>
    internal T WithContext<T>(string pluginType, string? networkName, string command)
        where T : CniException
    {
        if (PluginType is null)
        {
            PluginType = pluginType;
            NetworkName = networkName;
            Command = command;
        }

        return (T)this;
    }

    /// <summary>Records which plugin call failed, once.</summary>
    internal CniException WithContext(string pluginType, string? networkName, string command) =>
        WithContext<CniException>(pluginType, networkName, command);

    /// <summary>
    /// Leaves the failed call out of <see cref="Message"/> (its parts stay in the properties): libcni's
    /// single-plugin operations report a plugin's error as the plugin gave it, without <c>plugin type=… failed (…)</c>.
    /// </summary>
    internal CniException WithoutCallInMessage()
    {
        _callInMessage = false;
        return this;
    }
}

/// <summary>A plugin answered with a CNI error object (non-zero exit and a JSON error on stdout).</summary>
public sealed class CniPluginException : CniException
{
    /// <summary>Creates the error from what the plugin printed and how it exited.</summary>
    public CniPluginException(CniErrorCode code, string message, string? details, string pluginPath, int exitCode, string stderr)
        : base(code, message, details)
    {
        PluginPath = pluginPath;
        ExitCode = exitCode;
        Stderr = stderr;
    }

    /// <summary>The plugin binary that ran.</summary>
    public string PluginPath { get; }

    /// <summary>The plugin's exit code.</summary>
    public int ExitCode { get; }

    /// <summary>What the plugin wrote on stderr (possibly truncated), kept for diagnosis.</summary>
    public string Stderr { get; }
}

/// <summary>
/// A plugin failed without a usable CNI error: it crashed, was killed, printed something that is not JSON, or
/// could not be started. The exit code and stderr are kept (libcni drops them).
/// </summary>
public class CniPluginExecutionException : CniException
{
    /// <summary>Creates the error.</summary>
    public CniPluginExecutionException(string message, string pluginPath, int? exitCode, string stderr, Exception? innerException = null)
        : base(CniErrorCode.Unknown, message, null, innerException)
    {
        PluginPath = pluginPath;
        ExitCode = exitCode;
        Stderr = stderr;
    }

    /// <summary>The plugin binary.</summary>
    public string PluginPath { get; }

    /// <summary>The exit code, or null when the plugin never started or was killed.</summary>
    public int? ExitCode { get; }

    /// <summary>What the plugin wrote on stderr (possibly truncated).</summary>
    public string Stderr { get; }
}

/// <summary>A plugin did not finish within the operation's timeout and was killed with its process tree.</summary>
public sealed class CniPluginTimeoutException : CniPluginExecutionException
{
    /// <summary>Creates the error.</summary>
    public CniPluginTimeoutException(string pluginPath, TimeSpan timeout, string stderr, Exception? innerException = null)
        : base(
            string.Create(CultureInfo.InvariantCulture, $"plugin {pluginPath} timed out after {timeout.TotalSeconds:0.###}s and was killed"),
            pluginPath,
            null,
            stderr,
            innerException)
    {
        Timeout = timeout;
    }

    /// <summary>The timeout that was exceeded.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>A plugin type could not be found, or is not a runnable file, in the plugin directories.</summary>
public sealed class CniPluginNotFoundException : CniException
{
    /// <summary>Creates the error.</summary>
    public CniPluginNotFoundException(string message, string pluginType, IReadOnlyList<string> searchedDirectories)
        : base(CniErrorCode.Unknown, message)
    {
        RequestedType = pluginType;
        SearchedDirectories = searchedDirectories;
    }

    /// <summary>The plugin type that was looked for.</summary>
    public string RequestedType { get; }

    /// <summary>The directories searched, in order.</summary>
    public IReadOnlyList<string> SearchedDirectories { get; }
}

/// <summary>A network configuration is malformed; names the file and the JSON path of the defect.</summary>
public sealed class CniConfigException : CniException
{
    /// <summary>Creates the error.</summary>
    public CniConfigException(string reason, string? file, string? jsonPath, CniErrorCode code = CniErrorCode.InvalidNetworkConfig, Exception? innerException = null)
        : base(code, Format(reason, file, jsonPath), null, innerException)
    {
        Reason = reason;
        File = file;
        JsonPath = jsonPath;
    }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    /// <summary>The file the configuration came from, if any.</summary>
    public string? File { get; }

    /// <summary>Where in the document the defect is (<c>$</c>, <c>$.plugins[1].type</c>), if known.</summary>
    public string? JsonPath { get; }

    private static string Format(string reason, string? file, string? jsonPath)
    {
        var location = (file, jsonPath) switch
        {
            (null, null) => string.Empty,
            (null, _) => jsonPath + ": ",
            (_, null) => file + ": ",
            _ => $"{file}: {jsonPath}: ",
        };
        return location + reason;
    }
}

/// <summary>No configuration with the requested network name exists (libcni's NotFoundError and NoConfigsFoundError).</summary>
public sealed class CniConfigNotFoundException : CniException
{
    /// <summary>Creates the error.</summary>
    /// <param name="directory">The directory searched.</param>
    /// <param name="networkName">The name looked for; null when the directory holds no configuration file at all.</param>
    /// <param name="unreadableFiles">Errors of files whose network could not be told, any of which may be the one wanted.</param>
    public CniConfigNotFoundException(string directory, string? networkName, IReadOnlyList<string>? unreadableFiles = null)
        : base(CniErrorCode.InvalidNetworkConfig, Format(directory, networkName, unreadableFiles ?? []))
    {
        Directory = directory;
        RequestedName = networkName;
        UnreadableFiles = unreadableFiles ?? [];
    }

    /// <summary>The directory searched.</summary>
    public string Directory { get; }

    /// <summary>The network name looked for; null when the directory holds no configuration at all.</summary>
    public string? RequestedName { get; }

    /// <summary>Errors of files that could not be read far enough to know their network.</summary>
    public IReadOnlyList<string> UnreadableFiles { get; }

    private static string Format(string directory, string? networkName, IReadOnlyList<string> unreadable)
    {
        var text = networkName is null
            ? $"no net configurations found in {directory}"
            : $"no net configuration with name \"{networkName}\" in {directory}";
        return unreadable.Count == 0 ? text : $"{text} ({unreadable.Count} unreadable: {string.Join("; ", unreadable)})";
    }
}

/// <summary>Several failures from one operation whose cleanup kept going (rollback, DEL, GC, teardown).</summary>
public sealed class CniAggregateException : CniException
{
    /// <summary>Creates the error from at least one failure; the first one's code becomes this error's code.</summary>
    public CniAggregateException(string summary, IReadOnlyList<Exception> errors)
        : base(CodeOf(errors), summary + ": " + string.Join("; ", errors.Select(e => e.Message)), null, errors.Count > 0 ? errors[0] : null)
    {
        Errors = errors;
    }

    /// <summary>Every failure, in the order they happened.</summary>
    public IReadOnlyList<Exception> Errors { get; }

    private static CniErrorCode CodeOf(IReadOnlyList<Exception> errors) =>
        errors.Count > 0 && errors[0] is CniException first ? first.Code : CniErrorCode.Unknown;
}

/// <summary>A result cache file exists but cannot be used (empty, truncated, not JSON, or of an unknown kind).</summary>
public sealed class CniCacheException : CniException
{
    /// <summary>Creates the error.</summary>
    public CniCacheException(string message, string path, Exception? innerException = null)
        : base(CniErrorCode.DecodingFailure, message, null, innerException)
    {
        Path = path;
    }

    /// <summary>The cache file.</summary>
    public string Path { get; }
}
