using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Conformance;
using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.IntegrationTests.Matrix;

/// <summary>
/// One matrix test's world on the test kit: an isolated node namespace where the reference plugins run (so their
/// links, routes and firewall rules never meet another test's), container namespaces, and the lifecycle every
/// plugin of the matrix goes through.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes it through IAsyncLifetime.DisposeAsync")]
public sealed class MatrixNode : IAsyncLifetime
{
    public CniTestNode Node { get; } = new(new CniTestNodeOptions { PluginDirectories = [Prerequisites.PluginDirectory] });

    public CniClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Prerequisites.Require();
        await Node.InitializeAsync();
        Client = Node.CreateClient();
    }

    public Task DisposeAsync() => Node.DisposeAsync().AsTask();

    /// <summary>A runtime configuration for a new container in <paramref name="container"/>.</summary>
    public static RuntimeConfig Runtime(Netns container, IReadOnlyDictionary<string, JsonElement>? capabilityArgs = null) => new()
    {
        ContainerId = CniTestNode.NewContainerId(),
        NetworkNamespace = container.Path,
        InterfaceName = "eth0",
        CapabilityArgs = capabilityArgs ?? new Dictionary<string, JsonElement>(),
    };

    /// <summary>
    /// ADD (every plugin's result checked against its schema, then <paramref name="afterAdd"/> inspects the real
    /// state), CHECK (or <paramref name="check"/> instead), DEL, <paramref name="afterDelete"/>, nothing left in the
    /// container or on the node but what <paramref name="keptOnNode"/> accepts, no cache file, DEL again (or
    /// <paramref name="deleteAgain"/> instead, for a plugin that breaks that rule).
    /// </summary>
    public async Task<CniResult> RunLifecycleAsync(
        NetworkConfigList list,
        Netns container,
        Func<CniResult, Task> afterAdd,
        Func<Task>? afterDelete = null,
        Func<string, bool>? keptOnNode = null,
        Func<RuntimeConfig, Task>? check = null,
        IReadOnlyDictionary<string, JsonElement>? capabilityArgs = null,
        Func<RuntimeConfig, Task>? deleteAgain = null)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(afterAdd);
        var runtime = Runtime(container, capabilityArgs);
        var nodeBefore = await Node.ReadStateAsync();
        var containerBefore = await Node.ReadStateAsync(container);

        var result = await Client.AddNetworkListAsync(list, runtime);

        Assert.Equal(list.Plugins.Count, Node.AssertEveryResultMatchesSchema());
        await afterAdd(result);
        await (check is null ? Client.CheckNetworkListAsync(list, runtime) : check(runtime));

        await Client.DeleteNetworkListAsync(list, runtime);

        if (afterDelete is not null)
        {
            await afterDelete();
        }

        await Node.AssertNothingLeakedAsync(containerBefore, container);
        await Node.AssertNothingLeakedAsync(nodeBefore, expected: keptOnNode);
        Assert.False(File.Exists(Client.Cache.GetPath(list.Name, runtime.ContainerId, runtime.InterfaceName)));
        await (deleteAgain is null ? Client.DeleteNetworkListAsync(list, runtime) : deleteAgain(runtime));
        return result;
    }

    /// <summary>host-local's reservations for a network (the address files, without its lock and cursor).</summary>
    public List<string> Reservations(string network)
    {
        var directory = Path.Combine(Node.IpamDataDirectory, network);
        return Directory.Exists(directory)
            ? [.. Directory.EnumerateFiles(directory).Select(f => Path.GetFileName(f)).Where(f => f != "lock" && !f.StartsWith("last_reserved_ip", StringComparison.Ordinal)).Order(StringComparer.Ordinal)]
            : [];
    }

    /// <summary>The node's iptables rules and chains (<c>iptables-save</c> without comments and counters).</summary>
    public async Task<List<string>> IptablesAsync() =>
        [.. (await Node.ExecAsync(null, "iptables-save")).Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.StartsWith(':') ? l[..(l.LastIndexOf(' ') is var i and > 0 ? i : l.Length)] : l)];

    /// <summary>
    /// Null when the kernel makes the link <paramref name="linkAdd"/> describes (given the probe's name); otherwise iproute2's refusal (a kernel built
    /// without that link type says "Unknown device type").
    /// </summary>
    public async Task<string?> KernelRefusesLinkAsync(Func<string, string[]> linkAdd)
    {
        ArgumentNullException.ThrowIfNull(linkAdd);
        var probe = Node.NewLinkName("cnirt-pr");
        try
        {
            await Node.IpAsync(null, linkAdd(probe));
            await Node.IpAsync(null, ["link", "delete", probe]);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// For a plugin this kernel cannot run: ADD fails with the plugin's own report of the kernel's refusal, leaves
    /// nothing (no link, no address reservation, no cache file), and DEL of the failed ADD succeeds twice.
    /// </summary>
    public async Task AssertAddFailsCleanlyAsync(NetworkConfigList list, Netns container, string pluginType, string expectedMessage, string why)
    {
        ArgumentNullException.ThrowIfNull(list);
        var runtime = Runtime(container);
        var nodeBefore = await Node.ReadStateAsync();
        var containerBefore = await Node.ReadStateAsync(container);

        var error = await Assert.ThrowsAsync<CniPluginException>(() => Client.AddNetworkListAsync(list, runtime));

        Assert.True(error.PluginType == pluginType && error.ErrorMessage.Contains(expectedMessage, StringComparison.Ordinal), $"{why}; expected {pluginType} to fail with \"{expectedMessage}\", got: {error.Message}");
        await Node.AssertNothingLeakedAsync(containerBefore, container);
        await Node.AssertNothingLeakedAsync(nodeBefore);
        Assert.Empty(Reservations(list.Name));
        Assert.False(File.Exists(Client.Cache.GetPath(list.Name, runtime.ContainerId, runtime.InterfaceName)));
        await Client.DeleteNetworkListAsync(list, runtime);
        await Client.DeleteNetworkListAsync(list, runtime);
    }

    /// <summary>
    /// The second DEL of a plugin that breaks the specification's "plugins MUST accept multiple DEL calls": it fails
    /// with <paramref name="message"/> because its interface is already gone.
    /// </summary>
    public async Task AssertSecondDeleteFailsAsync(NetworkConfigList list, RuntimeConfig runtime, string pluginType, string message)
    {
        var error = await Assert.ThrowsAsync<CniPluginException>(() => Client.DeleteNetworkListAsync(list, runtime));
        Assert.Equal((pluginType, message), (error.PluginType, error.ErrorMessage));
    }

    /// <summary>
    /// Fails unless the iptables rules added since <paramref name="before"/> are only <paramref name="sharedChains"/>
    /// (chains every attachment of the plugin shares, which it keeps by design) and mention nothing of <paramref name="subnet"/>.
    /// </summary>
    public async Task AssertOnlySharedChainsRemainAsync(List<string> before, Subnet subnet, params string[] sharedChains)
    {
        var added = (await IptablesAsync()).Except(before).ToList();
        Assert.DoesNotContain(added, r => r.Contains("CNI-DN-", StringComparison.Ordinal) || r.Contains(subnet.Prefix + ".", StringComparison.Ordinal));
        // A fresh node has no tables at all: the first rule brings the table header and its built-in chains along.
        Assert.All(added, r => Assert.True(sharedChains.Any(c => r.Contains(c, StringComparison.Ordinal)) || r is "*nat" or "*filter" or "COMMIT" || (r.StartsWith(':') && r.EndsWith(" ACCEPT", StringComparison.Ordinal)), r));
    }

    /// <summary>The container's <c>eth0</c>, which must exist.</summary>
    public async Task<NetworkLink> ContainerLinkAsync(Netns container, string name = "eth0") =>
        (await Node.ReadStateAsync(container)).FindLink(name) ?? throw new CniTestAssertionException($"{container.Name} has no link {name}");
}
