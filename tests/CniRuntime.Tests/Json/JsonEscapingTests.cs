using System.Buffers;
using System.Text;
using System.Text.Json;
using CniRuntime.Json;
using CsCheck;

namespace CniRuntime.Tests.Json;

/// <summary>The writers' own escaping against System.Text.Json's default (a writer with no encoder): the same bytes.</summary>
public sealed class JsonEscapingTests
{
    private const string Special = "\"&'+<>\\`/\b\f\n\r\t\u007féł漢\u2028\ufffd\ud800\udc00";
    private static readonly string[] Fixed = ["\U0001F600", "a\U0001F600b", "plain-name_1.0", string.Empty];

    // Strings drawn mostly from the characters that matter: every escaped ASCII one, a few literal ones, non-ASCII of
    // one to four UTF-8 bytes, and unpaired surrogates.
    private static readonly Gen<char> Interesting = Gen.OneOf(
        Gen.Char['\0', '\u007f'],
        Gen.Int[0, Special.Length - 1].Select(i => Special[i]),
        Gen.Char);

    private static readonly Gen<string> Strings = Gen.OneOf(
        Interesting.Array[0, 40].Select(chars => new string(chars)),
        Gen.Int[0, Fixed.Length - 1].Select(i => Fixed[i]));

    private static readonly Gen<byte[]> Utf8 = Gen.OneOf(
        Gen.Byte.Array[0, 40],
        Strings.Select(s => Encoding.UTF8.GetBytes(s)));

    [Theory]
    [InlineData("a<b>c&d", "\"a\\u003Cb\\u003Ec\\u0026d\"")]
    [InlineData("\"'+`", "\"\\u0022\\u0027\\u002B\\u0060\"")]
    [InlineData("\\/\b\f\n\r\t\u0001\u007f", "\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u007F\"")]
    [InlineData("é\U0001F600", "\"\\u00E9\\uD83D\\uDE00\"")]
    public void Strings_are_escaped_as_the_framework_escapes_them(string value, string expected)
    {
        Assert.Equal(expected, Write(w => w.WriteStringValue(value), JsonEscaping.WriterOptions()));
        Assert.Equal(expected, Write(w => w.WriteStringValue(value), default));
    }

    [Fact]
    public void An_unpaired_surrogate_becomes_the_replacement_character() =>
        Assert.Equal("\"\\uFFFDx\"", Write(w => w.WriteStringValue("\ud800x"), JsonEscaping.WriterOptions()));

    [Fact]
    public void Any_string_is_written_as_the_framework_writes_it() =>
        Strings.Sample(value => Assert.Equal(
            Write(w => { w.WriteStartObject(); w.WriteString(value, value); w.WriteEndObject(); }, default),
            Write(w => { w.WriteStartObject(); w.WriteString(value, value); w.WriteEndObject(); }, JsonEscaping.WriterOptions())));

    [Fact]
    public void Any_utf8_text_even_invalid_is_written_as_the_framework_writes_it() =>
        Utf8.Sample(value => Assert.Equal(
            Write(w => { w.WriteStartObject(); w.WriteString(value, value); w.WriteEndObject(); }, default),
            Write(w => { w.WriteStartObject(); w.WriteString(value, value); w.WriteEndObject(); }, JsonEscaping.WriterOptions())));

    [Fact]
    public void A_parsed_document_is_copied_as_the_framework_copies_it() =>
        Strings.Sample(value =>
        {
            var json = Write(w => { w.WriteStartObject(); w.WriteString(value, value); w.WriteEndObject(); }, default);
            using var document = JsonDocument.Parse(json);
            Assert.Equal(
                Write(document.RootElement.WriteTo, default),
                Write(document.RootElement.WriteTo, JsonEscaping.WriterOptions()));
        });

    private static string Write(Action<Utf8JsonWriter> write, JsonWriterOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, options))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
