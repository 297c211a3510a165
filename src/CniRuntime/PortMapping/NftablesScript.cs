using System.Globalization;
using System.Text;

namespace CniRuntime.Ports;

/// <summary>
/// Builds the <c>nft -f -</c> scripts of <see cref="NftablesBackend"/>. Layout, per family (<c>ip</c> and <c>ip6</c>
/// tables named <c>cnirt</c>):
/// <code>
/// map hp_ip   { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }  # specific host IP
/// map hp_any  { type inet_proto . inet_service : ipv4_addr . inet_service }              # any host IP
/// set hairpin { type ipv4_addr . ipv4_addr; flags interval }                            # ctr subnet . ctr IP
/// set layout_N[_localhost] { type inet_service }                                       # which layout this is
/// chain hostports { dnat to (daddr . proto . dport) map @hp_ip; dnat to (proto . dport) map @hp_any }
/// chain hp_pre   (nat prerouting -100) fib daddr type local goto hostports
/// chain hp_out   (nat output -100)     daddr != loopback, fib daddr type local goto hostports
/// chain hp_post  (nat postrouting 100) ct status dnat saddr . daddr @hairpin masquerade
/// chain hp_fwd   (filter forward 0)      ct status dnat accept
/// chain hp_guard (filter prerouting -300) iifname != "lo" daddr 127.0.0.0/8 drop   (IPv4)
/// </code>
/// The structure is written only by <see cref="Rebuild"/>, which replaces both tables whole (one atomic batch, so
/// there is no moment without rules). A change is element additions and deletions alone: additions cost the kernel
/// no RCU grace period, so publishing is one short batch, and no batch grows with the number of mappings. A change
/// first adds an element to the layout set, which exists only in tables built by this layout: a table that is gone
/// (<c>nft flush ruleset</c>, a firewall reload) or was built by another layout fails the batch, and the backend
/// rebuilds from the state instead.
/// </summary>
internal sealed class NftablesScript(string table, bool allowLocalhost)
{
    /// <summary>Raised whenever the structure below changes, so that tables of an older layout are rebuilt.</summary>
    private const int LayoutVersion = 1;

    private readonly StringBuilder _text = new();

    private string LayoutSet => allowLocalhost ? $"layout_{LayoutVersion}_localhost" : $"layout_{LayoutVersion}";

    public override string ToString() => _text.ToString();

    /// <summary>The structure of both families (for a table that does not exist yet, or for <c>nft -c</c>).</summary>
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
            Line($"add set {f} {table} {LayoutSet} {{ type inet_service ; }}");
            Line($"add element {f} {table} {LayoutSet} {{ {LayoutVersion} }}");
            Line($"add chain {f} {table} hostports");
            Line($"add chain {f} {table} hp_pre {{ type nat hook prerouting priority -100 ; policy accept ; }}");
            Line($"add chain {f} {table} hp_out {{ type nat hook output priority -100 ; policy accept ; }}");
            Line($"add chain {f} {table} hp_post {{ type nat hook postrouting priority 100 ; policy accept ; }}");
            Line($"add chain {f} {table} hp_fwd {{ type filter hook forward priority 0 ; policy accept ; }}");
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
                Line($"add chain {f} {table} hp_guard {{ type filter hook prerouting priority -300 ; policy accept ; }}");
                Line($"add rule {f} {table} hp_guard iifname != \"lo\" ip daddr 127.0.0.0/8 drop");
            }
        }

        return this;
    }

    /// <summary>Deletes both tables (adding each first, so that a missing one does not fail the batch).</summary>
    public NftablesScript DeleteTables()
    {
        foreach (var f in new[] { "ip", "ip6" })
        {
            Line($"add table {f} {table}");
            Line($"delete table {f} {table}");
        }

        return this;
    }

    /// <summary>Both tables replaced by fresh ones of this layout, in the same batch (the data is added after).</summary>
    public NftablesScript Rebuild() => DeleteTables().Structure();

    /// <summary>Fails the batch unless the family's table was built by this layout (see the type's summary).</summary>
    public NftablesScript RequireLayout(bool v6)
    {
        Line($"add element {(v6 ? "ip6" : "ip")} {table} {LayoutSet} {{ {LayoutVersion} }}");
        return this;
    }

    /// <summary>Adds the elements of a publication.</summary>
    public NftablesScript Add(string sandboxId, IEnumerable<PublishedPort> ports, IEnumerable<Hairpin> hairpins)
    {
        Elements("add", sandboxId, ports, withValue: true);
        HairpinElements("add", hairpins);
        return this;
    }

    /// <summary>Deletes the elements of a publication (each must be there, or the batch fails).</summary>
    public NftablesScript Delete(IEnumerable<PublishedPort> ports, IEnumerable<Hairpin> hairpins)
    {
        Elements("delete", null, ports, withValue: false);
        HairpinElements("delete", hairpins);
        return this;
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
        }
    }

    private void HairpinElements(string verb, IEnumerable<Hairpin> hairpins)
    {
        foreach (var (subnet, container) in hairpins)
        {
            var f = subnet.IsIPv4 ? "ip" : "ip6";
            Line($"{verb} element {f} {table} hairpin {{ {subnet} . {container} }}");
        }
    }

    private void Line(string line) => _text.Append(line).Append('\n');
}
