using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CniRuntime.Conformance;

/// <summary>How binding a requirement is: the specification's MUST or its SHOULD.</summary>
public enum RequirementLevel
{
    /// <summary>A violation fails the run.</summary>
    Must,

    /// <summary>A violation is a warning.</summary>
    Should,
}

/// <summary>What became of one requirement.</summary>
public enum CheckOutcome
{
    /// <summary>The plugin met it.</summary>
    Passed,

    /// <summary>The plugin broke a MUST.</summary>
    Failed,

    /// <summary>The plugin broke a SHOULD.</summary>
    Warning,

    /// <summary>It does not apply (a version the plugin does not claim, a step an earlier failure prevented).</summary>
    NotApplicable,
}

/// <summary>One requirement of the specification, checked against a plugin, with what was seen.</summary>
/// <param name="Id">A stable identifier (<c>add.result-schema</c>).</param>
/// <param name="Level">MUST or SHOULD.</param>
/// <param name="Requirement">What the specification asks, in a sentence.</param>
/// <param name="Outcome">Passed, failed, warning or not applicable.</param>
/// <param name="Evidence">What the plugin did: exit codes, output, the violations found.</param>
public sealed record ConformanceCheck(string Id, RequirementLevel Level, string Requirement, CheckOutcome Outcome, string Evidence)
{
    /// <summary>A check whose outcome follows from whether the requirement was met.</summary>
    public static ConformanceCheck Of(string id, RequirementLevel level, string requirement, bool met, string evidence) =>
        new(id, level, requirement, met ? CheckOutcome.Passed : level == RequirementLevel.Must ? CheckOutcome.Failed : CheckOutcome.Warning, evidence);

    /// <summary>A check that does not apply, and why.</summary>
    public static ConformanceCheck NotApplicable(string id, RequirementLevel level, string requirement, string why) =>
        new(id, level, requirement, CheckOutcome.NotApplicable, why);
}

/// <summary>The outcome of a conformance run: every requirement checked, in the order they were.</summary>
/// <param name="PluginType">The plugin under test.</param>
/// <param name="NetworkName">The network the run used.</param>
/// <param name="CniVersion">The configuration's version.</param>
/// <param name="Checks">Every check.</param>
public sealed record ConformanceReport(string PluginType, string NetworkName, string CniVersion, IReadOnlyList<ConformanceCheck> Checks)
{
    /// <summary>True when no MUST was broken.</summary>
    public bool Passed => Checks.All(c => c.Outcome != CheckOutcome.Failed);

    /// <summary>The check with this identifier, or null.</summary>
    public ConformanceCheck? Find(string id) => Checks.FirstOrDefault(c => c.Id == id);

    /// <summary>The identifiers of the checks with an outcome.</summary>
    public IReadOnlyList<string> IdsWith(CheckOutcome outcome) => [.. Checks.Where(c => c.Outcome == outcome).Select(c => c.Id)];

    /// <summary>One line per check (<c>FAIL  add.result-schema  MUST …</c>) and its evidence, then a summary line.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"conformance of plugin {PluginType} (network \"{NetworkName}\", cniVersion {CniVersion})\n");
        var width = Checks.Count == 0 ? 0 : Checks.Max(c => c.Id.Length);
        foreach (var check in Checks)
        {
            text.Append(Label(check.Outcome)).Append("  ").Append(check.Id.PadRight(width)).Append("  ")
                .Append(check.Level == RequirementLevel.Must ? "MUST   " : "SHOULD ").Append(check.Requirement).Append('\n');
            foreach (var line in check.Evidence.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                text.Append("        ").Append(line).Append('\n');
            }
        }

        text.Append(CultureInfo.InvariantCulture, $"{Count(CheckOutcome.Passed)} passed, {Count(CheckOutcome.Failed)} failed, {Count(CheckOutcome.Warning)} warnings, {Count(CheckOutcome.NotApplicable)} not applicable\n");
        return text.ToString();
    }

    /// <summary>Writes the report as one JSON object: <c>plugin</c>, <c>network</c>, <c>cniVersion</c>, <c>passed</c>, <c>checks</c>.</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("plugin", PluginType);
        writer.WriteString("network", NetworkName);
        writer.WriteString("cniVersion", CniVersion);
        writer.WriteBoolean("passed", Passed);
        writer.WriteStartArray("checks");
        foreach (var check in Checks)
        {
            writer.WriteStartObject();
            writer.WriteString("id", check.Id);
            writer.WriteString("level", check.Level == RequirementLevel.Must ? "MUST" : "SHOULD");
            writer.WriteString("requirement", check.Requirement);
            writer.WriteString("outcome", OutcomeName(check.Outcome));
            writer.WriteString("evidence", check.Evidence);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The JSON name of an outcome: <c>passed</c>, <c>failed</c>, <c>warning</c>, <c>not-applicable</c>.</summary>
    public static string OutcomeName(CheckOutcome outcome) => outcome switch
    {
        CheckOutcome.Passed => "passed",
        CheckOutcome.Failed => "failed",
        CheckOutcome.Warning => "warning",
        _ => "not-applicable",
    };

    private int Count(CheckOutcome outcome) => Checks.Count(c => c.Outcome == outcome);

    private static string Label(CheckOutcome outcome) => outcome switch
    {
        CheckOutcome.Passed => "pass",
        CheckOutcome.Failed => "FAIL",
        CheckOutcome.Warning => "warn",
        _ => "n/a ",
    };
}
