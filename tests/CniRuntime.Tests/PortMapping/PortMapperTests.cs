using CniRuntime.Ports;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Ports;

public sealed class PortMapperTests : IDisposable
{
    private static readonly IpPrefix Address = IpPrefix.Parse("10.1.0.2/24");
    private readonly string _directory = Directory.CreateTempSubdirectory("cnirt-pm-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_missing_nft_binary_is_named_before_anything_is_written()
    {
        var mapper = new PortMapper(new PortMapperOptions { StateDirectory = _directory, Backend = PortMappingBackend.Nftables, NftPath = "/nonexistent/nft" });
        var ex = await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("sb1", [new PortMapping(8080, 80)], [Address], default));
        Assert.Contains("nft binary", ex.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/nft", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await mapper.ListAsync(default));
        Assert.False(File.Exists(Path.Combine(_directory, "sb1.json")));
    }

    [Fact]
    public async Task A_missing_iptables_restore_is_named()
    {
        var mapper = new PortMapper(new PortMapperOptions { StateDirectory = _directory, Backend = PortMappingBackend.Iptables, IptablesRestorePath = "/nonexistent/iptables-restore" });
        var ex = await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("sb1", [new PortMapping(8080, 80)], [Address], default));
        Assert.Equal(CniErrorCode.PluginNotAvailable, ex.Code);
        Assert.Contains("iptables-restore, not found at /nonexistent/iptables-restore", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "sb1.json")));
    }

    [Fact]
    public async Task Automatic_names_what_each_backend_misses_when_neither_works()
    {
        var mapper = new PortMapper(new PortMapperOptions
        {
            StateDirectory = _directory,
            NftPath = "/nonexistent/nft",
            IptablesRestorePath = "/nonexistent/iptables-restore",
        });
        var ex = await Assert.ThrowsAsync<CniException>(() => mapper.ProbeAsync());
        Assert.Contains("no port mapping backend works here", ex.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/nft", ex.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/iptables-restore", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_passed_probe_is_remembered_until_the_tool_changes()
    {
        var calls = Path.Combine(_directory, "calls");
        var nft = Path.Combine(_directory, "nft");
        await File.WriteAllTextAsync(nft, $"#!/bin/sh\necho \"$*\" >> {calls}\ncat > /dev/null\n");
        File.SetUnixFileMode(nft, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var options = new PortMapperOptions { StateDirectory = Path.Combine(_directory, "state"), Backend = PortMappingBackend.Nftables, NftPath = nft };

        Assert.Equal(PortMappingBackend.Nftables, await new PortMapper(options).ProbeAsync());
        Assert.Equal(PortMappingBackend.Nftables, await new PortMapper(options).ProbeAsync());
        Assert.Equal(["-c -f -"], await File.ReadAllLinesAsync(calls));

        File.SetLastWriteTimeUtc(nft, DateTime.UtcNow.AddMinutes(1)); // a new nft is probed again
        await new PortMapper(options).ProbeAsync();
        await new PortMapper(options with { AllowLocalhost = true }).ProbeAsync(); // so is another layout
        Assert.Equal(3, (await File.ReadAllLinesAsync(calls)).Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("CNIRT")]
    [InlineData("1cnirt")]
    [InlineData("cnirt-x")]
    [InlineData("cnirt_toolong")]
    public void Table_names_that_cannot_name_both_nft_tables_and_iptables_chains_are_refused(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => new PortMapper(new PortMapperOptions { StateDirectory = _directory, TableName = name }));
        Assert.Contains("table name", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_requests_are_refused_before_the_kernel_is_asked()
    {
        var mapper = new PortMapper(new PortMapperOptions { StateDirectory = _directory, NftPath = "/nonexistent/nft", IptablesRestorePath = "/nonexistent/iptables-restore" });
        await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("../x", [new PortMapping(8080, 80)], [Address], default));
        var ex = await Assert.ThrowsAsync<CniException>(() => mapper.PublishAsync("sb1", [new PortMapping(8080, 80, "gre")], [Address], default));
        Assert.Contains("tcp, udp or sctp", ex.Message, StringComparison.Ordinal);
        // Nothing published: teardown succeeds without any firewall tool.
        Assert.False(await mapper.UnpublishAsync("sb1", default));
    }
}
