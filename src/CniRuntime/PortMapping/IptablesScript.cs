using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CniRuntime.Ports;

/// <summary>
/// Builds the <c>iptables-restore --noflush</c> payloads of <see cref="IptablesBackend"/>, one per address family.
/// Layout (prefix <c>P</c> = the table name in upper case):
/// <code>
/// raw    PREROUTING  -j P-GUARD              P-GUARD:       ! -i lo -d 127.0.0.0/8 -j DROP (IPv4)
/// filter FORWARD     -j P-FORWARD            P-FORWARD:     -m conntrack --ctstate DNAT -j ACCEPT
/// nat    PREROUTING  -m addrtype --dst-type LOCAL -j P-HOSTPORTS
/// nat    OUTPUT      ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j P-HOSTPORTS
/// nat    POSTROUTING -j P-POSTROUTING        P-POSTROUTING: -m conntrack --ctstate DNAT -j P-HAIRPIN
/// P-HOSTPORTS  one jump per sandbox (its ID as comment) to P-DN-&lt;hash of the ID&gt;, which holds its DNAT rules
/// P-HAIRPIN    one MASQUERADE per container address: -s its subnet -d it
/// </code>
/// A change touches the nat table alone (each table in a payload is a commit of its own, and a commit that changes
/// anything costs an RCU grace period): its static chain is refilled (declaring a chain flushes it), the jumps from
/// the built-in chains are deleted and inserted again, so they stay single and first, and the sandbox's own chain and
/// rules change. A deletion of something that is not there fails the whole payload, which is how a kernel that lost
/// our rules is noticed; the backend then rebuilds every table from the state (a flush of the raw or filter table
/// alone waits for the next reconcile). The cost of a change does not grow with the number of mappings, though a
/// packet's first lookup passes a rule per mapping.
/// </summary>
internal sealed class IptablesScript(string tableName, bool allowLocalhost)
{
    private readonly string _prefix = tableName.ToUpperInvariant() + "-";

    public string HostPorts => _prefix + "HOSTPORTS";

    public string Hairpins => _prefix + "HAIRPIN";

    public string PostRouting => _prefix + "POSTROUTING";

    public string Forward => _prefix + "FORWARD";

    public string Guard => _prefix + "GUARD";

    /// <summary>Whether a chain name is ours.</summary>
    public bool IsOurs(string chain) => chain.StartsWith(_prefix, StringComparison.Ordinal);

    /// <summary>The chain of a sandbox's DNAT rules: the prefix, <c>DN-</c> and 12 hex digits of SHA-256 of its ID.</summary>
    public string SandboxChain(string sandboxId) =>
        _prefix + "DN-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sandboxId)).AsSpan(0, 6));

    /// <summary>The payload of one sandbox's change in one family, or null when the change does not touch it.</summary>
    public string? Change(bool v6, PortChange change)
    {
        var before = change.Previous?.Ports.Where(p => p.IsIPv6 == v6).ToList() ?? [];
        var after = change.Next?.Ports.Where(p => p.IsIPv6 == v6).ToList() ?? [];
        var added = change.HairpinsAdded.Where(h => h.IsIPv4 != v6).ToList();
        var removed = change.HairpinsRemoved.Where(h => h.IsIPv4 != v6).ToList();
        if (before.Count == 0 && after.Count == 0 && added.Count == 0 && removed.Count == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        var chain = SandboxChain(change.SandboxId);
        text.Append("*nat\n");
        Declare(text, PostRouting);
        if (before.Count > 0 || after.Count > 0)
        {
            Declare(text, chain);
        }

        foreach (var (table, spec) in Jumps(v6))
        {
            if (table == "nat")
            {
                text.Append("-D ").Append(spec).Append('\n');
            }
        }

        NatStatics(text, v6);
        if (before.Count > 0 && after.Count == 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"-D {Dispatch(change.SandboxId, chain)}\n-X {chain}\n");
        }

        foreach (var p in after)
        {
            text.Append("-A ").Append(Dnat(chain, p)).Append('\n');
        }

        if (after.Count > 0 && before.Count == 0)
        {
            text.Append("-A ").Append(Dispatch(change.SandboxId, chain)).Append('\n');
        }

        foreach (var h in removed)
        {
            text.Append("-D ").Append(HairpinRule(h)).Append('\n');
        }

        foreach (var h in added)
        {
            text.Append("-A ").Append(HairpinRule(h)).Append('\n');
        }

        InsertJumps(text, v6, "nat");
        text.Append("COMMIT\n");
        return text.ToString();
    }

    /// <summary>
    /// The payload that makes one family hold exactly <paramref name="publications"/>: every chain of ours that
    /// <paramref name="saved"/> shows is flushed (and deleted when not needed), every jump to ours deleted, then all
    /// is built again. With <paramref name="keep"/> false, everything of ours goes (null when nothing is there).
    /// </summary>
    public string? Sync(bool v6, IReadOnlyCollection<PortPublication> publications, SavedRules saved, bool keep = true)
    {
        if (!keep && saved.OurChains.Count == 0 && saved.JumpsToOurs.Count == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        var sandboxes = publications.Select(p => (p, Ports: p.Ports.Where(f => f.IsIPv6 == v6).ToList())).Where(x => x.Ports.Count > 0).ToList();
        var tables = v6 ? (string[])["filter", "nat"] : ["raw", "filter", "nat"];
        foreach (var table in tables.Union(saved.OurChains.Select(c => c.Table)).Union(saved.JumpsToOurs.Select(j => j.Table)))
        {
            var wanted = new List<string>();
            if (keep)
            {
                wanted.AddRange(table switch
                {
                    "raw" => v6 ? [] : [Guard],
                    "filter" => [Forward],
                    "nat" => [HostPorts, Hairpins, PostRouting, .. sandboxes.Select(s => SandboxChain(s.p.SandboxId))],
                    _ => [],
                });
            }

            var stale = saved.OurChains.Where(c => c.Table == table && !wanted.Contains(c.Chain)).Select(c => c.Chain).ToList();
            var jumps = saved.JumpsToOurs.Where(j => j.Table == table).ToList();
            if (wanted.Count == 0 && stale.Count == 0 && jumps.Count == 0)
            {
                continue;
            }

            text.Append('*').Append(table).Append('\n');
            foreach (var chain in wanted.Concat(stale))
            {
                Declare(text, chain);
            }

            foreach (var jump in jumps)
            {
                text.Append("-D ").Append(jump.Spec).Append('\n');
            }

            foreach (var chain in stale)
            {
                text.Append("-X ").Append(chain).Append('\n');
            }

            if (keep)
            {
                switch (table)
                {
                    case "raw":
                        text.Append(CultureInfo.InvariantCulture, $"-A {Guard} ! -i lo -d 127.0.0.0/8 -j DROP\n");
                        break;
                    case "filter":
                        text.Append(CultureInfo.InvariantCulture, $"-A {Forward} -m conntrack --ctstate DNAT -j ACCEPT\n");
                        break;
                    case "nat":
                        NatStatics(text, v6);
                        var hairpins = new HashSet<Hairpin>();
                        foreach (var (publication, ports) in sandboxes)
                        {
                            var chain = SandboxChain(publication.SandboxId);
                            foreach (var p in ports)
                            {
                                text.Append("-A ").Append(Dnat(chain, p)).Append('\n');
                            }

                            text.Append("-A ").Append(Dispatch(publication.SandboxId, chain)).Append('\n');
                            foreach (var h in Hairpin.Of(publication.ContainerAddresses, ports).Where(hairpins.Add))
                            {
                                text.Append("-A ").Append(HairpinRule(h)).Append('\n');
                            }
                        }

                        break;
                }

                InsertJumps(text, v6, table);
            }

            text.Append("COMMIT\n");
        }

        return text.ToString();
    }

    /// <summary>The payload that checks (with <c>--test</c>) every match and target the layout uses.</summary>
    public string Probe(bool v6)
    {
        var text = new StringBuilder();
        StaticTables(text, v6);
        var sample = new PublishedPort("tcp", v6 ? System.Net.IPAddress.Parse("fd00::1") : System.Net.IPAddress.Parse("10.0.0.1"), 1, v6 ? System.Net.IPAddress.Parse("fd00::2") : System.Net.IPAddress.Parse("10.0.0.2"), 1);
        var chain = SandboxChain("probe");
        text.Append("*nat\n");
        foreach (var c in new[] { HostPorts, Hairpins, PostRouting, chain })
        {
            Declare(text, c);
        }

        NatStatics(text, v6);
        foreach (var protocol in PortPlan.Protocols)
        {
            text.Append("-A ").Append(Dnat(chain, sample with { Protocol = protocol })).Append('\n');
            text.Append("-A ").Append(Dnat(chain, sample with { Protocol = protocol, HostAddress = null })).Append('\n');
        }

        text.Append("-A ").Append(Dispatch("probe", chain)).Append('\n');
        text.Append("-A ").Append(HairpinRule(new Hairpin(new Protocol.IpPrefix(sample.ContainerAddress, v6 ? 64 : 24), sample.ContainerAddress))).Append('\n');
        InsertJumps(text, v6, "nat");
        text.Append("COMMIT\n");
        return text.ToString();
    }

    /// <summary>The jumps from built-in chains to ours: (table, rule spec without -A/-D/-I).</summary>
    public IEnumerable<(string Table, string Spec)> Jumps(bool v6)
    {
        if (!v6)
        {
            yield return ("raw", $"PREROUTING -j {Guard}");
        }

        yield return ("filter", $"FORWARD -j {Forward}");
        yield return ("nat", v6
            ? $"PREROUTING ! -s fe80::/10 -m addrtype --dst-type LOCAL -j {HostPorts}"
            : $"PREROUTING -m addrtype --dst-type LOCAL -j {HostPorts}");
        yield return ("nat", v6
            ? $"OUTPUT ! -d ::1/128 -m addrtype --dst-type LOCAL -j {HostPorts}"
            : allowLocalhost
                ? $"OUTPUT -m addrtype --dst-type LOCAL -j {HostPorts}"
                : $"OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j {HostPorts}");
        yield return ("nat", $"POSTROUTING -j {PostRouting}");
    }

    /// <summary>The raw and filter tables of the probe: their static chains and the jumps to them.</summary>
    private void StaticTables(StringBuilder text, bool v6)
    {
        foreach (var (table, chain, rule) in v6
            ? (IEnumerable<(string, string, string)>)[("filter", Forward, "-m conntrack --ctstate DNAT -j ACCEPT")]
            : [("raw", Guard, "! -i lo -d 127.0.0.0/8 -j DROP"), ("filter", Forward, "-m conntrack --ctstate DNAT -j ACCEPT")])
        {
            text.Append('*').Append(table).Append('\n');
            Declare(text, chain);
            text.Append(CultureInfo.InvariantCulture, $"-A {chain} {rule}\n");
            InsertJumps(text, v6, table);
            text.Append("COMMIT\n");
        }
    }

    private void NatStatics(StringBuilder text, bool v6)
    {
        text.Append(CultureInfo.InvariantCulture, $"-A {PostRouting} -m conntrack --ctstate DNAT -j {Hairpins}\n");
        if (!v6 && allowLocalhost)
        {
            text.Append(CultureInfo.InvariantCulture, $"-A {PostRouting} -s 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE\n");
        }
    }

    private void InsertJumps(StringBuilder text, bool v6, string table)
    {
        foreach (var (t, spec) in Jumps(v6))
        {
            if (t == table)
            {
                var space = spec.IndexOf(' ', StringComparison.Ordinal);
                text.Append("-I ").Append(spec.AsSpan(0, space)).Append(" 1").Append(spec.AsSpan(space)).Append('\n');
            }
        }
    }

    private static void Declare(StringBuilder text, string chain) => text.Append(':').Append(chain).Append(" - [0:0]\n");

    private string Dispatch(string sandboxId, string chain) => $"{HostPorts} -m comment --comment \"{sandboxId}\" -j {chain}";

    private string HairpinRule(Hairpin h) =>
        string.Create(CultureInfo.InvariantCulture, $"{Hairpins} -s {h.Subnet} -d {h.Container}/{(h.IsIPv4 ? 32 : 128)} -j MASQUERADE");

    private static string Dnat(string chain, PublishedPort p)
    {
        var host = p.HostAddress is null ? "" : string.Create(CultureInfo.InvariantCulture, $"-d {p.HostAddress}/{(p.IsIPv6 ? 128 : 32)} ");
        var target = p.IsIPv6 ? $"[{p.ContainerAddress}]" : p.ContainerAddress.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"{chain} {host}-p {p.Protocol} -m {p.Protocol} --dport {p.HostPort} -j DNAT --to-destination {target}:{p.ContainerPort}");
    }
}

/// <summary>What <c>iptables-save</c> shows of ours: our chains, and the rules of other chains that jump to them.</summary>
/// <param name="OurChains">(table, chain) of every chain with our prefix.</param>
/// <param name="JumpsToOurs">(table, rule spec without <c>-A</c>) of every other chain's rule whose target is ours.</param>
internal sealed record SavedRules(IReadOnlyList<(string Table, string Chain)> OurChains, IReadOnlyList<(string Table, string Spec)> JumpsToOurs)
{
    public static SavedRules Parse(string save, Func<string, bool> isOurs)
    {
        var chains = new List<(string, string)>();
        var jumps = new List<(string, string)>();
        var table = "";
        foreach (var raw in save.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('*'))
            {
                table = line[1..].Trim();
            }
            else if (line.StartsWith(':'))
            {
                var name = line[1..].Split(' ', 2)[0];
                if (isOurs(name))
                {
                    chains.Add((table, name));
                }
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (isOurs(words[1]))
                {
                    continue;
                }

                for (var i = 2; i + 1 < words.Length; i++)
                {
                    if (words[i] is "-j" or "-g" && isOurs(words[i + 1]))
                    {
                        jumps.Add((table, line[3..]));
                        break;
                    }
                }
            }
        }

        return new SavedRules(chains, jumps);
    }
}
