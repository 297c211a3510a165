using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CniRuntime.Protocol;

/// <summary>
/// An IP address with a prefix length, as CNI results write it (<c>10.1.0.5/24</c>, <c>fd00::5/64</c>).
/// </summary>
/// <remarks>
/// Unlike a network prefix, the host bits are kept: a result's <c>address</c> names the interface's own address
/// and its subnet at once, like Go's <c>net.IPNet</c> as libcni uses it.
/// </remarks>
public readonly record struct IpPrefix
{
    /// <summary>Creates a prefix from an address and a prefix length.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="address"/> is null.</exception>
    /// <exception cref="ArgumentException">The address is neither IPv4 nor IPv6, or has a scope id.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The length is negative or longer than the address.</exception>
    public IpPrefix(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bits = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => 32,
            AddressFamily.InterNetworkV6 when address.ScopeId == 0 => 128,
            _ => throw new ArgumentException("expected an IPv4 or IPv6 address without a scope id", nameof(address)),
        };
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, bits);
        Address = address;
        PrefixLength = prefixLength;
    }

    /// <summary>The address, host bits included.</summary>
    public IPAddress Address { get; }

    /// <summary>The number of leading network bits (0-32 for IPv4, 0-128 for IPv6).</summary>
    public int PrefixLength { get; }

    /// <summary>True for an IPv4 address.</summary>
    public bool IsIPv4 => Address?.AddressFamily == AddressFamily.InterNetwork;

    /// <summary>Parses <c>address/length</c>.</summary>
    /// <exception cref="FormatException">The text is not an IP address with a prefix length.</exception>
    public static IpPrefix Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var prefix)
            ? prefix
            : throw new FormatException($"\"{text}\" is not an IP address with a prefix length");
    }

    /// <summary>Parses <c>address/length</c> without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out IpPrefix prefix)
    {
        prefix = default;
        return text is not null && TryParse(text.AsSpan(), out prefix);
    }

    /// <summary>Parses <c>address/length</c> without throwing.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpPrefix prefix)
    {
        prefix = default;
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            return false;
        }

        var lengthText = text[(slash + 1)..];
        if (lengthText.Length is 0 or > 3 || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            return false;
        }

        if (!IpText.TryParseAddress(text[..slash], out var address))
        {
            return false;
        }

        if (length > (address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
        {
            return false;
        }

        prefix = new IpPrefix(address, length);
        return true;
    }

    /// <summary>Splits the prefix into its parts.</summary>
    public void Deconstruct(out IPAddress address, out int prefixLength)
    {
        address = Address;
        prefixLength = PrefixLength;
    }

    /// <summary>The text form, <c>address/length</c>; IPv6 in the RFC 5952 compressed form.</summary>
    public override string ToString() =>
        Address is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"{Address}/{PrefixLength}");
}
