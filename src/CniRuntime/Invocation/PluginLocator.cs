using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>Finds plugin binaries in the plugin directories (libcni's <c>FindInPath</c>, stricter).</summary>
public static class PluginLocator
{
    /// <summary>Returns the first regular, executable file named <paramref name="pluginType"/> in <paramref name="directories"/>.</summary>
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

        string? notExecutable = null;
        foreach (var directory in directories)
        {
            if (string.IsNullOrEmpty(directory))
            {
                continue;
            }

            var candidate = Path.Combine(directory, pluginType);
            // FileInfo follows symlinks for Attributes and UnixFileMode, like stat(2).
            var info = new FileInfo(candidate);
            if (!info.Exists || (info.Attributes & FileAttributes.Directory) != 0)
            {
                continue;
            }

            if ((info.UnixFileMode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
            {
                notExecutable ??= candidate;
                continue;
            }

            return candidate;
        }

        var searched = "[" + string.Join(" ", directories) + "]";
        throw new CniPluginNotFoundException(
            notExecutable is null
                ? $"failed to find plugin \"{pluginType}\" in path {searched}"
                : $"failed to find plugin \"{pluginType}\" in path {searched}: {notExecutable} is not executable",
            pluginType,
            directories);
    }
}
