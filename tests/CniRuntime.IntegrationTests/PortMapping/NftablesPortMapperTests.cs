using System.Text.Json;
using CniRuntime.Ports;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests.Ports;

/// <summary>The port mapping suite on the nftables backend.</summary>
[Collection(NetfilterTests.Name)]
public sealed class NftablesPortMapperTests : PortMapperSuite
{
    protected override PortMappingBackend Backend => PortMappingBackend.Nftables;

    protected override async Task<OursCount> CountOursAsync()
    {
        using var document = JsonDocument.Parse(await RunAsync("nft", "-j", "list", "ruleset"));
        int elements = 0, rules = 0;
        foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            foreach (var kind in new[] { "map", "set" })
            {
                // The layout mark is structure: it is there whenever the tables are.
                if (item.TryGetProperty(kind, out var s) && s.GetProperty("table").GetString() == Table && s.TryGetProperty("elem", out var elem))
                {
                    if (s.GetProperty("name").GetString()!.StartsWith("layout_", StringComparison.Ordinal))
                    {
                        rules += elem.GetArrayLength();
                    }
                    else
                    {
                        elements += elem.GetArrayLength();
                    }
                }
            }

            if (item.TryGetProperty("rule", out var r) && r.GetProperty("table").GetString() == Table)
            {
                rules++;
            }

            if (item.TryGetProperty("table", out var t) && t.ValueKind == JsonValueKind.Object && t.GetProperty("name").GetString() == Table)
            {
                rules++;
            }
        }

        return new OursCount(elements, rules, 0);
    }

    protected override Task LoseKernelStateAsync() => RunAsync("nft", "flush", "ruleset");

    protected override Task RemoveGuardAsync() => RunAsync("nft", "flush", "chain", "ip", Table, "hp_guard");

    [Infrastructure.IntegrationFact]
    public async Task Automatic_chooses_nftables_when_it_works()
    {
        var mapper = new PortMapper(new PortMapperOptions { StateDirectory = StateDirectory, TableName = Table });

        Assert.Equal(PortMappingBackend.Nftables, await mapper.ProbeAsync());
    }
}
