using System.Collections.Immutable;

namespace CniRuntime.Protocol;

/// <summary>
/// The result of a CNI ADD, in one model that holds every specification version's data.
/// </summary>
/// <remarks>
/// <see cref="CniVersion"/> decides the wire shape <see cref="CniResultJson.Write"/> uses; data that shape cannot
/// carry (a second IPv4 address in 0.2.0, an interface MTU in 0.4.0) is left out when writing, exactly as
/// <see cref="ConvertTo"/> would drop it. Two results are equal when all their fields and list elements are.
/// </remarks>
public sealed record CniResult
{
    /// <summary>The specification version the result is expressed in (<c>cniVersion</c>).</summary>
    public required CniVersion CniVersion { get; init; }

    /// <summary>The interfaces the plugin created or configured (<c>interfaces</c>, 0.3.0 and later).</summary>
    public ImmutableArray<CniInterface> Interfaces { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>The assigned addresses (<c>ips</c>; <c>ip4</c> and <c>ip6</c> before 0.3.0, IPv4 first).</summary>
    public ImmutableArray<CniIpConfig> Ips { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>The installed routes (<c>routes</c>; before 0.3.0 those of <c>ip4</c>, then those of <c>ip6</c>).</summary>
    public ImmutableArray<CniRoute> Routes { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>The DNS settings (<c>dns</c>), or null when there are none.</summary>
    public CniDns? Dns { get; init; }

    /// <summary>A result with no interfaces, addresses, routes or DNS settings.</summary>
    public static CniResult Empty(CniVersion version) => new() { CniVersion = version };

    /// <summary>
    /// Converts the result to another specification version with libcni's rules; a conversion only ever drops data.
    /// </summary>
    /// <returns>This object when <paramref name="target"/> is its own version.</returns>
    /// <exception cref="CniException">
    /// Code 1 when either version is not one this library knows, or when a result with no IP address is converted
    /// to 0.1.0 or 0.2.0, which require one.
    /// </exception>
    public CniResult ConvertTo(CniVersion target) => ResultConversion.Convert(this, target);

    /// <summary>Compares every field, lists by their elements.</summary>
    public bool Equals(CniResult? other) =>
        other is not null
        && CniVersion == other.CniVersion
        && Interfaces.SequenceEqual(other.Interfaces)
        && Ips.SequenceEqual(other.Ips)
        && Routes.SequenceEqual(other.Routes)
        && Equals(Dns, other.Dns);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(CniVersion);
        Sequence.AddAll(ref hash, Interfaces);
        Sequence.AddAll(ref hash, Ips);
        Sequence.AddAll(ref hash, Routes);
        hash.Add(Dns);
        return hash.ToHashCode();
    }
}
