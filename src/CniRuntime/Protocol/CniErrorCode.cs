namespace CniRuntime.Protocol;

/// <summary>The error codes of the CNI specification (0-99 reserved; 100 and above are plugin-specific).</summary>
#pragma warning disable CA1028 // The wire type of a CNI error code is an unsigned integer.
public enum CniErrorCode : uint
#pragma warning restore CA1028
{
    /// <summary>No specific code.</summary>
    Unknown = 0,

    /// <summary>The plugin does not support the configuration's version.</summary>
    IncompatibleCniVersion = 1,

    /// <summary>A configuration field is not supported; the message names it.</summary>
    UnsupportedField = 2,

    /// <summary>The container does not exist; the runtime need not clean up.</summary>
    UnknownContainer = 3,

    /// <summary>Invalid environment variables, such as an invalid container ID or interface name.</summary>
    InvalidEnvironmentVariables = 4,

    /// <summary>An I/O failure.</summary>
    IoFailure = 5,

    /// <summary>Content could not be decoded.</summary>
    DecodingFailure = 6,

    /// <summary>The network configuration is invalid.</summary>
    InvalidNetworkConfig = 7,

    /// <summary>The network namespace is invalid (libcni; not in the specification's table).</summary>
    InvalidNetworkNamespace = 8,

    /// <summary>A transient condition; the operation may succeed if retried later.</summary>
    TryAgainLater = 11,

    /// <summary>STATUS: the plugin cannot service ADD requests.</summary>
    PluginNotAvailable = 50,

    /// <summary>STATUS: the plugin is unavailable and existing containers may have limited connectivity.</summary>
    LimitedConnectivity = 51,

    /// <summary>An internal error (libcni's convention).</summary>
    Internal = 999,
}
