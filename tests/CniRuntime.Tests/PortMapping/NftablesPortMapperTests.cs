using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Ports;

public sealed class NftablesPortMapperTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cnirt-pm-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_missing_nft_binary_is_named_before_anything_is_written()
    {
        var mapper = new NftablesPortMapper(new PortMapperOptions { StateDirectory = _directory, NftPath = "/nonexistent/nft" });
        var ex = await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("sb1", [new PortMapping(8080, 80)], [IpPrefix.Parse("10.1.0.2/24")], default));
        Assert.Contains("nft binary", ex.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/nft", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await mapper.ListAsync(default));
        Assert.False(File.Exists(Path.Combine(_directory, "sb1.json")));
    }

    [Fact]
    public async Task Invalid_requests_are_refused_before_the_kernel_is_asked()
    {
        var mapper = new NftablesPortMapper(new PortMapperOptions { StateDirectory = _directory, NftPath = "/nonexistent/nft" });
        await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("../x", [new PortMapping(8080, 80)], [IpPrefix.Parse("10.1.0.2/24")], default));
        var ex = await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("sb1", [new PortMapping(8080, 80, "gre")], [IpPrefix.Parse("10.1.0.2/24")], default));
        Assert.Contains("tcp, udp or sctp", ex.Message, StringComparison.Ordinal);
        // Nothing published: teardown succeeds without nft.
        Assert.False(await mapper.UnpublishAsync("sb1", default));
    }
}
