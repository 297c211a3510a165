using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace CniRuntime.Protocol;

/// <summary>
/// Strict IP address text parsing, close to Go's <c>net.ParseIP</c>: dotted-quad IPv4 with exactly four decimal
/// parts and no leading zeros, or plain IPv6 text without zone or brackets.
/// </summary>
/// <remarks>
/// <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> alone is too lenient for CNI results: it accepts
/// <c>10.0.0</c>, <c>10</c> or hexadecimal parts, which Go rejects.
/// </remarks>
internal static class IpText
{
    public static bool TryParseAddress(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.IsEmpty)
        {
            return false;
        }

        return text.Contains(':') ? TryParseV6(text, out address) : TryParseV4(text, out address);
    }

    private static bool TryParseV6(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;

        // Only hex digits, colons and the dots of an embedded IPv4 tail: no zone, brackets, port or spaces.
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c) && c != ':' && c != '.')
            {
                return false;
            }
        }

        var dot = text.IndexOf('.');
        if (dot >= 0)
        {
            // The embedded IPv4 tail must be strict too.
            var tailStart = text[..dot].LastIndexOf(':') + 1;
            if (!TryParseV4(text[tailStart..], out _))
            {
                return false;
            }
        }

        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        address = parsed;
        return true;
    }

    private static bool TryParseV4(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        Span<byte> bytes = stackalloc byte[4];
        var part = 0;
        var start = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] != '.')
            {
                if (!char.IsAsciiDigit(text[i]))
                {
                    return false;
                }

                continue;
            }

            var digits = text[start..i];
            if (part == 4 || digits.Length is 0 or > 3 || (digits.Length > 1 && digits[0] == '0'))
            {
                return false;
            }

            var value = 0;
            foreach (var d in digits)
            {
                value = (value * 10) + (d - '0');
            }

            if (value > 255)
            {
                return false;
            }

            bytes[part++] = (byte)value;
            start = i + 1;
        }

        if (part != 4)
        {
            return false;
        }

        address = new IPAddress(bytes);
        return true;
    }
}
