using System.Buffers;
using System.Text.Json;
using CniRuntime.Json;

namespace CniRuntime.Protocol;

/// <summary>A published port (the <c>portMappings</c> capability of CONVENTIONS.md).</summary>
/// <param name="HostPort">The port on the host (1-65535).</param>
/// <param name="ContainerPort">The port in the container (1-65535).</param>
/// <param name="Protocol"><c>tcp</c>, <c>udp</c> or <c>sctp</c>.</param>
/// <param name="HostIp">The host address to bind, or null for all.</param>
public sealed record PortMapping(int HostPort, int ContainerPort, string Protocol = "tcp", string? HostIp = null);

/// <summary>Traffic limits (the <c>bandwidth</c> capability), in bits per second and bits.</summary>
public sealed record BandwidthLimits
{
    /// <summary>Ingress rate in bits per second.</summary>
    public long? IngressRate { get; init; }

    /// <summary>Ingress burst in bits.</summary>
    public long? IngressBurst { get; init; }

    /// <summary>Egress rate in bits per second.</summary>
    public long? EgressRate { get; init; }

    /// <summary>Egress burst in bits.</summary>
    public long? EgressBurst { get; init; }
}

/// <summary>An address range for IPAM (an entry of the <c>ipRanges</c> capability).</summary>
/// <param name="Subnet">The subnet, e.g. <c>10.1.0.0/16</c>.</param>
/// <param name="RangeStart">The first address to hand out, if limited.</param>
/// <param name="RangeEnd">The last address to hand out, if limited.</param>
/// <param name="Gateway">The gateway, if not the default.</param>
public sealed record IpRange(string Subnet, string? RangeStart = null, string? RangeEnd = null, string? Gateway = null);

/// <summary>DNS settings for the container (the <c>dns</c> capability).</summary>
public sealed record DnsCapability
{
    /// <summary>Name servers.</summary>
    public IReadOnlyList<string> Servers { get; init; } = [];

    /// <summary>Search domains.</summary>
    public IReadOnlyList<string> Searches { get; init; } = [];

    /// <summary>Resolver options.</summary>
    public IReadOnlyList<string> Options { get; init; } = [];
}

/// <summary>
/// The capability arguments a runtime gives plugins (CONVENTIONS.md), typed. Each becomes a key of
/// <c>runtimeConfig</c>, spelled as the specification does, and reaches only plugins that declare it.
/// </summary>
public sealed record CapabilityArgs
{
    /// <summary>Ports to publish (<c>portMappings</c>).</summary>
    public IReadOnlyList<PortMapping> PortMappings { get; init; } = [];

    /// <summary>Traffic limits (<c>bandwidth</c>).</summary>
    public BandwidthLimits? Bandwidth { get; init; }

    /// <summary>Address ranges, as range sets (<c>ipRanges</c>): one inner list per address family or pool.</summary>
    public IReadOnlyList<IReadOnlyList<IpRange>> IpRanges { get; init; } = [];

    /// <summary>DNS settings (<c>dns</c>).</summary>
    public DnsCapability? Dns { get; init; }

    /// <summary>The MAC address to give the interface (<c>mac</c>).</summary>
    public string? Mac { get; init; }

    /// <summary>Static addresses to request (<c>ips</c>), with prefix length.</summary>
    public IReadOnlyList<string> Ips { get; init; } = [];

    /// <summary>Names the container is known by on the network (<c>aliases</c>).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The container's cgroup path (<c>cgroupPath</c>).</summary>
    public string? CgroupPath { get; init; }

    /// <summary>Untyped extra capabilities by name, for conventions this type does not cover (they win on a clash).</summary>
    public IReadOnlyDictionary<string, JsonElement> Other { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>This set, with each value of <paramref name="overrides"/> that is set replacing this one's.</summary>
    public CapabilityArgs MergedWith(CapabilityArgs? overrides) => overrides is null ? this : new CapabilityArgs
    {
        PortMappings = overrides.PortMappings.Count > 0 ? overrides.PortMappings : PortMappings,
        Bandwidth = overrides.Bandwidth ?? Bandwidth,
        IpRanges = overrides.IpRanges.Count > 0 ? overrides.IpRanges : IpRanges,
        Dns = overrides.Dns ?? Dns,
        Mac = overrides.Mac ?? Mac,
        Ips = overrides.Ips.Count > 0 ? overrides.Ips : Ips,
        Aliases = overrides.Aliases.Count > 0 ? overrides.Aliases : Aliases,
        CgroupPath = overrides.CgroupPath ?? CgroupPath,
        Other = Other.Concat(overrides.Other).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value),
    };

    /// <summary>The arguments by capability name, as JSON, for <c>runtimeConfig</c>; unset ones are left out.</summary>
    /// <exception cref="CniException">A port or protocol is out of range, or an address is malformed (code 7).</exception>
    public IReadOnlyDictionary<string, JsonElement> ToJson()
    {
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (PortMappings.Count > 0)
        {
            foreach (var mapping in PortMappings)
            {
                Validate(mapping);
            }

            result["portMappings"] = Write(w => PortMappingJson.WriteArray(w, PortMappings));
        }

        if (Bandwidth is { } bandwidth)
        {
            result["bandwidth"] = Write(w =>
            {
                w.WriteStartObject();
                WriteOptional(w, "ingressRate", bandwidth.IngressRate);
                WriteOptional(w, "ingressBurst", bandwidth.IngressBurst);
                WriteOptional(w, "egressRate", bandwidth.EgressRate);
                WriteOptional(w, "egressBurst", bandwidth.EgressBurst);
                w.WriteEndObject();
            });
        }

        if (IpRanges.Count > 0)
        {
            result["ipRanges"] = Write(w =>
            {
                w.WriteStartArray();
                foreach (var set in IpRanges)
                {
                    w.WriteStartArray();
                    foreach (var range in set)
                    {
                        w.WriteStartObject();
                        w.WriteString("subnet", range.Subnet);
                        WriteOptional(w, "rangeStart", range.RangeStart);
                        WriteOptional(w, "rangeEnd", range.RangeEnd);
                        WriteOptional(w, "gateway", range.Gateway);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteEndArray();
            });
        }

        if (Dns is { } dns)
        {
            result["dns"] = Write(w =>
            {
                w.WriteStartObject();
                WriteList(w, "servers", dns.Servers);
                WriteList(w, "searches", dns.Searches);
                WriteList(w, "options", dns.Options);
                w.WriteEndObject();
            });
        }

        if (Mac is not null)
        {
            result["mac"] = Write(w => w.WriteStringValue(Mac));
        }

        if (Ips.Count > 0)
        {
            result["ips"] = Write(w => WriteStrings(w, Ips));
        }

        if (Aliases.Count > 0)
        {
            result["aliases"] = Write(w => WriteStrings(w, Aliases));
        }

        if (CgroupPath is not null)
        {
            result["cgroupPath"] = Write(w => w.WriteStringValue(CgroupPath));
        }

        foreach (var (key, value) in Other)
        {
            result[key] = value;
        }

        return result;
    }

    private static void Validate(PortMapping mapping)
    {
        if (mapping.HostPort is < 1 or > 65535 || mapping.ContainerPort is < 1 or > 65535)
        {
            throw new CniException(CniErrorCode.InvalidNetworkConfig, $"invalid port mapping {mapping.HostPort}:{mapping.ContainerPort}: ports must be 1-65535");
        }

        if (mapping.Protocol is not ("tcp" or "udp" or "sctp"))
        {
            throw new CniException(CniErrorCode.InvalidNetworkConfig, $"invalid port mapping protocol \"{mapping.Protocol}\": expected tcp, udp or sctp");
        }

        if (!string.IsNullOrEmpty(mapping.HostIp) && !IpText.TryParseAddress(mapping.HostIp, out _))
        {
            throw new CniException(CniErrorCode.InvalidNetworkConfig, $"invalid port mapping host IP \"{mapping.HostIp}\"");
        }
    }

    private static JsonElement Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions()))
        {
            write(writer);
        }

        var reader = new Utf8JsonReader(buffer.WrittenSpan);
        return JsonElement.ParseValue(ref reader);
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, long? value)
    {
        if (value is { } number)
        {
            writer.WriteNumber(name, number);
        }
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteList(Utf8JsonWriter writer, string name, IReadOnlyList<string> values)
    {
        if (values.Count > 0)
        {
            writer.WritePropertyName(name);
            WriteStrings(writer, values);
        }
    }

    private static void WriteStrings(Utf8JsonWriter writer, IReadOnlyList<string> values)
    {
        writer.WriteStartArray();
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }
}
