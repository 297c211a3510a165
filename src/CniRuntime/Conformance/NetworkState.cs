using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CniRuntime.Conformance;

/// <summary>One network interface as <c>ip -j -d addr</c> reports it.</summary>
/// <param name="Name">The interface name.</param>
/// <param name="Kind">The link kind (<c>veth</c>, <c>bridge</c>, <c>macvlan</c>, …); null for physical and loopback devices.</param>
/// <param name="Mac">The hardware address, if any.</param>
/// <param name="Mtu">The MTU.</param>
/// <param name="Flags">The flags (<c>UP</c>, <c>LOWER_UP</c>, <c>PROMISC</c>, …).</param>
/// <param name="Master">The device it is enslaved to (a bridge, a VRF), if any.</param>
/// <param name="Addresses">Its addresses as <c>address/prefix</c>, IPv4 first as the kernel lists them.</param>
public sealed record NetworkLink(string Name, string? Kind, string? Mac, int Mtu, IReadOnlyList<string> Flags, string? Master, IReadOnlyList<string> Addresses)
{
    /// <summary>True when the link is administratively up.</summary>
    public bool IsUp => Flags.Contains("UP");
}

/// <summary>
/// What one network namespace holds: links with their addresses, routes of every table, and policy rules. Read with
/// iproute2 (<see cref="ReadAsync"/>), compared with <see cref="LeftoversSince"/> to prove that a plugin's DEL left
/// nothing behind.
/// </summary>
/// <param name="Links">The links.</param>
/// <param name="Routes">The IPv4 and IPv6 routes of every table, as text (<c>default via 10.0.0.1 dev eth0 table 100</c>).</param>
/// <param name="Rules">The IPv4 and IPv6 policy rules, as text (<c>32765: from 10.0.0.2 lookup 100</c>).</param>
public sealed record NetworkState(IReadOnlyList<NetworkLink> Links, IReadOnlyList<string> Routes, IReadOnlyList<string> Rules)
{
    /// <summary>The link called <paramref name="name"/>, or null.</summary>
    public NetworkLink? FindLink(string name) => Links.FirstOrDefault(l => l.Name == name);

    /// <summary>Reads the namespace named <paramref name="namespaceName"/> (under <c>/run/netns</c>; null: the caller's own).</summary>
    /// <exception cref="InvalidOperationException">iproute2 is missing or failed (the namespace does not exist).</exception>
    public static async Task<NetworkState> ReadAsync(string? namespaceName, CancellationToken cancellationToken = default)
    {
        var links = await IpRoute2.RunJsonAsync(namespaceName, ["-d", "addr", "show"], cancellationToken).ConfigureAwait(false);
        var routes4 = await IpRoute2.RunJsonAsync(namespaceName, ["-4", "route", "show", "table", "all"], cancellationToken).ConfigureAwait(false);
        var routes6 = await IpRoute2.RunJsonAsync(namespaceName, ["-6", "route", "show", "table", "all"], cancellationToken).ConfigureAwait(false);
        var rules4 = await IpRoute2.RunJsonAsync(namespaceName, ["-4", "rule", "show"], cancellationToken).ConfigureAwait(false);
        var rules6 = await IpRoute2.RunJsonAsync(namespaceName, ["-6", "rule", "show"], cancellationToken).ConfigureAwait(false);
        return FromIpJson(links, routes4.EnumerateArray().Concat(routes6.EnumerateArray()), rules4.EnumerateArray().Concat(rules6.EnumerateArray()));
    }

    /// <summary>The state from what <c>ip -j -d addr show</c>, <c>ip -j route show table all</c> and <c>ip -j rule show</c> print.</summary>
    internal static NetworkState FromIpJson(JsonElement addresses, IEnumerable<JsonElement> routes, IEnumerable<JsonElement> rules) => new(
        [.. addresses.EnumerateArray().Select(ParseLink)],
        [.. routes.Select(RouteText)],
        [.. rules.Select(RuleText)]);

    /// <summary>
    /// What this state holds that <paramref name="baseline"/> did not: links (by name and kind), addresses, routes
    /// and rules, one line each (<c>link veth1a2b (veth)</c>, <c>address 10.0.0.1/24 on br0</c>, <c>route …</c>).
    /// </summary>
    public IReadOnlyList<string> LeftoversSince(NetworkState baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        var before = baseline.Describe().ToHashSet(StringComparer.Ordinal);
        return [.. Describe().Where(item => !before.Contains(item))];
    }

    private IEnumerable<string> Describe()
    {
        foreach (var link in Links)
        {
            yield return link.Kind is null ? $"link {link.Name}" : $"link {link.Name} ({link.Kind})";
            foreach (var address in link.Addresses.Where(a => !a.StartsWith("fe80:", StringComparison.Ordinal)))
            {
                yield return $"address {address} on {link.Name}";
            }
        }

        // IPv6 link-local routes and addresses come and go with links by themselves; the link line covers them.
        foreach (var route in Routes.Where(r => !r.Contains("fe80::", StringComparison.Ordinal) && !r.StartsWith("multicast ff00::/8", StringComparison.Ordinal)))
        {
            yield return "route " + route;
        }

        foreach (var rule in Rules)
        {
            yield return "rule " + rule;
        }
    }

    private static NetworkLink ParseLink(JsonElement link)
    {
        var addresses = link.TryGetProperty("addr_info", out var info)
            ? info.EnumerateArray()
                .Where(a => a.TryGetProperty("local", out _))
                .Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}"))
                .ToList()
            : [];
        var kind = link.TryGetProperty("linkinfo", out var linkInfo) && linkInfo.TryGetProperty("info_kind", out var k) ? k.GetString() : null;
        return new NetworkLink(
            link.GetProperty("ifname").GetString() ?? string.Empty,
            kind,
            Text(link, "address"),
            link.TryGetProperty("mtu", out var mtu) ? mtu.GetInt32() : 0,
            link.TryGetProperty("flags", out var flags) ? [.. flags.EnumerateArray().Select(f => f.GetString() ?? string.Empty)] : [],
            Text(link, "master"),
            addresses);
    }

    // "[type ]dst[ via gw][ dev d][ table t]": what identifies a route, without metrics and protocols.
    private static string RouteText(JsonElement route)
    {
        var text = new StringBuilder();
        if (Text(route, "type") is { } type and not "unicast")
        {
            text.Append(type).Append(' ');
        }

        text.Append(Text(route, "dst") ?? "default");
        Append(text, " via ", Text(route, "gateway"));
        Append(text, " dev ", Text(route, "dev"));
        Append(text, " table ", Text(route, "table"));
        return text.ToString();
    }

    private static string RuleText(JsonElement rule)
    {
        var text = new StringBuilder();
        text.Append(rule.TryGetProperty("priority", out var priority) ? priority.GetInt64().ToString(CultureInfo.InvariantCulture) : "?").Append(": from ");
        text.Append(Text(rule, "src") ?? "all");
        Append(text, "/", rule.TryGetProperty("srclen", out var srclen) ? srclen.GetInt32().ToString(CultureInfo.InvariantCulture) : null);
        Append(text, " to ", Text(rule, "dst"));
        Append(text, " iif ", Text(rule, "iif"));
        Append(text, " oif ", Text(rule, "oif"));
        Append(text, " lookup ", Text(rule, "table"));
        return text.ToString();
    }

    private static void Append(StringBuilder text, string separator, string? value)
    {
        if (value is not null)
        {
            text.Append(separator).Append(value);
        }
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        }
        : null;
}
