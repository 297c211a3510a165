using System.Collections.Immutable;

namespace CniRuntime.Protocol;

/// <summary>The DNS settings (<c>dns</c>) of a result or of a plugin configuration.</summary>
public sealed record CniDns
{
    /// <summary>Name server addresses in priority order (<c>nameservers</c>).</summary>
    public ImmutableArray<string> Nameservers { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>The local domain for short-name lookups (<c>domain</c>).</summary>
    public string? Domain { get; init; }

    /// <summary>Search domains in priority order (<c>search</c>).</summary>
    public ImmutableArray<string> Search { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>Resolver options (<c>options</c>), e.g. <c>ndots:5</c>.</summary>
    public ImmutableArray<string> Options { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>True when no field is set; such a <c>dns</c> object is left out when writing.</summary>
    public bool IsEmpty => Nameservers.IsEmpty && string.IsNullOrEmpty(Domain) && Search.IsEmpty && Options.IsEmpty;

    /// <summary>Compares every field, lists by their elements.</summary>
    public bool Equals(CniDns? other) =>
        other is not null
        && Domain == other.Domain
        && Nameservers.SequenceEqual(other.Nameservers)
        && Search.SequenceEqual(other.Search)
        && Options.SequenceEqual(other.Options);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Domain);
        Sequence.AddAll(ref hash, Nameservers);
        Sequence.AddAll(ref hash, Search);
        Sequence.AddAll(ref hash, Options);
        return hash.ToHashCode();
    }
}
