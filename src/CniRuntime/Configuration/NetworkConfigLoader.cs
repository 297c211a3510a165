using System.Globalization;
using System.Runtime.InteropServices;
using CniRuntime.Interop;
using CniRuntime.Protocol;
using Microsoft.Win32.SafeHandles;

namespace CniRuntime.Configuration;

/// <summary>
/// Finds and loads network configurations in a directory the way libcni does (<c>.conflist</c> first, then legacy
/// <c>.conf</c>/<c>.json</c>, each in file-name order; plugin files from <c>&lt;dir&gt;/&lt;name&gt;/*.conf</c>
/// appended), except that one malformed file never hides the other networks: it becomes a diagnostic.
/// </summary>
public static class NetworkConfigLoader
{
    /// <summary>Extensions of configuration lists.</summary>
    public static IReadOnlyList<string> ListExtensions { get; } = [".conflist"];

    /// <summary>Extensions of legacy single-plugin configurations.</summary>
    public static IReadOnlyList<string> SinglePluginExtensions { get; } = [".conf", ".json"];

    /// <summary>The largest configuration file read; anything bigger is refused rather than loaded into memory.</summary>
    public const int MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Loads a configuration list from a file (libcni's <c>ConfListFromFile</c>); a <c>.conf</c>/<c>.json</c> file
    /// holding a single plugin is converted to a one-plugin list.
    /// </summary>
    /// <exception cref="CniConfigException">The file cannot be read or is not a valid configuration.</exception>
    /// <remarks>Configuration files are small and local: they are read synchronously (see <see cref="Caching.AtomicFile"/>).</remarks>
    public static Task<NetworkConfigList> LoadFileAsync(string path, CancellationToken cancellationToken = default) => Caching.Synchronously.Run(() =>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        cancellationToken.ThrowIfCancellationRequested();
        var bytes = ReadFile(path);
        var isList = ListExtensions.Contains(Path.GetExtension(path)) || LooksLikeList(bytes);
        if (!isList)
        {
            return NetworkConfigList.FromPlugin(PluginConfig.Parse(bytes, path), path);
        }

        var list = NetworkConfigList.Parse(bytes, path);
        return AppendSubdirectoryPlugins(list, path);
    });

    /// <summary>Lists the configuration files of a directory in load order; a missing directory has none.</summary>
    public static IReadOnlyList<string> FindConfigFiles(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var files = ListFiles(directory);
        return
        [
            .. files.Where(f => ListExtensions.Contains(Path.GetExtension(f))),
            .. files.Where(f => SinglePluginExtensions.Contains(Path.GetExtension(f))),
        ];
    }

    // The paths of a directory's files (links to files included), in ordinal order; none when there is no directory.
    // Runtimes list on every ADD and DEL: readdir, not Directory.EnumerateFiles (see Libc.ListDirectory).
    private static List<string> ListFiles(string directory) =>
        [.. (Libc.ListDirectory(directory) ?? [])
            .Where(entry => !entry.IsDirectory)
            .Select(entry => Path.Join(directory, entry.Name))
            .Order(StringComparer.Ordinal)];

    /// <summary>Reads every configuration in a directory: the networks that load, and a diagnostic per file that does not.</summary>
    public static async Task<ConfigDirectoryScan> ScanDirectoryAsync(string directory, CancellationToken cancellationToken = default)
    {
        var networks = new List<NetworkConfigList>();
        var diagnostics = new List<ConfigDiagnostic>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        IReadOnlyList<string> files;
        try
        {
            files = FindConfigFiles(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var error = new CniConfigException($"cannot list directory: {ex.Message}", directory, null, CniErrorCode.IoFailure, ex);
            return new ConfigDirectoryScan(directory, [], networks, [new ConfigDiagnostic(directory, null, ConfigDiagnosticKind.Unreadable, error)]);
        }

        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var list = await LoadFileAsync(file, cancellationToken).ConfigureAwait(false);
                if (seen.TryGetValue(list.Name, out var winner))
                {
                    diagnostics.Add(new ConfigDiagnostic(file, list.Name, ConfigDiagnosticKind.Shadowed, new CniConfigException(
                        $"network \"{list.Name}\" is already defined in {winner}; this file is ignored",
                        file,
                        "$.name")));
                    continue;
                }

                seen.Add(list.Name, file);
                networks.Add(list);
            }
            catch (CniConfigException ex)
            {
                var name = TryReadName(file);
                diagnostics.Add(new ConfigDiagnostic(file, name, name is null ? ConfigDiagnosticKind.Unreadable : ConfigDiagnosticKind.Invalid, ex));
            }
        }

        return new ConfigDirectoryScan(directory, files, networks, diagnostics);
    }

    /// <summary>
    /// Loads the network called <paramref name="networkName"/> from a directory (libcni's <c>LoadNetworkConf</c>).
    /// Broken files of other networks are skipped; if the file that defines this network is itself broken, its
    /// error is thrown.
    /// </summary>
    /// <exception cref="CniConfigNotFoundException">No file defines the network (the message lists unreadable files).</exception>
    /// <exception cref="CniConfigException">The file defining the network is malformed.</exception>
    public static async Task<NetworkConfigList> LoadNetworkAsync(string directory, string networkName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(networkName);
        var scan = await ScanDirectoryAsync(directory, cancellationToken).ConfigureAwait(false);
        return scan.GetNetwork(networkName);
    }

    private static NetworkConfigList AppendSubdirectoryPlugins(NetworkConfigList list, string path)
    {
        if (list.LoadOnlyInlinedPlugins)
        {
            return list;
        }

        var subdirectory = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, list.Name);
        List<string> pluginFiles;
        try
        {
            // The same listing as the directory's own; a missing subdirectory has no plugin files.
            pluginFiles = [.. ListFiles(subdirectory).Where(f => Path.GetExtension(f) == ".conf")];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CniConfigException($"cannot list plugin directory {subdirectory}: {ex.Message}", path, null, CniErrorCode.IoFailure, ex);
        }
        if (pluginFiles.Count == 0)
        {
            return list.Plugins.Count > 0 ? list : throw new CniConfigException("no plugin configs found", path, "$.plugins");
        }

        var plugins = new List<PluginConfig>(list.Plugins);
        foreach (var pluginFile in pluginFiles)
        {
            var bytes = ReadFile(pluginFile);
            plugins.Add(PluginConfig.Parse(bytes, pluginFile));
        }

        // The cache stores Bytes as the configuration ADD used; it must hold every plugin, or a DEL from the cache
        // (after the subdirectory changed) would skip the ones loaded from files.
        return list with { Plugins = plugins, Bytes = WithPlugins(list.Bytes.Span, plugins) };
    }

    private static byte[] WithPlugins(ReadOnlySpan<byte> listJson, IReadOnlyList<PluginConfig> plugins)
    {
        var root = NetworkConfigParser.TryParseDocument(listJson, out _);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(listJson.Length + 256);
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, Json.JsonEscaping.WriterOptions()))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (!property.NameEquals("plugins"))
                {
                    property.WriteTo(writer);
                }
            }

            writer.WritePropertyName("plugins");
            writer.WriteStartArray();
            foreach (var plugin in plugins)
            {
                plugin.Json.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    // Reads through links, as libcni does (configurations are often links into a package's files), but only a
    // regular file, and at most MaxFileBytes: a FIFO would block the read for ever and a link to /dev/zero would
    // fill memory, hiding every network. O_NONBLOCK keeps opening a FIFO from waiting for a writer.
    internal static byte[] ReadFile(string path)
    {
        var fd = Libc.Open(path, Libc.ORdOnly | Libc.OCloExec | Libc.ONonBlock);
        if (fd < 0)
        {
            throw ReadFailure(path, Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var status = Libc.TypeAndSize(fd, out var errno) ?? throw ReadFailure(path, Marshal.GetPInvokeErrorMessage(errno));
        if (status.Type != Libc.FileTypeRegular)
        {
            throw ReadFailure(path, $"it is {DescribeFileType(status.Type)}, not a regular file");
        }

        if (status.Size > MaxFileBytes)
        {
            throw TooLarge(path, status.Size.ToString(CultureInfo.InvariantCulture));
        }

        try
        {
            // One byte more than the size told, to notice a file that grew since.
            var buffer = new byte[(int)Math.Min(status.Size + 1, MaxFileBytes + 1L)];
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > MaxFileBytes)
                    {
                        throw TooLarge(path, $"more than {MaxFileBytes}");
                    }

                    Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, MaxFileBytes + 1L));
                }

                var read = RandomAccess.Read(handle, buffer.AsSpan(length), length);
                if (read == 0)
                {
                    return length == buffer.Length ? buffer : buffer[..length];
                }

                length += read;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CniConfigException($"cannot read file: {ex.Message}", path, null, CniErrorCode.IoFailure, ex);
        }
    }

    private static CniConfigException ReadFailure(string path, string reason) =>
        new($"cannot read file: {reason}", path, null, CniErrorCode.IoFailure);

    private static CniConfigException TooLarge(string path, string size) =>
        new($"file is {size} bytes; configurations larger than {MaxFileBytes} bytes are refused", path, null, CniErrorCode.IoFailure);

    private static string DescribeFileType(int type) => type switch
    {
        Libc.FileTypeFifo => "a FIFO",
        Libc.FileTypeCharacterDevice => "a character device",
        Libc.FileTypeBlockDevice => "a block device",
        Libc.FileTypeDirectory => "a directory",
        Libc.FileTypeSocket => "a socket",
        _ => "a file of an unknown type",
    };

    private static string? TryReadName(string file)
    {
        try
        {
            return NetworkConfigParser.TryReadName(ReadFile(file));
        }
        catch (CniConfigException)
        {
            return null;
        }
    }

    // A .conf/.json file that holds a list rather than one plugin is loaded as a list (a common mistake, and
    // unambiguous: a plugin configuration has a type, a list has plugins).
    private static bool LooksLikeList(ReadOnlySpan<byte> bytes)
    {
        var root = NetworkConfigParser.TryParseDocument(bytes, out var error);
        return error is null && root.ValueKind == System.Text.Json.JsonValueKind.Object
            && root.TryGetProperty("plugins", out _) && !root.TryGetProperty("type", out _);
    }
}

/// <summary>Why a configuration file contributed no network.</summary>
public enum ConfigDiagnosticKind
{
    /// <summary>The file could not be read or parsed far enough to know which network it defines.</summary>
    Unreadable,

    /// <summary>The file names a network but is otherwise invalid.</summary>
    Invalid,

    /// <summary>The file is valid, but an earlier file in load order defines the same network name.</summary>
    Shadowed,
}

/// <summary>A configuration file that could not be loaded, and why.</summary>
/// <param name="File">The file.</param>
/// <param name="NetworkName">The network it appears to define, when its <c>name</c> could be read.</param>
/// <param name="Kind">Why it contributed no network.</param>
/// <param name="Error">What is wrong with it, naming the file and JSON path.</param>
public sealed record ConfigDiagnostic(string File, string? NetworkName, ConfigDiagnosticKind Kind, CniConfigException Error)
{
    /// <summary>The error, naming the file and JSON path.</summary>
    public string Message => Error.Message;
}

/// <summary>Everything found in a configuration directory.</summary>
/// <param name="Directory">The directory scanned.</param>
/// <param name="Files">The configuration files, in load order.</param>
/// <param name="Networks">The networks that loaded, in load order (the first file defining a name wins).</param>
/// <param name="Diagnostics">Files that could not be loaded or were shadowed.</param>
public sealed record ConfigDirectoryScan(string Directory, IReadOnlyList<string> Files, IReadOnlyList<NetworkConfigList> Networks, IReadOnlyList<ConfigDiagnostic> Diagnostics)
{
    /// <summary>
    /// The default network: the first valid configuration by file name (ordinal), across every configuration file
    /// whatever its extension, so <c>05-x.conf</c> beats <c>10-y.conflist</c> (the rule of ocicni and go-cni);
    /// broken files are skipped. The network returned is the one <see cref="FindNetwork"/> gives for that name, so
    /// the default network and the network of the same name never disagree. Null when no file is valid.
    /// </summary>
    public NetworkConfigList? DefaultNetwork
    {
        get
        {
            foreach (var file in Files.OrderBy(Path.GetFileName, StringComparer.Ordinal).ThenBy(f => f, StringComparer.Ordinal))
            {
                if (Networks.FirstOrDefault(n => string.Equals(n.Source, file, StringComparison.Ordinal)) is { } network)
                {
                    return network;
                }

                if (Diagnostics.FirstOrDefault(d => d.Kind == ConfigDiagnosticKind.Shadowed && string.Equals(d.File, file, StringComparison.Ordinal)) is { NetworkName: { } name })
                {
                    return FindNetwork(name);
                }
            }

            return null;
        }
    }

    /// <summary>Finds a network by name, or returns null.</summary>
    public NetworkConfigList? FindNetwork(string networkName) =>
        Networks.FirstOrDefault(n => string.Equals(n.Name, networkName, StringComparison.Ordinal));

    /// <summary>Gets a network by name, with the precise reason when it is missing or broken.</summary>
    /// <exception cref="CniConfigException">The file that defines the network is broken (and no earlier file defines it).</exception>
    /// <exception cref="CniConfigNotFoundException">No file defines the network.</exception>
    public NetworkConfigList GetNetwork(string networkName)
    {
        var found = FindNetwork(networkName);
        var broken = Diagnostics.FirstOrDefault(d => d.Kind == ConfigDiagnosticKind.Invalid && d.NetworkName == networkName);
        if (broken is not null && (found is null || LoadOrder(broken.File) < LoadOrder(found.Source)))
        {
            throw broken.Error;
        }

        if (found is not null)
        {
            return found;
        }

        var unreadable = Diagnostics.Where(d => d.Kind == ConfigDiagnosticKind.Unreadable).Select(d => d.Message).ToList();
        throw new CniConfigNotFoundException(Directory, Files.Count == 0 ? null : networkName, unreadable);
    }

    private int LoadOrder(string? file)
    {
        for (var i = 0; i < Files.Count; i++)
        {
            if (string.Equals(Files[i], file, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return int.MaxValue;
    }
}
