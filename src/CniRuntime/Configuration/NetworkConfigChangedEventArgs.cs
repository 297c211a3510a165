namespace CniRuntime.Configuration;

/// <summary>A configuration directory's contents changed: the snapshot before and after.</summary>
public sealed class NetworkConfigChangedEventArgs : EventArgs
{
    /// <summary>Creates the arguments of a change.</summary>
    public NetworkConfigChangedEventArgs(ConfigDirectoryScan previous, ConfigDirectoryScan current)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        Previous = previous;
        Current = current;
    }

    /// <summary>The snapshot before the change (the one the previous event reported as current).</summary>
    public ConfigDirectoryScan Previous { get; }

    /// <summary>The snapshot after the change.</summary>
    public ConfigDirectoryScan Current { get; }
}
