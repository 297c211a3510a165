using System.Globalization;
using System.Text.Json;
using CniRuntime.Ports;

namespace CniRuntime.Conformance;

/// <summary>
/// iproute2's <c>ip</c>, which the conformance kit uses to make throwaway namespaces and veth pairs, to run plugins
/// in a node namespace (<c>ip netns exec</c>), and to read back what a namespace holds (<c>ip -j</c>).
/// </summary>
public static class IpRoute2
{
    private static readonly string[] Candidates = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
    private static readonly Lazy<string?> Located = new(() => Candidates.FirstOrDefault(File.Exists));

    /// <summary>The full path of <c>ip</c>, or null when iproute2 is not installed.</summary>
    public static string? Path => Located.Value;

    /// <summary>How long one <c>ip</c> command may take.</summary>
    public static TimeSpan CommandTimeout { get; } = TimeSpan.FromSeconds(30);

    /// <summary>The launcher that runs a program in the network namespace <paramref name="namespaceName"/> (under <c>/run/netns</c>).</summary>
    public static IReadOnlyList<string> NetnsExec(string namespaceName) => [RequirePath(), "netns", "exec", namespaceName];

    /// <summary>Runs <c>ip ARGS</c> in the namespace named <paramref name="namespaceName"/> (null: the caller's own) and returns stdout.</summary>
    /// <exception cref="InvalidOperationException">ip is missing, or the command failed (its stderr is in the message).</exception>
    public static async Task<string> RunAsync(string? namespaceName, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        string[] full = namespaceName is null ? [.. arguments] : ["-n", namespaceName, .. arguments];
        var outcome = await CommandRunner.RunAsync(RequirePath(), full, null, CommandTimeout, cancellationToken).ConfigureAwait(false);
        return outcome.ExitCode == 0
            ? outcome.Stdout
            : throw new InvalidOperationException(string.Create(
                CultureInfo.InvariantCulture,
                $"ip {string.Join(' ', full)} exited with {outcome.ExitCode}: {outcome.Stderr.Trim()}"));
    }

    /// <summary>Runs <c>ip -j ARGS</c> and returns the array it prints (empty when it prints nothing).</summary>
    public static async Task<JsonElement> RunJsonAsync(string? namespaceName, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        var output = await RunAsync(namespaceName, ["-j", .. arguments], cancellationToken).ConfigureAwait(false);

        // Some iproute2 versions print nothing instead of [] when there is nothing to list.
        if (string.IsNullOrWhiteSpace(output))
        {
            output = "[]";
        }

        using var document = JsonDocument.Parse(output);
        return document.RootElement.ValueKind == JsonValueKind.Array
            ? document.RootElement.Clone()
            : throw new InvalidOperationException($"ip -j {string.Join(' ', arguments)} printed no array: {output}");
    }

    private static string RequirePath() =>
        Path ?? throw new InvalidOperationException($"iproute2's ip was not found (looked for {string.Join(", ", Candidates)})");
}
