using System.Text.Json.Nodes;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

public sealed class CniResultGoldenTests
{
    public static TheoryData<string> GoldenFiles => ResultTestData.GoldenFiles();

    public static TheoryData<string> ConversionCases => ResultTestData.ConversionCases();

    public static TheoryData<string, string> GoldenFilesTimesVersions
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var file in ResultTestData.GoldenFilePaths())
            {
                foreach (var version in CniVersion.All)
                {
                    data.Add(file, version.ToString());
                }
            }

            return data;
        }
    }

    [Fact]
    public void Every_version_has_at_least_three_golden_results()
    {
        foreach (var version in CniVersion.All)
        {
            var files = Directory.GetFiles(Path.Combine(ResultTestData.Root, version.ToString()), "*.json");
            Assert.True(files.Length >= 3, $"{version} has {files.Length} golden results");
        }
    }

    [Theory]
    [MemberData(nameof(GoldenFiles))]
    public void Golden_result_round_trips(string file)
    {
        var bytes = ResultTestData.Read(file);

        var result = CniResultJson.Parse(bytes);
        var written = CniResultJson.ToUtf8Bytes(result);

        Assert.Equal(Path.GetDirectoryName(file), result.CniVersion.ToString());
        ResultTestData.AssertJsonEquivalent(bytes, written);
        Assert.Equal(result, CniResultJson.Parse(written));
        ResultTestData.AssertJsonEquivalent(bytes, CniResultJson.ToUtf8Bytes(result, indented: true));
    }

    [Theory]
    [MemberData(nameof(GoldenFiles))]
    public void Golden_result_is_written_in_spec_key_order(string file)
    {
        var result = CniResultJson.Parse(ResultTestData.Read(file));

        var keys = JsonNode.Parse(CniResultJson.ToUtf8Bytes(result))!.AsObject().Select(p => p.Key).ToList();

        string[] order = ["cniVersion", "interfaces", "ips", "ip4", "ip6", "routes", "dns"];
        Assert.Equal("cniVersion", keys[0]);
        Assert.Equal(keys.OrderBy(k => Array.IndexOf(order, k)), keys);
    }

    [Theory]
    [MemberData(nameof(ConversionCases))]
    public void Conversion_matches_golden_output(string name)
    {
        var (from, to) = VersionsOf(name);
        var input = ResultTestData.Read(Path.Combine("conversions", name + ".input.json"));
        var expected = ResultTestData.Read(Path.Combine("conversions", name + ".expected.json"));

        var source = CniResultJson.Parse(input);
        var converted = source.ConvertTo(to);

        Assert.Equal(from, source.CniVersion);
        Assert.Equal(to, converted.CniVersion);
        ResultTestData.AssertJsonEquivalent(expected, CniResultJson.ToUtf8Bytes(converted));
        Assert.Equal(CniResultJson.Parse(expected), converted);
    }

    [Fact]
    public void Conversion_goldens_cover_every_required_direction()
    {
        string[] required =
        [
            "0.2.0_to_0.4.0", "0.2.0_to_1.0.0", "0.4.0_to_0.2.0", "0.4.0_to_1.0.0", "1.0.0_to_0.4.0",
            "1.1.0_to_0.3.1", "1.1.0_to_0.1.0", "0.3.1_to_1.1.0", "1.0.0_to_1.1.0",
        ];
        var present = Directory.GetDirectories(Path.Combine(ResultTestData.Root, "conversions")).Select(Path.GetFileName).ToHashSet();

        Assert.All(required, direction => Assert.Contains(direction, present));
    }

    public static TheoryData<string> LibcniConversionCases => ResultTestData.LibcniConversionCases();

    [Theory]
    [MemberData(nameof(LibcniConversionCases))]
    public void Conversion_gives_what_libcni_gives(string name)
    {
        var (from, to) = VersionsOf(name);
        var source = CniResultJson.Parse(ResultTestData.Read(Path.Combine(from.ToString(), Path.GetFileName(name) + ".json")));
        var expected = Path.Combine(ResultTestData.Root, "libcni", name);

        if (File.Exists(expected + ".error"))
        {
            var error = Assert.Throws<CniException>(() => source.ConvertTo(to));
            Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
            Assert.Equal(File.ReadAllText(expected + ".error").TrimEnd('\n'), error.Message);
        }
        else
        {
            var converted = source.ConvertTo(to);
            var golden = File.ReadAllBytes(expected + ".json");
            ResultTestData.AssertJsonEquivalent(golden, CniResultJson.ToUtf8Bytes(converted));
            Assert.Equal(CniResultJson.Parse(golden), converted);
        }
    }

    [Fact]
    public void Libcni_conversions_cover_every_golden_result_to_every_other_version_and_two_unknown_ones()
    {
        string[] targets = [.. CniVersion.All.Select(v => v.ToString()), "0.5.0", "1.2.0"];
        var cases = ResultTestData.LibcniConversionNames().ToList();

        var expected = CniVersion.All.SelectMany(from =>
            Directory.GetFiles(Path.Combine(ResultTestData.Root, from.ToString()), "*.json").SelectMany(file =>
                targets.Where(to => to != from.ToString()).Select(to => $"{from}_to_{to}/{Path.GetFileNameWithoutExtension(file)}")));

        Assert.Equal(expected.Order(StringComparer.Ordinal), cases);
        Assert.Equal(7 * 6, cases.Select(c => c.Split('/')[0]).Where(d => !d.EndsWith("0.5.0", StringComparison.Ordinal) && !d.EndsWith("1.2.0", StringComparison.Ordinal)).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(GoldenFilesTimesVersions))]
    public void Conversion_to_any_version_is_stable_and_never_invents_data(string file, string targetText)
    {
        var target = CniVersion.Parse(targetText);
        var source = CniResultJson.Parse(ResultTestData.Read(file));
        if (target < CniVersion.V030 && source.CniVersion >= CniVersion.V030 && source.Ips.IsEmpty)
        {
            // 0.1.0/0.2.0 results must carry an address; libcni refuses such a conversion too.
            var error = Assert.Throws<CniException>(() => source.ConvertTo(target));
            Assert.Equal("cannot convert: no valid IP addresses", error.Message);
            return;
        }

        var converted = source.ConvertTo(target);

        // What is written is exactly what reads back.
        Assert.Equal(target, converted.CniVersion);
        Assert.Equal(converted, CniResultJson.Parse(CniResultJson.ToUtf8Bytes(converted)));

        // Everything in the converted result came from the source.
        Assert.All(converted.Ips, ip => Assert.Contains(source.Ips, s => s.Address == ip.Address && Equals(s.Gateway, ip.Gateway)));
        Assert.All(converted.Routes, route => Assert.Contains(source.Routes, s => s.Dst == route.Dst && Equals(s.Gw, route.Gw)));
        Assert.All(converted.Interfaces, i => Assert.Contains(source.Interfaces, s => s.Name == i.Name && s.Mac == i.Mac && s.Sandbox == i.Sandbox));
        Assert.Equal(source.Dns, converted.Dns);

        if (target < CniVersion.V030)
        {
            Assert.Empty(converted.Interfaces);
            Assert.True(converted.Ips.Count(ip => ip.Address.IsIPv4) <= 1);
            Assert.True(converted.Ips.Count(ip => !ip.Address.IsIPv4) <= 1);
            Assert.All(converted.Routes, r => Assert.Equal(new CniRoute { Dst = r.Dst, Gw = r.Gw }, r));
        }
        else if (target < CniVersion.V100)
        {
            Assert.All(converted.Interfaces, i => Assert.True(i.Mtu is null && i.SocketPath is null && i.PciId is null));
        }

        if (source.CniVersion < CniVersion.V030)
        {
            Assert.Empty(converted.Interfaces);
        }
    }

    private static (CniVersion From, CniVersion To) VersionsOf(string name)
    {
        var direction = name.Split('/', '\\')[0].Split("_to_");
        return (CniVersion.Parse(direction[0]), CniVersion.Parse(direction[1]));
    }
}
