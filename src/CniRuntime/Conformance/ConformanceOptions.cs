using System.Text.Json;
using CniRuntime.Configuration;

namespace CniRuntime.Conformance;

/// <summary>Where the plugins of a conformance run do their node-side work.</summary>
/// <param name="NamespaceName">The node's network namespace (under <c>/run/netns</c>); null: the caller's own.</param>
/// <param name="IsThrowaway">True when the run creates the namespace and deletes it (with all it holds) at the end.</param>
/// <param name="Links">For a throwaway node: veth pairs to create in it first, by the name of one end (a parent for macvlan, a device for host-device).</param>
public sealed record ConformanceNode(string? NamespaceName, bool IsThrowaway, IReadOnlyList<string> Links)
{
    /// <summary>The caller's own network namespace: plugins change the real node.</summary>
    public static ConformanceNode Current { get; } = new(null, false, []);

    /// <summary>A namespace the run creates and deletes, so the real node is never touched; with the given veth ends in it.</summary>
    public static ConformanceNode Throwaway(params string[] links) => new(null, true, links);

    /// <summary>An existing namespace the caller prepared (devices, daemons); the run leaves it in place.</summary>
    public static ConformanceNode Existing(string namespaceName) => new(namespaceName, false, []);
}

/// <summary>What a conformance run exercises, and how.</summary>
public sealed record ConformanceOptions
{
    /// <summary>The network (a one-plugin list for a single configuration) the lifecycle runs.</summary>
    public required NetworkConfigList Network { get; init; }

    /// <summary>
    /// The plugin under test: one of the list's types, or an IPAM type one of them delegates to. VERSION, the
    /// broken-configuration probes, GC and STATUS go to it alone; the lifecycle runs the whole list.
    /// </summary>
    public required string PluginType { get; init; }

    /// <summary>The plugin directories (<c>CNI_PATH</c>). The default is <c>/opt/cni/bin</c>.</summary>
    public IReadOnlyList<string> PluginDirectories { get; init; } = ["/opt/cni/bin"];

    /// <summary>Where plugins do their node-side work. The default is a throwaway namespace.</summary>
    public ConformanceNode Node { get; init; } = ConformanceNode.Throwaway();

    /// <summary>The interface name in the container (<c>CNI_IFNAME</c>). The default is <c>eth0</c>.</summary>
    public string InterfaceName { get; init; } = "eth0";

    /// <summary>Capability arguments for the plugins that declare them (<c>portMappings</c>, <c>bandwidth</c>, …).</summary>
    public IReadOnlyDictionary<string, JsonElement> CapabilityArgs { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>The longest one plugin call may take. The default is 30 seconds (a DHCP lease takes a few).</summary>
    public TimeSpan PluginTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long DEL's node-side cleanup may take to show (the kernel deletes a namespace's veths asynchronously). The default is 3 seconds.</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(3);
}
