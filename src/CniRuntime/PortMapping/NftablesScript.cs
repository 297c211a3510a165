using System.Globalization;
using System.Net;
using System.Text;
using CniRuntime.Protocol;

namespace CniRuntime.Ports;

/// <summary>
/// Builds the <c>nft -f -</c> scripts of <see cref="NftablesPortMapper"/>. Layout, per family (<c>ip</c> and <c>ip6</c>
/// tables named <c>cnirt</c>):
/// <code>
/// map hp_ip   { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }  # specific host IP
/// map hp_any  { type inet_proto . inet_service : ipv4_addr . inet_service }              # any host IP
/// set hairpin { type ipv4_addr . ipv4_addr; flags interval }                            # ctr subnet . ctr IP
/// chain hostports { dnat to (daddr . proto . dport) map @hp_ip; dnat to (proto . dport) map @hp_any }
/// chain hp_pre   (nat prerouting -100) fib daddr type local goto hostports
/// chain hp_out   (nat output -100)     daddr != loopback, fib daddr type local goto hostports
/// chain hp_post  (nat postrouting 100) ct status dnat saddr . daddr @hairpin masquerade
/// chain hp_fwd   (filter forward 0)      ct status dnat accept
/// chain hp_guard (filter prerouting -300) iifname != "lo" daddr 127.0.0.0/8 drop   (IPv4)
/// </code>
/// Every script starts with the structure (tables, maps and sets are added idempotently; the chains are flushed and
/// their few rules re-added), so it works on an empty ruleset too and costs the same whatever the number of
/// elements. Elements are the data: one per forward, added or deleted by key.
/// </summary>
internal sealed class NftablesScript(string table, bool allowLocalhost)
{
    private readonly StringBuilder _text = new();

    public override string ToString() => _text.ToString();

    public bool HasElements { get; private set; }

    /// <summary>The structure of both families.</summary>
    public NftablesScript Structure()
    {
        foreach (var v6 in new[] { false, true })
        {
            var f = v6 ? "ip6" : "ip";
            var addr = v6 ? "ipv6_addr" : "ipv4_addr";
            Line($"add table {f} {table}");
            Line($"add map {f} {table} hp_ip {{ type {addr} . inet_proto . inet_service : {addr} . inet_service ; }}");
            Line($"add map {f} {table} hp_any {{ type inet_proto . inet_service : {addr} . inet_service ; }}");
            Line($"add set {f} {table} hairpin {{ type {addr} . {addr} ; flags interval ; }}");
            Line($"add chain {f} {table} hostports");
            Line($"add chain {f} {table} hp_pre {{ type nat hook prerouting priority -100 ; policy accept ; }}");
            Line($"add chain {f} {table} hp_out {{ type nat hook output priority -100 ; policy accept ; }}");
            Line($"add chain {f} {table} hp_post {{ type nat hook postrouting priority 100 ; policy accept ; }}");
            Line($"add chain {f} {table} hp_fwd {{ type filter hook forward priority 0 ; policy accept ; }}");
            if (!v6)
            {
                Line($"add chain {f} {table} hp_guard {{ type filter hook prerouting priority -300 ; policy accept ; }}");
            }

            foreach (var chain in v6 ? (string[])["hostports", "hp_pre", "hp_out", "hp_post", "hp_fwd"] : ["hostports", "hp_pre", "hp_out", "hp_post", "hp_fwd", "hp_guard"])
            {
                Line($"flush chain {f} {table} {chain}");
            }

            Line($"add rule {f} {table} hostports dnat {f} to {f} daddr . meta l4proto . th dport map @hp_ip");
            Line($"add rule {f} {table} hostports dnat {f} to meta l4proto . th dport map @hp_any");
            Line(v6
                ? $"add rule {f} {table} hp_pre ip6 saddr != fe80::/10 fib daddr type local goto hostports"
                : $"add rule {f} {table} hp_pre fib daddr type local goto hostports");
            Line(v6
                ? $"add rule {f} {table} hp_out ip6 daddr != ::1 fib daddr type local goto hostports"
                : allowLocalhost
                    ? $"add rule {f} {table} hp_out fib daddr type local goto hostports"
                    : $"add rule {f} {table} hp_out ip daddr != 127.0.0.0/8 fib daddr type local goto hostports");
            Line($"add rule {f} {table} hp_post ct status dnat {f} saddr . {f} daddr @hairpin masquerade");
            if (!v6 && allowLocalhost)
            {
                Line($"add rule {f} {table} hp_post ct status dnat ip saddr 127.0.0.0/8 masquerade");
            }

            Line($"add rule {f} {table} hp_fwd ct status dnat accept");
            if (!v6)
            {
                Line($"add rule {f} {table} hp_guard iifname != \"lo\" ip daddr 127.0.0.0/8 drop");
            }
        }

        return this;
    }

    /// <summary>Empties the maps and sets of both families (reconcile refills them in the same batch).</summary>
    public NftablesScript FlushData()
    {
        foreach (var f in new[] { "ip", "ip6" })
        {
            Line($"flush map {f} {table} hp_ip");
            Line($"flush map {f} {table} hp_any");
            Line($"flush set {f} {table} hairpin");
        }

        return this;
    }

    /// <summary>Adds the elements of a publication.</summary>
    public NftablesScript Add(string sandboxId, IReadOnlyCollection<PublishedPort> ports, IEnumerable<(IpPrefix Subnet, IPAddress Container)> hairpins)
    {
        Elements("add", sandboxId, ports, withValue: true);
        HairpinElements("add", hairpins);
        return this;
    }

    /// <summary>
    /// Deletes the elements of a publication. Each is first added with the same value, which is a no-op when it is
    /// there and makes the delete succeed when it is not (after <c>nft flush ruleset</c>): deletion is idempotent
    /// without <c>destroy</c> (nft 1.0.8) and without listing the maps.
    /// </summary>
    public NftablesScript Remove(IReadOnlyCollection<PublishedPort> ports, IReadOnlyCollection<(IpPrefix Subnet, IPAddress Container)> hairpins)
    {
        Elements("add", null, ports, withValue: true);
        Elements("delete", null, ports, withValue: false);
        HairpinElements("add", hairpins);
        HairpinElements("delete", hairpins);
        return this;
    }

    /// <summary>The hairpin elements of a publication: the container's subnet and address, per family used.</summary>
    public static List<(IpPrefix Subnet, IPAddress Container)> Hairpins(IReadOnlyList<IpPrefix> addresses, IReadOnlyCollection<PublishedPort> ports)
    {
        var result = new List<(IpPrefix, IPAddress)>();
        foreach (var target in ports.Select(p => p.ContainerAddress).Distinct())
        {
            var prefix = addresses.FirstOrDefault(a => target.Equals(a.Address));
            result.Add((prefix.Address is null ? new IpPrefix(target, target.GetAddressBytes().Length * 8) : Network(prefix), target));
        }

        return result;
    }

    /// <summary>The network of a prefix (host bits cleared).</summary>
    public static IpPrefix Network(IpPrefix prefix)
    {
        var bytes = prefix.Address.GetAddressBytes();
        for (var bit = prefix.PrefixLength; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IpPrefix(new IPAddress(bytes), prefix.PrefixLength);
    }

    private void Elements(string verb, string? sandboxId, IEnumerable<PublishedPort> ports, bool withValue)
    {
        foreach (var group in ports.GroupBy(p => (p.IsIPv6, Specific: p.HostAddress is not null)))
        {
            var f = group.Key.IsIPv6 ? "ip6" : "ip";
            var map = group.Key.Specific ? "hp_ip" : "hp_any";
            var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{verb} element {f} {table} {map} {{ ");
            var first = true;
            foreach (var p in group)
            {
                if (!first)
                {
                    line.Append(", ");
                }

                first = false;
                if (p.HostAddress is not null)
                {
                    line.Append(CultureInfo.InvariantCulture, $"{p.HostAddress} . ");
                }

                line.Append(CultureInfo.InvariantCulture, $"{p.Protocol} . {p.HostPort}");
                if (sandboxId is not null)
                {
                    line.Append(CultureInfo.InvariantCulture, $" comment \"{(sandboxId.Length > 120 ? sandboxId[..120] : sandboxId)}\"");
                }

                if (withValue)
                {
                    line.Append(CultureInfo.InvariantCulture, $" : {p.ContainerAddress} . {p.ContainerPort}");
                }
            }

            line.Append(" }");
            Line(line.ToString());
            HasElements = true;
        }
    }

    private void HairpinElements(string verb, IEnumerable<(IpPrefix Subnet, IPAddress Container)> hairpins)
    {
        foreach (var (subnet, container) in hairpins)
        {
            var f = subnet.IsIPv4 ? "ip" : "ip6";
            Line($"{verb} element {f} {table} hairpin {{ {subnet} . {container} }}");
            HasElements = true;
        }
    }

    private void Line(string line) => _text.Append(line).Append('\n');
}
