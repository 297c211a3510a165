using System.Globalization;

namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>
/// What the integration tests need: root, the reference plugins, iproute2, and a throwaway network namespace
/// (tools/test.sh runs them under <c>unshare --net --mount</c>). When something is missing the tests are skipped,
/// except under CI (<c>CI=true</c>), where a missing prerequisite is a failure: a CI run that skipped everything
/// would prove nothing.
/// </summary>
public static class Prerequisites
{
    /// <summary>Where Debian's containernetworking-plugins installs the reference plugins.</summary>
    public const string PluginDirectory = "/usr/lib/cni";

    private static readonly Lazy<string?> Missing = new(Evaluate);
    private static readonly Lazy<string?> IpCommand = new(() => CniRuntime.Conformance.IpRoute2.Path);

    /// <summary>Why the integration tests cannot run here, or null when they can.</summary>
    public static string? MissingReason => Missing.Value;

    /// <summary>True when the CI environment variable is "true" (as GitHub Actions and most CI systems set it).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The reason to put in <c>Skip</c>: null under CI, where the test must run and fail instead.</summary>
    public static string? SkipReason => IsCi ? null : MissingReason;

    /// <summary>The full path of iproute2's <c>ip</c>.</summary>
    public static string Ip => IpCommand.Value ?? throw new InvalidOperationException(MissingReason);

    /// <summary>Fails the calling test (or fixture) with the reason when a prerequisite is missing.</summary>
    public static void Require()
    {
        if (MissingReason is { } reason)
        {
            Assert.Fail(reason);
        }
    }

    private static string? Evaluate()
    {
        var reasons = new List<string>();
        var uid = EffectiveUid();
        if (uid != 0)
        {
            reasons.Add(uid is null
                ? "integration tests must run as root (the effective uid could not be read from /proc/self/status)"
                : string.Create(CultureInfo.InvariantCulture, $"integration tests must run as root (effective uid is {uid})"));
        }

        if (!File.Exists(Path.Combine(PluginDirectory, "bridge")))
        {
            reasons.Add($"the reference CNI plugins are missing: {PluginDirectory}/bridge does not exist (tools/setup.sh installs containernetworking-plugins)");
        }

        if (IpCommand.Value is null)
        {
            reasons.Add("iproute2's ip command was not found in /usr/sbin, /sbin, /usr/bin or /bin");
        }

        if (HostNamespaceProblem() is { } problem)
        {
            reasons.Add(problem);
        }

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    private static int? EffectiveUid()
    {
        try
        {
            // "Uid:\treal\teffective\tsaved\tfs"
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            var fields = line?.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 3 } && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ? uid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    // The host's namespace is PID 1's. Where PID 1 holds capabilities this process lacks, the kernel refuses to
    // read its ns links even to root; kernel threads (kthreadd is PID 2 outside PID namespaces) live in the initial
    // namespace too, so theirs stands in.
    private static string? HostNamespaceProblem()
    {
        if (ReadNamespace("/proc/self/ns/net") is not { } self)
        {
            return "cannot tell whether this is the host's network namespace: /proc/self/ns/net cannot be read";
        }

        var reference = "/proc/1/ns/net";
        var host = ReadNamespace(reference);
        if (host is null && IsKthreadd("/proc/2/comm"))
        {
            reference = "/proc/2/ns/net";
            host = ReadNamespace(reference);
        }

        if (host is null)
        {
            return "cannot tell whether this is the host's network namespace: /proc/1/ns/net cannot be read";
        }

        return self == host
            ? $"integration tests must run in a throwaway network namespace (tools/test.sh), not the host's: /proc/self/ns/net is {self}, the same as {reference}"
            : null;
    }

    private static string? ReadNamespace(string link)
    {
        try
        {
            // The raw link text ("net:[4026531840]"); ResolveLinkTarget would turn it into a path under the link's directory.
            // LinkTarget is null when the kernel refuses to read the link.
            var target = new FileInfo(link).LinkTarget;
            return string.IsNullOrEmpty(target) ? null : target;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsKthreadd(string comm)
    {
        try
        {
            return File.ReadAllText(comm).Trim() == "kthreadd";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
