using System.Security.Cryptography;
using CniRuntime.Protocol;

namespace CniRuntime.Sandboxes;

/// <summary>Container IDs: 64 lowercase hex characters from a cryptographic RNG, as container engines make them.</summary>
public static class ContainerIds
{
    /// <summary>The length of an allocated ID.</summary>
    public const int Length = 64;

    /// <summary>A new random ID.</summary>
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(Length / 2));

    /// <summary>Finds the one ID among <paramref name="known"/> that equals or starts with <paramref name="prefix"/>.</summary>
    /// <returns>The ID, or null when none matches.</returns>
    /// <exception cref="CniException">The prefix is empty or matches more than one ID (code 4).</exception>
    public static string? ResolvePrefix(string prefix, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(known);
        if (string.IsNullOrEmpty(prefix))
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "an empty ID prefix matches every sandbox");
        }

        var matches = known.Where(id => id.StartsWith(prefix, StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).ToList();
        if (matches.Contains(prefix, StringComparer.Ordinal))
        {
            return prefix;
        }

        return matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw new CniException(
                CniErrorCode.InvalidEnvironmentVariables,
                $"ID prefix \"{prefix}\" is ambiguous: it matches {string.Join(", ", matches.Order(StringComparer.Ordinal).Take(5))}{(matches.Count > 5 ? ", …" : string.Empty)}"),
        };
    }
}
