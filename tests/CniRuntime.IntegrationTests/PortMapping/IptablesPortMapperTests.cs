using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Ports;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Ports;

/// <summary>The port mapping suite on the iptables backend (whichever variant iptables-restore is here).</summary>
[Collection(NetfilterTests.Name)]
public sealed class IptablesPortMapperTests : PortMapperSuite
{
    private string Prefix => Table.ToUpperInvariant() + "-";

    protected override PortMappingBackend Backend => PortMappingBackend.Iptables;

    protected override async Task<OursCount> CountOursAsync()
    {
        int data = 0, structure = 0, perSandbox = 0;
        foreach (var save in new[] { "iptables-save", "ip6tables-save" })
        {
            foreach (var line in (await RunAsync(save)).Split('\n'))
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (line.StartsWith(':' + Prefix + "DN-", StringComparison.Ordinal))
                {
                    perSandbox++;
                }
                else if (line.StartsWith(':' + Prefix, StringComparison.Ordinal))
                {
                    structure++;
                }
                else if (words is ["-A", var chain, ..])
                {
                    var target = words.SkipWhile(w => w != "-j").Skip(1).FirstOrDefault() ?? "";
                    if (chain.StartsWith(Prefix + "DN-", StringComparison.Ordinal) || chain == Prefix + "HAIRPIN")
                    {
                        data++;
                    }
                    else if (chain == Prefix + "HOSTPORTS")
                    {
                        perSandbox++;
                    }
                    else if (chain.StartsWith(Prefix, StringComparison.Ordinal) || target.StartsWith(Prefix, StringComparison.Ordinal))
                    {
                        structure++;
                    }
                }
            }
        }

        return new OursCount(data, structure, perSandbox);
    }

    protected override async Task LoseKernelStateAsync()
    {
        // What a firewall reload that knows nothing of us does: every chain of every table flushed and deleted.
        foreach (var tool in new[] { "iptables", "ip6tables" })
        {
            foreach (var table in new[] { "raw", "filter", "nat" })
            {
                await RunAsync(tool, "-w", "-t", table, "-F");
                await RunAsync(tool, "-w", "-t", table, "-X");
            }
        }
    }

    protected override Task RemoveGuardAsync() => RunAsync("iptables", "-w", "-t", "raw", "-F", Prefix + "GUARD");

    [IntegrationFact]
    public async Task Automatic_falls_back_to_iptables_when_nft_is_missing()
    {
        var mapper = new PortMapper(new PortMapperOptions { StateDirectory = StateDirectory, TableName = Table, NftPath = "/nonexistent/nft" });

        Assert.Equal(PortMappingBackend.Iptables, await mapper.ProbeAsync());
    }

    [IntegrationFact]
    public async Task Switching_backends_moves_live_publications_and_leaves_nothing_in_the_old_one()
    {
        var (_, id, addresses) = await World.AddSandboxAsync(80, 53);
        var nft = new PortMapper(new PortMapperOptions { StateDirectory = StateDirectory, TableName = Table, Backend = PortMappingBackend.Nftables });
        await nft.PublishAsync(id, [new PortMapping(8585, 80)], addresses, default);
        Assert.StartsWith("tcp:hi:", await PortMappingWorld.AskAsync(World.ClientNs, World.HostIp, 8585, "tcp"), StringComparison.Ordinal);

        // The setting changes to iptables: reconcile moves the publication, and nft keeps nothing of ours.
        await Mapper.ReconcileAsync([id], default);

        Assert.StartsWith("tcp:hi:", await PortMappingWorld.AskAsync(World.ClientNs, World.HostIp, 8585, "tcp"), StringComparison.Ordinal);
        Assert.Equal(PortMappingBackend.Iptables, Assert.Single(await Mapper.ListAsync(default)).Backend);
        Assert.DoesNotContain(Table, await RunAsync("nft", "list", "tables"), StringComparison.Ordinal);
        Assert.Equal(4, (await CountOursAsync()).Data); // a forward and a hairpin per family

        // And back: a publication made by iptables is unpublished there even by a mapper set to nftables.
        Assert.True(await nft.UnpublishAsync(id, default));
        Assert.Equal(0, (await CountOursAsync()).Data);
    }
}
