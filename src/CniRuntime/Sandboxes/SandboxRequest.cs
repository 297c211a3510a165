using CniRuntime.Protocol;

namespace CniRuntime.Sandboxes;

/// <summary>What a runtime asks for when it sets up a sandbox's networking.</summary>
public sealed record SandboxRequest
{
    /// <summary>The container ID; a new random one (64 hex characters) when null.</summary>
    public string? Id { get; init; }

    /// <summary>A human name, unique among sandboxes, for lookups; optional.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// The network namespace to use: a path, or a name under <c>/run/netns</c>; it must exist. When null CniRuntime
    /// creates one under <c>/run/netns</c> and deletes it at teardown.
    /// </summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The networks to attach, in order; when empty, the default network (the first valid one by file name).</summary>
    public IReadOnlyList<SandboxNetworkRequest> Networks { get; init; } = [];

    /// <summary>
    /// Labels for every network, passed to plugins as CNI_ARGS after <c>IgnoreUnknown=1</c> (the way CRI-O's ocicni
    /// passes <c>K8S_POD_NAMESPACE</c>, <c>K8S_POD_NAME</c>, …).
    /// </summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The Kubernetes pod the sandbox is for, if any. Its identity reaches plugins as CNI_ARGS the way CRI-O's ocicni
    /// passes it: <c>IgnoreUnknown=1;K8S_POD_NAMESPACE=…;K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=&lt;sandbox ID&gt;;K8S_POD_UID=…</c>,
    /// followed by <see cref="Labels"/> (a label with one of these keys replaces its value).
    /// </summary>
    public PodIdentity? Pod { get; init; }

    /// <summary>Capability arguments for every network; each plugin receives only those it declares.</summary>
    public CapabilityArgs Capabilities { get; init; } = new();

    /// <summary>When true, the namespace's loopback interface is brought up with the <c>loopback</c> plugin first.</summary>
    public bool AttachLoopback { get; init; }
}

/// <summary>One network a sandbox joins.</summary>
/// <param name="Name">The network name (the configuration list's <c>name</c>).</param>
public sealed record SandboxNetworkRequest(string Name)
{
    /// <summary>The interface name in the sandbox; eth0, eth1, … in request order when null.</summary>
    public string? InterfaceName { get; init; }

    /// <summary>Labels for this network only; they win over the sandbox's labels with the same key.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Capability arguments for this network only; a value set here replaces the sandbox's. Port mappings given
    /// here go only to this network's plugins that declare <c>portMappings</c>; when CniRuntime publishes the ports
    /// (<see cref="PortMappingMode"/>), setup refuses them.
    /// </summary>
    public CapabilityArgs? Capabilities { get; init; }
}

/// <summary>The Kubernetes pod a sandbox is for.</summary>
/// <param name="Namespace">The pod's namespace (<c>K8S_POD_NAMESPACE</c>).</param>
/// <param name="Name">The pod's name (<c>K8S_POD_NAME</c>).</param>
public sealed record PodIdentity(string Namespace, string Name)
{
    /// <summary>The pod's UID (<c>K8S_POD_UID</c>), when known.</summary>
    public string? Uid { get; init; }
}
