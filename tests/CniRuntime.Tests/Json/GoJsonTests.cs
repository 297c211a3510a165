using System.Buffers;
using System.Text;
using System.Text.Json;
using CniRuntime.Json;

namespace CniRuntime.Tests.Json;

/// <summary>
/// The Go-compatible writer against what Go's encoding/json printed for the same input after json.Unmarshal into
/// interface{} and json.Marshal (Go 1.22 and later for \b and \f).
/// </summary>
public sealed class GoJsonTests
{
    [Theory]
    [InlineData("0", "0")]
    [InlineData("-0", "-0")]
    [InlineData("-0.0", "-0")]
    [InlineData("1.0", "1")]
    [InlineData("3.0e+0", "3")]
    [InlineData("1E2", "100")]
    [InlineData("1e20", "100000000000000000000")]
    [InlineData("99999999999999999999", "100000000000000000000")]
    [InlineData("1e21", "1e+21")]
    [InlineData("999999999999999999999", "1e+21")]
    [InlineData("1e100", "1e+100")]
    [InlineData("1e-6", "0.000001")]
    [InlineData("1e-5", "0.00001")]
    [InlineData("0.00001234", "0.00001234")]
    [InlineData("1e-7", "1e-7")]
    [InlineData("123e-9", "1.23e-7")]
    [InlineData("1.5e-10", "1.5e-10")]
    [InlineData("5e-324", "5e-324")]
    [InlineData("1.7976931348623157e308", "1.7976931348623157e+308")]
    [InlineData("123456789012345678", "123456789012345680")]
    [InlineData("12345678901234567890", "12345678901234567000")]
    [InlineData("-8332644676416592816", "-8332644676416593000")]
    [InlineData("9007199254740993", "9007199254740992")]
    [InlineData("0.30000000000000004", "0.30000000000000004")]
    [InlineData("-1234.5e10", "-12345000000000")]
    [InlineData("819408.1262862044", "819408.1262862044")]
    [InlineData("1.1365011574462971e-122", "1.1365011574462971e-122")]
    [InlineData("1e400", "1e400")] // beyond float64: Go cannot decode it at all; it is kept as it is
    public void Numbers_are_written_as_go_writes_the_float64_they_decode_to(string input, string expected) =>
        Assert.Equal(expected, Write(input));

    [Theory]
    [InlineData("\"a<b>c&d\"", "\"a\\u003cb\\u003ec\\u0026d\"")]
    [InlineData("\"\\u2028\\u2029\"", "\"\\u2028\\u2029\"")]
    [InlineData("\"\u2028x\"", "\"\\u2028x\"")]
    [InlineData("\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\u007f\"")]
    [InlineData("\"\\ud800\"", "\"\uFFFD\"")]
    [InlineData("\"\\udc00x\"", "\"\uFFFDx\"")]
    [InlineData("\"\\ud83d\\u0041\"", "\"\uFFFDA\"")]
    [InlineData("\"\\ud800\\ud800\\udc00\"", "\"\uFFFD\U00010000\"")]
    [InlineData("\"\\ud83d\\ude00\"", "\"\U0001F600\"")]
    [InlineData("\"é漢字\U0001F600\"", "\"é漢字\U0001F600\"")]
    [InlineData("\"\\u00e9\\/\\\"\\\\\"", "\"é/\\\"\\\\\"")]
    public void Strings_are_escaped_as_go_escapes_them(string input, string expected) =>
        Assert.Equal(expected, Write(input));

    [Theory]
    [InlineData("""{"b":1,"a":{"z":[3,{"y":1,"x":2}],"\u0061a":1,"A":0,"é":1,"e":2}}""", """{"a":{"A":0,"aa":1,"e":2,"z":[3,{"x":2,"y":1}],"é":1},"b":1}""")]
    [InlineData("""{"b":1,"a":{"x":1},"a":"dup"}""", """{"a":"dup","b":1}""")]
    [InlineData("""{"k\ud800":1,"k\u00e9":2,"k~":3,"kz":4}""", """{"kz":4,"k~":3,"ké":2,"k�":1}""")]
    [InlineData("""[true,false,null,{},[]]""", """[true,false,null,{},[]]""")]
    [InlineData("""{ "a" : [ 1 , 2 ] }""", """{"a":[1,2]}""")]
    public void Objects_are_written_as_go_maps_with_sorted_keys_at_every_level(string input, string expected) =>
        Assert.Equal(expected, Write(input));

    [Fact]
    public void Invalid_utf8_is_written_as_go_writes_it()
    {
        var buffer = new ArrayBufferWriter<byte>();

        GoJson.WriteString(buffer, [(byte)'a', 0xFF, 0xE2, 0x80, (byte)'b', 0xED, 0xA0, 0x80]);

        Assert.Equal("\"a\\ufffd\\ufffd\\ufffdb\\ufffd\\ufffd\\ufffd\"", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void Members_given_as_pairs_are_sorted_by_their_utf8_bytes()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var value = JsonElement.Parse("1");

        GoJson.WriteObject(buffer, [new("é", value), new("z", value), new("Z", value), new("\uFFFF", value), new("\U0001F600", value)]);

        Assert.Equal("{\"Z\":1,\"z\":1,\"é\":1,\"\uFFFF\":1,\"\U0001F600\":1}", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static string Write(string json)
    {
        var buffer = new ArrayBufferWriter<byte>();
        GoJson.WriteValue(buffer, JsonElement.Parse(json));
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
