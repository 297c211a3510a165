using System.Text.Json;

namespace CniRuntime.Networks;

/// <summary>
/// The per-attachment parameters of a CNI operation (libcni's <c>RuntimeConf</c>): which container, which
/// namespace, which interface, and the arguments for the plugins.
/// </summary>
public sealed record RuntimeConfig
{
    private static readonly IReadOnlyDictionary<string, JsonElement> NoCapabilityArgs = new Dictionary<string, JsonElement>();

    /// <summary>The container ID (<c>CNI_CONTAINERID</c>).</summary>
    public required string ContainerId { get; init; }

    /// <summary>The network namespace path (<c>CNI_NETNS</c>); may be null for DEL when the namespace is gone.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The interface name inside the container (<c>CNI_IFNAME</c>).</summary>
    public string InterfaceName { get; init; } = "eth0";

    /// <summary>Key-value arguments for the plugins (<c>CNI_ARGS</c>), in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Args { get; init; } = [];

    /// <summary>
    /// Capability arguments by capability name (<c>portMappings</c>, <c>bandwidth</c>, <c>ipRanges</c>, …); each
    /// plugin receives in <c>runtimeConfig</c> only those it declares in <c>capabilities</c>.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement> CapabilityArgs { get; init; } = NoCapabilityArgs;

    /// <summary>The runtime configuration an attachment was added with, as cached (for DEL, CHECK and GC from the cache).</summary>
    public static RuntimeConfig FromAttachment(Caching.NetworkAttachment attachment)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        return new RuntimeConfig
        {
            ContainerId = attachment.ContainerId,
            NetworkNamespace = attachment.NetworkNamespace,
            InterfaceName = attachment.InterfaceName,
            Args = attachment.CniArgs,
            CapabilityArgs = attachment.CapabilityArgs,
        };
    }
}

/// <summary>The arguments of a GC (libcni's <c>GCArgs</c>).</summary>
/// <param name="ValidAttachments">The attachments still in use; every other cached attachment of the network is deleted.</param>
public sealed record GcArgs(IReadOnlyList<GcAttachment>? ValidAttachments);

/// <summary>An attachment that GC must keep.</summary>
/// <param name="ContainerId">The container ID.</param>
/// <param name="InterfaceName">The interface name.</param>
public sealed record GcAttachment(string ContainerId, string InterfaceName);

/// <summary>The configuration and arguments an attachment was added with, as cached.</summary>
/// <param name="Config">The configuration list document ADD used.</param>
/// <param name="RuntimeConfig">The caller's runtime configuration with the cached arguments in place.</param>
public sealed record CachedNetworkConfig(ReadOnlyMemory<byte> Config, RuntimeConfig RuntimeConfig);
