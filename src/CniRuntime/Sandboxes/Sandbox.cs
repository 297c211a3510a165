using System.Net;
using CniRuntime.Protocol;

namespace CniRuntime.Sandboxes;

/// <summary>A sandbox's networking as set up: its namespace, the networks it joined and what they assigned.</summary>
public sealed record Sandbox
{
    /// <summary>The container ID.</summary>
    public required string Id { get; init; }

    /// <summary>The human name, if one was given.</summary>
    public string? Name { get; init; }

    /// <summary>The network namespace path.</summary>
    public required string NetworkNamespace { get; init; }

    /// <summary>True when CniRuntime created the namespace (and deletes it at teardown).</summary>
    public bool OwnsNetworkNamespace { get; init; }

    /// <summary>When the sandbox was set up.</summary>
    public DateTimeOffset Created { get; init; }

    /// <summary>The labels given at setup, with ocicni's <c>K8S_POD_*</c> keys when a pod was given.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>The attachments, in setup order (the loopback attachment first, if any).</summary>
    public IReadOnlyList<SandboxAttachment> Attachments { get; init; } = [];

    /// <summary>The interfaces inside the sandbox with their addresses, across all networks.</summary>
    public IReadOnlyList<SandboxInterface> Interfaces { get; init; } = [];

    /// <summary>The ports asked for at setup (published by CniRuntime or by a plugin, see <see cref="PortMappingMode"/>).</summary>
    public IReadOnlyList<PortMapping> PortMappings { get; init; } = [];

    /// <summary>The forwards CniRuntime installed in the kernel for them (empty when a plugin publishes).</summary>
    public IReadOnlyList<Ports.PublishedPort> PublishedPorts { get; init; } = [];

    /// <summary>Every address assigned, across all networks.</summary>
    public IEnumerable<SandboxAddress> Addresses => Interfaces.SelectMany(i => i.Addresses);
}

/// <summary>One network joined through one interface, with the plugins' final result.</summary>
/// <param name="NetworkName">The network.</param>
/// <param name="InterfaceName">The interface in the sandbox.</param>
/// <param name="Result">The final ADD result, as cached.</param>
public sealed record SandboxAttachment(string NetworkName, string InterfaceName, CniResult? Result)
{
    /// <summary>The routes the network installed in the sandbox.</summary>
    public IReadOnlyList<CniRoute> Routes => Result is null ? [] : Result.Routes;

    /// <summary>The DNS settings the network reported, if any.</summary>
    public CniDns? Dns => Result?.Dns;
}

/// <summary>An interface inside the sandbox.</summary>
/// <param name="Name">The interface name.</param>
/// <param name="NetworkName">The network it belongs to.</param>
/// <param name="Mac">Its MAC address, if reported.</param>
/// <param name="SandboxPath">The namespace path the plugin reported, if any.</param>
/// <param name="Addresses">Its addresses.</param>
public sealed record SandboxInterface(string Name, string NetworkName, string? Mac, string? SandboxPath, IReadOnlyList<SandboxAddress> Addresses);

/// <summary>An address in the sandbox.</summary>
/// <param name="Address">The address with its prefix length.</param>
/// <param name="Gateway">The gateway for it, if any.</param>
/// <param name="InterfaceName">The interface it is on.</param>
/// <param name="NetworkName">The network that assigned it.</param>
public sealed record SandboxAddress(IpPrefix Address, IPAddress? Gateway, string InterfaceName, string NetworkName);

/// <summary>Whether the runtime can set up sandboxes on a network.</summary>
/// <param name="NetworkName">The network.</param>
/// <param name="Problem">Why not, or null when ready.</param>
public sealed record NetworkReadiness(string NetworkName, string? Problem)
{
    /// <summary>True when the configuration loads, every plugin is found and supports it, and STATUS (1.1.0) passes.</summary>
    public bool IsReady => Problem is null;
}

/// <summary>Readiness of the networks asked about.</summary>
/// <param name="Networks">Each network's readiness.</param>
public sealed record SandboxReadiness(IReadOnlyList<NetworkReadiness> Networks)
{
    /// <summary>True when there is at least one network and every one is ready.</summary>
    public bool IsReady => Networks.Count > 0 && Networks.All(n => n.IsReady);
}
