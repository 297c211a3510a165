namespace CniRuntime.Protocol;

/// <summary>An interface a plugin created or configured (<c>interfaces[]</c> of a 0.3.0 and later result).</summary>
public sealed record CniInterface
{
    /// <summary>The interface name (<c>name</c>), e.g. <c>eth0</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The hardware address (<c>mac</c>), if the interface has one.</summary>
    public string? Mac { get; init; }

    /// <summary>The MTU (<c>mtu</c>, 1.0.0 and later).</summary>
    public int? Mtu { get; init; }

    /// <summary>The isolation domain the interface lives in (<c>sandbox</c>), e.g. a netns path; absent on the host.</summary>
    public string? Sandbox { get; init; }

    /// <summary>The socket path of a userspace interface such as vhost-user (<c>socketPath</c>, 1.0.0 and later).</summary>
    public string? SocketPath { get; init; }

    /// <summary>The PCI id of a device interface, e.g. an SR-IOV VF (<c>pciID</c>, 1.0.0 and later).</summary>
    public string? PciId { get; init; }
}
