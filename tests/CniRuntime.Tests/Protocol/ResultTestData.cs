using System.Text.Json.Nodes;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

/// <summary>Finds the golden result files and compares JSON by meaning rather than by bytes.</summary>
internal static class ResultTestData
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "testdata", "results");

    /// <summary>Golden results as paths relative to <see cref="Root"/>, e.g. <c>0.4.0/ptp.json</c>.</summary>
    public static TheoryData<string> GoldenFiles() => [.. GoldenFilePaths()];

    /// <summary>The same as <see cref="GoldenFiles"/>, as plain strings.</summary>
    public static IEnumerable<string> GoldenFilePaths() =>
        CniVersion.All.SelectMany(version =>
            Directory.GetFiles(Path.Combine(Root, version.ToString()), "*.json")
                .Order(StringComparer.Ordinal)
                .Select(file => Path.GetRelativePath(Root, file)));

    /// <summary>Conversion cases as <c>from_to_to/case</c>.</summary>
    public static TheoryData<string> ConversionCases()
    {
        var data = new TheoryData<string>();
        var root = Path.Combine(Root, "conversions");
        foreach (var file in Directory.GetFiles(root, "*.input.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, file);
            data.Add(relative[..^".input.json".Length]);
        }

        return data;
    }

    public static byte[] Read(string relativePath) => File.ReadAllBytes(Path.Combine(Root, relativePath));

    /// <summary>Asserts two documents mean the same, ignoring key order, nulls and empty lists or objects.</summary>
    public static void AssertJsonEquivalent(byte[] expected, byte[] actual)
    {
        var expectedNode = Normalize(JsonNode.Parse(expected));
        var actualNode = Normalize(JsonNode.Parse(actual));
        Assert.True(
            JsonNode.DeepEquals(expectedNode, actualNode),
            $"JSON differs.\nexpected: {expectedNode?.ToJsonString()}\nactual:   {actualNode?.ToJsonString()}");
    }

    /// <summary>Drops what a writer that omits empty values leaves out anyway.</summary>
    public static JsonNode? Normalize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var normalized = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    var child = Normalize(value);
                    if (child is not null)
                    {
                        normalized[key] = child;
                    }
                }

                return normalized.Count == 0 ? null : normalized;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(Normalize(item) ?? new JsonObject());
                }

                return items.Count == 0 ? null : items;
            default:
                return node?.DeepClone();
        }
    }
}
