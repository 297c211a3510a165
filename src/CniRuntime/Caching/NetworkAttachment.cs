using System.Text.Json;

namespace CniRuntime.Caching;

/// <summary>
/// What the runtime keeps of one ADD (libcni's cached attachment): who was attached to which network through which
/// interface, with the configuration, arguments and result ADD used, so DEL, CHECK and GC can run after the
/// configuration changed or the runtime restarted. It is written before the first plugin runs (marked
/// <see cref="Pending"/>) and again, with the result, when ADD succeeded.
/// </summary>
public sealed record NetworkAttachment
{
    /// <summary>The container ID.</summary>
    public required string ContainerId { get; init; }

    /// <summary>The network name.</summary>
    public required string NetworkName { get; init; }

    /// <summary>The interface name inside the container.</summary>
    public required string InterfaceName { get; init; }

    /// <summary>The network namespace path ADD used, if any.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The configuration list document ADD used (empty for a legacy cache file).</summary>
    public ReadOnlyMemory<byte> Config { get; init; }

    /// <summary>The CNI_ARGS pairs ADD used.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CniArgs { get; init; } = [];

    /// <summary>The capability arguments ADD was given.</summary>
    public IReadOnlyDictionary<string, JsonElement> CapabilityArgs { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>The final ADD result as written (any version), if one was cached.</summary>
    public JsonElement? Result { get; init; }

    /// <summary>True when read from a pre-0.8 libcni cache file that holds only the raw result.</summary>
    public bool IsLegacy { get; init; }

    /// <summary>
    /// The operation that recorded this attachment before its first plugin ran and has not finished (<c>ADD</c>),
    /// or null for a finished ADD. A pending attachment left behind by a runtime that was killed is undone by
    /// <see cref="Networks.CniClient.RecoverAsync"/>; DEL and GC treat it as any other attachment.
    /// </summary>
    public string? Pending { get; init; }

    /// <summary>The cached result parsed (a result without a version takes <paramref name="versionIfMissing"/>), or null when none was cached.</summary>
    /// <exception cref="Protocol.CniException">The cached result is not a valid result of a known version.</exception>
    public Protocol.CniResult? ParseResult(Protocol.CniVersion? versionIfMissing = null) =>
        Result is { } raw ? Protocol.CniResultJson.Parse(System.Text.Encoding.UTF8.GetBytes(raw.GetRawText()), versionIfMissing) : null;
}
