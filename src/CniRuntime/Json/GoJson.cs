using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace CniRuntime.Json;

/// <summary>
/// Writes JSON exactly as Go's <c>encoding/json</c> <c>Marshal</c> does, for files that must be byte for byte what
/// libcni writes. A value goes through what libcni does to it: decoded into <c>interface{}</c> (objects become maps,
/// numbers float64, strings valid UTF-8) and marshalled again, so object keys come out sorted at every level (by
/// their UTF-8 bytes; of duplicate keys the last wins), numbers in Go's float64 format (<c>1e+21</c>,
/// <c>1e-7</c>, <c>12345678901234567000</c>) and strings with Go's escaping: <c>\u003c \u003e \u0026</c> for
/// <c>&lt; &gt; &amp;</c>, <c>\u2028 \u2029</c>, <c>\n \r \t \b \f \" \\</c>, <c>\u00XX</c> for the other
/// control characters, everything else as UTF-8 (<c>\b</c> and <c>\f</c> as Go 1.22 and later write them).
/// </summary>
internal static class GoJson
{
    private const byte Backslash = (byte)'\\';
    private static readonly byte[] Hex = "0123456789abcdef"u8.ToArray();

    /// <summary>Writes a string (quoted, Go-escaped); unpaired surrogates become U+FFFD.</summary>
    public static void WriteString(IBufferWriter<byte> output, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = null;
        var buffer = length <= 256 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = Encoding.UTF8.GetBytes(value, buffer);
            WriteString(output, buffer[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Writes UTF-8 text as a string (quoted, Go-escaped); each invalid byte is written as <c>\ufffd</c>.</summary>
    public static void WriteString(IBufferWriter<byte> output, ReadOnlySpan<byte> utf8)
    {
        output.Write("\""u8);
        var start = 0;
        var i = 0;
        while (i < utf8.Length)
        {
            var b = utf8[i];
            if (b < 0x80)
            {
                if (b >= 0x20 && b != '"' && b != Backslash && b != '<' && b != '>' && b != '&')
                {
                    i++;
                    continue;
                }

                output.Write(utf8[start..i]);
                var escape = b switch
                {
                    (byte)'"' => "\\\""u8,
                    Backslash => "\\\\"u8,
                    (byte)'\n' => "\\n"u8,
                    (byte)'\r' => "\\r"u8,
                    (byte)'\t' => "\\t"u8,
                    (byte)'\b' => "\\b"u8,
                    (byte)'\f' => "\\f"u8,
                    _ => [],
                };
                if (escape.IsEmpty)
                {
                    output.Write([Backslash, (byte)'u', (byte)'0', (byte)'0', Hex[b >> 4], Hex[b & 0xF]]);
                }
                else
                {
                    output.Write(escape);
                }

                start = ++i;
                continue;
            }

            var status = Rune.DecodeFromUtf8(utf8[i..], out var rune, out var size);
            if (status != OperationStatus.Done)
            {
                // Go replaces each byte that does not start a valid sequence.
                output.Write(utf8[start..i]);
                output.Write("\\ufffd"u8);
                start = ++i;
                continue;
            }

            if (rune.Value is 0x2028 or 0x2029)
            {
                output.Write(utf8[start..i]);
                output.Write(rune.Value == 0x2028 ? "\\u2028"u8 : "\\u2029"u8);
                start = i + size;
            }

            i += size;
        }

        output.Write(utf8[start..]);
        output.Write("\""u8);
    }

    /// <summary>Writes a value as Go marshals it after decoding it into <c>interface{}</c>.</summary>
    /// <remarks>A number beyond float64's range, which Go cannot decode at all, is written as it is.</remarks>
    public static void WriteValue(IBufferWriter<byte> output, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteObject(output, value, null);
                break;
            case JsonValueKind.Array:
                output.Write("["u8);
                var first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first)
                    {
                        output.Write(","u8);
                    }

                    first = false;
                    WriteValue(output, item);
                }

                output.Write("]"u8);
                break;
            case JsonValueKind.String:
                WriteDecodedString(output, JsonMarshal.GetRawUtf8Value(value)[1..^1]);
                break;
            case JsonValueKind.Number:
                WriteNumber(output, JsonMarshal.GetRawUtf8Value(value));
                break;
            case JsonValueKind.True:
                output.Write("true"u8);
                break;
            case JsonValueKind.False:
                output.Write("false"u8);
                break;
            default:
                output.Write("null"u8);
                break;
        }
    }

    /// <summary>Writes members as a Go map: sorted by key, each value as <see cref="WriteValue"/> writes it.</summary>
    public static void WriteObject(IBufferWriter<byte> output, IEnumerable<KeyValuePair<string, JsonElement>> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        var sorted = members.Select(m => (Key: Encoding.UTF8.GetBytes(m.Key), m.Value)).ToList();
        sorted.Sort(static (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
        output.Write("{"u8);
        for (var i = 0; i < sorted.Count; i++)
        {
            if (i > 0)
            {
                output.Write(","u8);
            }

            WriteString(output, sorted[i].Key);
            output.Write(":"u8);
            WriteValue(output, sorted[i].Value);
        }

        output.Write("}"u8);
    }

    /// <summary>Writes a JSON number token as Go writes the float64 it decodes to.</summary>
    public static void WriteNumber(IBufferWriter<byte> output, ReadOnlySpan<byte> token)
    {
        if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
        {
            output.Write(token);
            return;
        }

        Span<byte> buffer = stackalloc byte[32];
        output.Write(buffer[..FormatFloat64(number, buffer)]);
    }

    /// <summary>
    /// Go's float64 encoding: the shortest digits that read back as the same number, in plain notation for
    /// 1e-6 ≤ |x| &lt; 1e21 (and 0), otherwise as <c>d.ddde±XX</c> with <c>e-07</c> shortened to <c>e-7</c>.
    /// </summary>
    internal static int FormatFloat64(double number, Span<byte> destination)
    {
        // "R" gives the shortest digits that read back as the same number, as Go's strconv does; only the
        // notation differs. Split it into digits and a decimal point: value = 0.digits × 10^point.
        Span<byte> shortest = stackalloc byte[32];
        number.TryFormat(shortest, out var length, "R", CultureInfo.InvariantCulture);
        Span<byte> digits = stackalloc byte[32];
        var count = 0;
        var pointAt = -1;
        var exponent = 0;
        for (var i = 0; i < length; i++)
        {
            var c = shortest[i];
            if (c == '.')
            {
                pointAt = count;
            }
            else if (c == 'E')
            {
                exponent = int.Parse(shortest[(i + 1)..length], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                break;
            }
            else if (c != '-')
            {
                digits[count++] = c;
            }
        }

        var point = (pointAt < 0 ? count : pointAt) + exponent;
        var lead = 0;
        while (lead < count && digits[lead] == '0')
        {
            lead++;
            point--;
        }

        ReadOnlySpan<byte> d = digits[lead..count].TrimEnd((byte)'0');
        var at = 0;
        if (double.IsNegative(number))
        {
            destination[at++] = (byte)'-';
        }

        var abs = Math.Abs(number);
        if (abs == 0 || (abs >= 1e-6 && abs < 1e21))
        {
            // %f: the integer part padded with zeros, then as many decimals as the digits need.
            if (point <= 0)
            {
                destination[at++] = (byte)'0';
            }

            for (var i = 0; i < point; i++)
            {
                destination[at++] = i < d.Length ? d[i] : (byte)'0';
            }

            if (d.Length > point)
            {
                destination[at++] = (byte)'.';
                for (var i = point; i < d.Length; i++)
                {
                    destination[at++] = i < 0 ? (byte)'0' : d[i];
                }
            }

            return at;
        }

        // %e: d.ddd, then the exponent. Go writes at least two exponent digits and then drops the zero of e-0X;
        // positive exponents here are 21 or more.
        destination[at++] = d[0];
        if (d.Length > 1)
        {
            destination[at++] = (byte)'.';
            d[1..].CopyTo(destination[at..]);
            at += d.Length - 1;
        }

        destination[at++] = (byte)'e';
        destination[at++] = point - 1 < 0 ? (byte)'-' : (byte)'+';
        var e = Math.Abs(point - 1);
        if (e >= 100)
        {
            destination[at++] = (byte)('0' + (e / 100));
        }

        if (e >= 10)
        {
            destination[at++] = (byte)('0' + (e / 10 % 10));
        }

        destination[at++] = (byte)('0' + (e % 10));
        return at;
    }

    /// <summary>
    /// Writes an object as <see cref="WriteValue"/> does, with <paramref name="memberIfMissing"/> among its members
    /// when it has none of that name.
    /// </summary>
    public static void WriteObject(IBufferWriter<byte> output, JsonElement value, JsonProperty? memberIfMissing)
    {
        var members = new List<(byte[]? Decoded, JsonProperty Property, int Index)>();
        var missing = memberIfMissing is not null;
        foreach (var property in value.EnumerateObject())
        {
            var raw = JsonMarshal.GetRawUtf8PropertyName(property);
            members.Add((raw.Contains(Backslash) ? Decode(raw) : null, property, members.Count));
            if (missing && Key(members[^1]).SequenceEqual(JsonMarshal.GetRawUtf8PropertyName(memberIfMissing!.Value)))
            {
                missing = false;
            }
        }

        if (missing)
        {
            members.Add((null, memberIfMissing!.Value, members.Count));
        }

        // Go's map keeps the last of duplicate keys; a stable order makes it the last of its run.
        members.Sort(static (a, b) =>
        {
            var byKey = Key(a).SequenceCompareTo(Key(b));
            return byKey != 0 ? byKey : a.Index.CompareTo(b.Index);
        });

        output.Write("{"u8);
        var first = true;
        for (var i = 0; i < members.Count; i++)
        {
            if (i + 1 < members.Count && Key(members[i]).SequenceEqual(Key(members[i + 1])))
            {
                continue;
            }

            if (!first)
            {
                output.Write(","u8);
            }

            first = false;
            WriteString(output, Key(members[i]));
            output.Write(":"u8);
            WriteValue(output, members[i].Property.Value);
        }

        output.Write("}"u8);
    }

    private static ReadOnlySpan<byte> Key((byte[]? Decoded, JsonProperty Property, int Index) member) =>
        member.Decoded ?? JsonMarshal.GetRawUtf8PropertyName(member.Property);

    private static void WriteDecodedString(IBufferWriter<byte> output, ReadOnlySpan<byte> raw)
    {
        if (raw.Contains(Backslash))
        {
            WriteString(output, Decode(raw));
        }
        else
        {
            WriteString(output, raw);
        }
    }

    /// <summary>
    /// The text of a JSON string's contents as Go's decoder produces it: escapes resolved, an unpaired surrogate
    /// escape and every invalid UTF-8 byte replaced by U+FFFD.
    /// </summary>
    internal static byte[] Decode(ReadOnlySpan<byte> raw)
    {
        var decoded = new ArrayBufferWriter<byte>(raw.Length);
        Span<byte> encoded = stackalloc byte[4];
        var i = 0;
        while (i < raw.Length)
        {
            var b = raw[i];
            if (b != Backslash)
            {
                if (Rune.DecodeFromUtf8(raw[i..], out _, out var size) == OperationStatus.Done)
                {
                    decoded.Write(raw.Slice(i, size));
                    i += size;
                }
                else
                {
                    decoded.Write("\uFFFD"u8);
                    i++;
                }

                continue;
            }

            if (i + 1 >= raw.Length)
            {
                break;
            }

            var c = raw[i + 1];
            if (c != 'u')
            {
                decoded.Write([c switch
                {
                    (byte)'b' => (byte)'\b',
                    (byte)'f' => (byte)'\f',
                    (byte)'n' => (byte)'\n',
                    (byte)'r' => (byte)'\r',
                    (byte)'t' => (byte)'\t',
                    _ => c,
                }]);
                i += 2;
                continue;
            }

            var unit = Hex4(raw[(i + 2)..]);
            i += 6;
            Rune rune;
            if (char.IsSurrogate((char)unit))
            {
                var low = raw.Length - i >= 6 && raw[i] == Backslash && raw[i + 1] == 'u' ? Hex4(raw[(i + 2)..]) : -1;
                if (char.IsHighSurrogate((char)unit) && low >= 0 && char.IsLowSurrogate((char)low))
                {
                    rune = new Rune((char)unit, (char)low);
                    i += 6;
                }
                else
                {
                    rune = Rune.ReplacementChar;
                }
            }
            else
            {
                rune = new Rune(unit);
            }

            decoded.Write(encoded[..rune.EncodeToUtf8(encoded)]);
        }

        return decoded.WrittenSpan.ToArray();
    }

    private static int Hex4(ReadOnlySpan<byte> text) =>
        text.Length >= 4 && int.TryParse(text[..4], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var unit) ? unit : 0xFFFD;
}
