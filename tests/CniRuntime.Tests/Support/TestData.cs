namespace CniRuntime.Tests.Support;

/// <summary>Paths into the repository's testdata folder, copied beside the test assembly.</summary>
public static class TestData
{
    public static string Root { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "testdata");

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>Rows of a tab-separated table with a header line, as dictionaries keyed by column name.</summary>
    public static IEnumerable<IReadOnlyDictionary<string, string>> ReadTable(params string[] parts)
    {
        var lines = File.ReadAllLines(Path(parts)).Where(l => l.Length > 0).ToList();
        var header = lines[0].Split('\t');
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split('\t');
            yield return header.Select((h, i) => (h, cell: i < cells.Length ? cells[i] : string.Empty)).ToDictionary(x => x.h, x => x.cell);
        }
    }
}
