namespace CniRuntime.Protocol;

/// <summary>
/// The identifier rules a runtime checks before running plugins: container ID, network name and interface name,
/// with libcni's error codes and messages (plugins built on libcni's skel check the same on their side).
/// </summary>
public static class CniNames
{
    /// <summary>The longest interface name Linux accepts (IFNAMSIZ - 1), in bytes.</summary>
    public const int MaxInterfaceNameBytes = 15;

    /// <summary>True when <paramref name="value"/> matches the specification's <c>^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$</c>.</summary>
    public static bool IsValidIdentifier(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty || !char.IsAsciiLetterOrDigit(value[0]))
        {
            return false;
        }

        foreach (var c in value[1..])
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Checks a container ID: code 3 when missing, code 4 when it has characters outside the rule.</summary>
    /// <exception cref="CniException">The ID breaks the rule.</exception>
    public static void ValidateContainerId(string? containerId)
    {
        if (string.IsNullOrEmpty(containerId))
        {
            throw new CniException(CniErrorCode.UnknownContainer, "missing containerID");
        }

        if (!IsValidIdentifier(containerId))
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "invalid characters in containerID", containerId);
        }
    }

    /// <summary>Checks a network name (code 7); the name is also a file-name component of the result cache.</summary>
    /// <exception cref="CniException">The name breaks the rule.</exception>
    public static void ValidateNetworkName(string? networkName)
    {
        if (string.IsNullOrEmpty(networkName))
        {
            throw new CniException(CniErrorCode.InvalidNetworkConfig, "missing network name:");
        }

        if (!IsValidIdentifier(networkName))
        {
            throw new CniException(CniErrorCode.InvalidNetworkConfig, "invalid characters found in network name", networkName);
        }
    }

    /// <summary>
    /// Checks an interface name as Linux requires it (code 4): non-empty, at most 15 bytes, not <c>.</c> or
    /// <c>..</c>, and no <c>/</c>, <c>:</c>, whitespace or control characters.
    /// </summary>
    /// <exception cref="CniException">The name breaks a rule.</exception>
    public static void ValidateInterfaceName(string? interfaceName)
    {
        if (string.IsNullOrEmpty(interfaceName))
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "interface name is empty");
        }

        if (System.Text.Encoding.UTF8.GetByteCount(interfaceName) > MaxInterfaceNameBytes)
        {
            throw new CniException(
                CniErrorCode.InvalidEnvironmentVariables,
                "interface name is too long",
                "interface name should be less than 16 characters");
        }

        if (interfaceName is "." or "..")
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "interface name is . or ..");
        }

        foreach (var c in interfaceName)
        {
            if (c is '/' or ':' || char.IsWhiteSpace(c))
            {
                throw new CniException(
                    CniErrorCode.InvalidEnvironmentVariables,
                    "interface name contains / or : or whitespace characters");
            }

            if (char.IsControl(c))
            {
                // Linux refuses them, and a NUL would cut the cache file's path short.
                throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "interface name contains a control character");
            }
        }
    }
}
