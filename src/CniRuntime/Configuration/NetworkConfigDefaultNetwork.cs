namespace CniRuntime.Configuration;

/// <summary>The default network of a configuration directory, as ocicni and go-cni choose it.</summary>
public static class NetworkConfigDefaultNetwork
{
    /// <summary>The default network of a scanned directory.</summary>
    /// <param name="scan">The directory as scanned.</param>
    extension(ConfigDirectoryScan scan)
    {
        /// <summary>
        /// The default network: the first valid configuration by file name (ordinal), across every configuration
        /// file whatever its extension, so <c>05-x.conf</c> beats <c>10-y.conflist</c>; broken files are skipped.
        /// This differs from load precedence (where a <c>.conflist</c> wins a name over a <c>.conf</c>): the file
        /// that comes first by name picks which network is the default, and the network returned is the one
        /// <see cref="ConfigDirectoryScan.FindNetwork(string)"/> gives for that name, so the default network and the
        /// network of the same name never disagree. Null when no file is valid.
        /// </summary>
        public NetworkConfigList? DefaultNetwork => SelectDefault(scan);
    }

    private static NetworkConfigList? SelectDefault(ConfigDirectoryScan scan)
    {
        ArgumentNullException.ThrowIfNull(scan);
        foreach (var file in scan.Files.Order(FileNameOrder.Instance))
        {
            foreach (var network in scan.Networks)
            {
                if (string.Equals(network.Source, file, StringComparison.Ordinal))
                {
                    return network;
                }
            }

            foreach (var diagnostic in scan.Diagnostics)
            {
                if (diagnostic.Kind == ConfigDiagnosticKind.Shadowed && diagnostic.NetworkName is { } name
                    && string.Equals(diagnostic.File, file, StringComparison.Ordinal))
                {
                    return scan.FindNetwork(name);
                }
            }
        }

        return null;
    }

    private sealed class FileNameOrder : IComparer<string>
    {
        public static readonly FileNameOrder Instance = new();

        public int Compare(string? x, string? y) =>
            StringComparer.Ordinal.Compare(Path.GetFileName(x), Path.GetFileName(y)) is var byName and not 0
                ? byName
                : StringComparer.Ordinal.Compare(x, y);
    }
}
