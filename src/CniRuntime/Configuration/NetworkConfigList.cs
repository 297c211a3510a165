using CniRuntime.Protocol;

namespace CniRuntime.Configuration;

/// <summary>
/// A network configuration list (a <c>.conflist</c>): the network's name and version and the plugins that make it,
/// in the order ADD runs them.
/// </summary>
public sealed record NetworkConfigList
{
    /// <summary>The network name; also a component of the result cache's file names.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// The version the runtime speaks to every plugin of the list: <c>cniVersion</c>, or the highest supported entry
    /// of <c>cniVersions</c>; empty means 0.1.0.
    /// </summary>
    public required string CniVersion { get; init; }

    /// <summary>When true, CHECK does nothing.</summary>
    public bool DisableCheck { get; init; }

    /// <summary>When true, GC does nothing.</summary>
    public bool DisableGC { get; init; }

    /// <summary>When true, plugin files in the <c>&lt;dir&gt;/&lt;name&gt;/</c> subdirectory are not loaded.</summary>
    public bool LoadOnlyInlinedPlugins { get; init; }

    /// <summary>The plugins, in ADD order: inline ones first, then any loaded from the subdirectory.</summary>
    public required IReadOnlyList<PluginConfig> Plugins { get; init; }

    /// <summary>The document as read (what the result cache stores as the attachment's configuration).</summary>
    public required ReadOnlyMemory<byte> Bytes { get; init; }

    /// <summary>The file the list was read from, if any.</summary>
    public string? Source { get; init; }

    /// <summary>The list version parsed (empty is 0.1.0).</summary>
    /// <exception cref="CniConfigException">The version is not of the form <c>major.minor.patch</c>.</exception>
    public CniVersion GetVersion() =>
        Protocol.CniVersion.TryParse(CniVersion, out var version)
            ? version
            : throw new CniConfigException($"invalid cniVersion \"{CniVersion}\": expected major.minor.patch", Source, "$.cniVersion", CniErrorCode.IncompatibleCniVersion);

    /// <summary>Parses a configuration list from JSON (libcni's <c>ConfListFromBytes</c>); plugin subdirectories are not read.</summary>
    /// <param name="utf8Json">The JSON document.</param>
    /// <param name="source">The file it came from, named in errors.</param>
    /// <exception cref="CniConfigException">The document is not a valid list, with the JSON path of the defect.</exception>
    public static NetworkConfigList Parse(ReadOnlySpan<byte> utf8Json, string? source = null) =>
        NetworkConfigParser.ParseList(utf8Json, source);

    /// <summary>Wraps a single plugin configuration as a one-plugin list (libcni's <c>ConfListFromConf</c>).</summary>
    /// <exception cref="CniConfigException">The plugin configuration has no valid <c>name</c>.</exception>
    public static NetworkConfigList FromPlugin(PluginConfig plugin, string? source = null) =>
        NetworkConfigParser.ListFromPlugin(plugin, source);
}
