using CniRuntime.Interop;
using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>Finds plugin binaries in the plugin directories (libcni's <c>FindInPath</c>, stricter).</summary>
public static class PluginLocator
{
    // S_IXUSR | S_IXGRP | S_IXOTH
    private const int ExecuteBits = 0x49;

    /// <summary>
    /// Returns the first regular, executable file named <paramref name="pluginType"/> in <paramref name="directories"/>,
    /// searched in order (empty entries are skipped, not taken as the working directory). A candidate that is not a
    /// regular file or has no execute bit is passed over, and the first such is named in the error.
    /// </summary>
    /// <exception cref="CniPluginNotFoundException">The type is empty or not a plain file name, no directories were given, or no usable file exists.</exception>
    public static string Find(string pluginType, IReadOnlyList<string> directories)
    {
        ArgumentNullException.ThrowIfNull(directories);
        if (string.IsNullOrEmpty(pluginType))
        {
            throw new CniPluginNotFoundException("no plugin name provided", pluginType ?? string.Empty, directories);
        }

        if (pluginType.Contains('/', StringComparison.Ordinal) || pluginType is "." or ".." || pluginType.Contains('\0', StringComparison.Ordinal))
        {
            throw new CniPluginNotFoundException($"invalid plugin name: {pluginType}", pluginType, directories);
        }

        if (directories.Count == 0)
        {
            throw new CniPluginNotFoundException("no paths provided", pluginType, directories);
        }

        string? rejected = null;
        foreach (var directory in directories)
        {
            if (string.IsNullOrEmpty(directory))
            {
                continue;
            }

            var candidate = Path.Combine(directory, pluginType);
            // statx follows symbolic links, as libcni's os.Stat does. A directory is passed over as libcni does; a
            // FIFO, socket or device is no plugin even with an x bit (running one would hang or do harm).
            if (Libc.Mode(candidate) is not { } mode || (mode & Libc.FileTypeMask) == Libc.FileTypeDirectory)
            {
                continue;
            }

            if ((mode & Libc.FileTypeMask) != Libc.FileTypeRegular)
            {
                rejected ??= $"{candidate} is not a regular file";
                continue;
            }

            if ((mode & ExecuteBits) == 0)
            {
                rejected ??= $"{candidate} is not executable";
                continue;
            }

            return candidate;
        }

        var searched = "[" + string.Join(" ", directories) + "]";
        throw new CniPluginNotFoundException(
            rejected is null
                ? $"failed to find plugin \"{pluginType}\" in path {searched}"
                : $"failed to find plugin \"{pluginType}\" in path {searched}: {rejected}",
            pluginType,
            directories);
    }
}
