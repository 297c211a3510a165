using CniRuntime.Configuration;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Configuration;

/// <summary>Every file in testdata/conflists loads exactly as its table says, or fails with exactly its error.</summary>
public sealed class ConfigurationTestdataTests
{
    public static TheoryData<string> ValidFiles() => [.. TestData.ReadTable("conflists", "valid", "MANIFEST.tsv").Select(r => r["file"])];

    public static TheoryData<string> InvalidFiles() => [.. TestData.ReadTable("conflists", "invalid", "EXPECTED.tsv").Select(r => r["file"])];

    [Theory]
    [MemberData(nameof(ValidFiles))]
    public async Task Valid_file_loads_with_the_name_version_plugins_and_flags_of_the_manifest(string file)
    {
        var row = TestData.ReadTable("conflists", "valid", "MANIFEST.tsv").Single(r => r["file"] == file);

        var list = await NetworkConfigLoader.LoadFileAsync(TestData.Path("conflists", "valid", file));

        Assert.Equal(row["name"], list.Name);
        Assert.Equal(row["effective_cniVersion"], list.CniVersion);
        Assert.Equal(row["plugin_types"], string.Join(",", list.Plugins.Select(p => p.Type)));
        Assert.Equal(bool.Parse(row["disableCheck"]), list.DisableCheck);
        Assert.Equal(bool.Parse(row["disableGC"]), list.DisableGC);
        Assert.True(list.GetVersion().IsKnown);
    }

    [Fact]
    public void Every_valid_file_is_in_the_manifest_and_the_manifest_has_at_least_30()
    {
        var listed = TestData.ReadTable("conflists", "valid", "MANIFEST.tsv").Select(r => r["file"]).Order().ToList();
        var present = Directory.EnumerateFiles(TestData.Path("conflists", "valid"))
            .Select(f => Path.GetFileName(f)).Where(f => f != "MANIFEST.tsv").Order().ToList();

        Assert.Equal(present, listed);
        Assert.True(listed.Count >= 30, $"{listed.Count} valid files");
    }

    [Theory]
    [MemberData(nameof(InvalidFiles))]
    public async Task Invalid_file_fails_with_its_exact_error_code_and_path(string file)
    {
        var row = TestData.ReadTable("conflists", "invalid", "EXPECTED.tsv").Single(r => r["file"] == file);
        var path = TestData.Path("conflists", "invalid", file);

        var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(path));

        Assert.Equal(row["message"].Replace("{file}", path, StringComparison.Ordinal), error.Message);
        Assert.Equal(uint.Parse(row["code"], System.Globalization.CultureInfo.InvariantCulture), (uint)error.Code);
        Assert.Equal(row["json_path"], error.JsonPath ?? string.Empty);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void Every_invalid_file_has_an_expected_error_and_there_are_at_least_25()
    {
        var listed = TestData.ReadTable("conflists", "invalid", "EXPECTED.tsv").Select(r => r["file"]).Order().ToList();
        var present = Directory.EnumerateFiles(TestData.Path("conflists", "invalid"))
            .Select(f => Path.GetFileName(f)).Where(f => f != "EXPECTED.tsv").Order().ToList();

        Assert.Equal(present, listed);
        Assert.True(listed.Count >= 25, $"{listed.Count} invalid files");
    }

    [Fact]
    public async Task The_valid_directory_scans_with_every_network_and_no_diagnostics()
    {
        var scan = await NetworkConfigLoader.ScanDirectoryAsync(TestData.Path("conflists", "valid"));

        Assert.Empty(scan.Diagnostics);
        Assert.Equal(
            TestData.ReadTable("conflists", "valid", "MANIFEST.tsv").Select(r => r["name"]).Order(StringComparer.Ordinal),
            scan.Networks.Select(n => n.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_invalid_directory_scans_with_a_diagnostic_per_file_and_no_network()
    {
        var scan = await NetworkConfigLoader.ScanDirectoryAsync(TestData.Path("conflists", "invalid"));

        Assert.Empty(scan.Networks);
        Assert.Equal(TestData.ReadTable("conflists", "invalid", "EXPECTED.tsv").Count(), scan.Diagnostics.Count);
        Assert.All(scan.Diagnostics, d => Assert.StartsWith(d.File, d.Message, StringComparison.Ordinal));
    }
}
