using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CniRuntime.Json;

/// <summary>
/// System.Text.Json's default escaping (that of <see cref="JavaScriptEncoder.Default"/>), for every writer here:
/// every non-ASCII character, the control characters and <c>" &amp; ' + &lt; &gt; \ `</c> are escaped, as
/// <c>\uXXXX</c> with upper-case hex (a character outside the BMP as its two surrogates), or <c>\b \t \n \f \r \\</c>
/// in short form; invalid UTF-8 and unpaired surrogates become <c>\uFFFD</c>. The output is the framework's, byte for
/// byte; the framework's encoder builds its tables, and those of the relaxed encoder beside it, in a static
/// constructor that costs ~80 us of every <c>cnirt</c> process's first JSON write.
/// </summary>
internal sealed class JsonEscaping : JavaScriptEncoder
{
    /// <summary>The one instance.</summary>
    public static readonly JsonEscaping Instance = new();

    private static readonly SearchValues<byte> LiteralBytes = SearchValues.Create(LiteralAscii());
    private static readonly SearchValues<char> LiteralChars = SearchValues.Create(Array.ConvertAll(LiteralAscii(), b => (char)b));

    private JsonEscaping()
    {
    }

    /// <summary>Writer options with this escaping.</summary>
    public static JsonWriterOptions WriterOptions(bool indented = false, int indentSize = 2) =>
        new() { Encoder = Instance, Indented = indented, IndentSize = indentSize };

    /// <inheritdoc />
    public override int MaxOutputCharactersPerInputCharacter => 6; // \uXXXX; a surrogate pair is two inputs

    /// <inheritdoc />
    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength) =>
        new ReadOnlySpan<char>(text, textLength).IndexOfAnyExcept(LiteralChars);

    /// <inheritdoc />
    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text) => utf8Text.IndexOfAnyExcept(LiteralBytes);

    /// <inheritdoc />
    public override bool WillEncode(int unicodeScalar) => unicodeScalar is < 0 or > 0x7F || !LiteralBytes.Contains((byte)unicodeScalar);

    /// <inheritdoc />
    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        var output = new Span<char>(buffer, bufferLength);
        numberOfCharactersWritten = 0;
        if (!WillEncode(unicodeScalar))
        {
            if (output.IsEmpty)
            {
                return false;
            }

            output[0] = (char)unicodeScalar;
            numberOfCharactersWritten = 1;
            return true;
        }

        var shortForm = unicodeScalar switch
        {
            '\b' => 'b',
            '\t' => 't',
            '\n' => 'n',
            '\f' => 'f',
            '\r' => 'r',
            '\\' => '\\',
            _ => '\0',
        };
        if (shortForm != '\0')
        {
            if (output.Length < 2)
            {
                return false;
            }

            output[0] = '\\';
            output[1] = shortForm;
            numberOfCharactersWritten = 2;
            return true;
        }

        if (!Rune.TryCreate(unicodeScalar, out var rune))
        {
            rune = Rune.ReplacementChar;
        }

        Span<char> utf16 = stackalloc char[2];
        var units = rune.EncodeToUtf16(utf16);
        if (output.Length < units * 6)
        {
            return false;
        }

        for (var i = 0; i < units; i++)
        {
            WriteHexEscape(utf16[i], output.Slice(i * 6, 6));
        }

        numberOfCharactersWritten = units * 6;
        return true;
    }

    private static void WriteHexEscape(char unit, Span<char> output)
    {
        const string Hex = "0123456789ABCDEF";
        output[0] = '\\';
        output[1] = 'u';
        output[2] = Hex[(unit >> 12) & 0xF];
        output[3] = Hex[(unit >> 8) & 0xF];
        output[4] = Hex[(unit >> 4) & 0xF];
        output[5] = Hex[unit & 0xF];
    }

    // Printable ASCII less the HTML-sensitive characters, the backslash and the backtick.
    private static byte[] LiteralAscii()
    {
        var literal = new List<byte>(95);
        for (var b = (byte)0x20; b < 0x7F; b++)
        {
            if (b is not ((byte)'"' or (byte)'&' or (byte)'\'' or (byte)'+' or (byte)'<' or (byte)'>' or (byte)'\\' or (byte)'`'))
            {
                literal.Add(b);
            }
        }

        return [.. literal];
    }
}
