using System.Collections.Concurrent;
using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Support;

/// <summary>Publications kept in memory; records the order of calls.</summary>
public sealed class FakePortMapper : IPortMapper
{
    private readonly ConcurrentDictionary<string, PortPublication> _published = new(StringComparer.Ordinal);

    public ConcurrentQueue<string> Calls { get; } = new();

    public CniException? FailPublish { get; set; }

    public Task<PortPublication> PublishAsync(string sandboxId, IReadOnlyList<PortMapping> mappings, IReadOnlyList<IpPrefix> containerAddresses, CancellationToken cancellationToken)
    {
        Calls.Enqueue($"publish {sandboxId} {string.Join(",", mappings.Select(m => $"{m.HostPort}:{m.ContainerPort}"))} -> {string.Join(",", containerAddresses)}");
        if (FailPublish is { } failure)
        {
            throw failure;
        }

        var ports = mappings.Select(m => new PublishedPort(m.Protocol, null, m.HostPort, containerAddresses[0].Address, m.ContainerPort)).ToList();
        var publication = new PortPublication(sandboxId, mappings, containerAddresses, ports, PortMappingBackend.Nftables);
        _published[sandboxId] = publication;
        return Task.FromResult(publication);
    }

    public Task<bool> UnpublishAsync(string sandboxId, CancellationToken cancellationToken)
    {
        Calls.Enqueue($"unpublish {sandboxId}");
        return Task.FromResult(_published.TryRemove(sandboxId, out _));
    }

    public Task<IReadOnlyList<PortPublication>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<PortPublication>>([.. _published.Values.OrderBy(p => p.SandboxId, StringComparer.Ordinal)]);

    public Task ReconcileAsync(IEnumerable<string> liveSandboxIds, CancellationToken cancellationToken)
    {
        var live = liveSandboxIds.ToHashSet(StringComparer.Ordinal);
        Calls.Enqueue($"reconcile {string.Join(",", live.Order(StringComparer.Ordinal))}");
        foreach (var id in _published.Keys.Where(id => !live.Contains(id)))
        {
            _published.TryRemove(id, out _);
        }

        return Task.CompletedTask;
    }
}
