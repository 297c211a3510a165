using CniRuntime.IntegrationTests.Infrastructure;
using CniRuntime.Networks;
using CniRuntime.Protocol;
using static CniRuntime.IntegrationTests.Infrastructure.NetnsFixture;

namespace CniRuntime.IntegrationTests;

/// <summary>VERSION and validation against the v1.1.1 reference plugins, which support spec versions up to 1.0.0.</summary>
[Trait("Category", "Integration")]
public sealed class VersionTests : IAsyncLifetime
{
    private const string IncompatibleDetails = "config is \"1.1.0\", plugin supports [\"0.1.0\" \"0.2.0\" \"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\"]";

    private readonly NetnsFixture _sandbox = new();

    public Task InitializeAsync() => _sandbox.InitializeAsync();

    public Task DisposeAsync() => _sandbox.DisposeAsync();

    [IntegrationTheory]
    [InlineData("bridge")]
    [InlineData("host-local")]
    [InlineData("loopback")]
    [InlineData("ptp")]
    public async Task Each_reference_plugin_supports_every_version_up_to_1_0_0(string plugin)
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();

        var info = await client.GetVersionInfoAsync(plugin);

        Assert.Equal("1.0.0", info.CniVersion);
        Assert.Equal(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"], info.SupportedVersions);
        Assert.True(info.Supports("1.0.0"));
        Assert.False(info.Supports("1.1.0"));
    }

    [IntegrationFact]
    public async Task A_1_0_0_bridge_list_is_valid_and_enables_no_capabilities()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var list = Conflists.Bridge("cnirt-it-valid", "cnirt-unused", _sandbox.IpamDataDirectory, NewSubnet());

        var capabilities = await client.ValidateNetworkListAsync(list);

        Assert.Empty(capabilities);
    }

    [IntegrationFact]
    public async Task A_1_1_0_bridge_list_fails_validation_because_the_plugin_supports_at_most_1_0_0()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var list = Conflists.Bridge("cnirt-it-new", "cnirt-unused", _sandbox.IpamDataDirectory, NewSubnet(), cniVersion: "1.1.0");

        var error = await Assert.ThrowsAsync<CniAggregateException>(() => client.ValidateNetworkListAsync(list));

        var inner = Assert.IsType<CniException>(Assert.Single(error.Errors));
        Assert.Equal(CniErrorCode.IncompatibleCniVersion, inner.Code);
        Assert.Equal("plugin bridge does not support config version \"1.1.0\"", inner.ErrorMessage);
        Assert.Equal("it supports 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0", inner.Details);
        Assert.Equal(
            "network \"cnirt-it-new\" is not valid: plugin bridge does not support config version \"1.1.0\"; it supports 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0",
            error.Message);
    }

    [IntegrationFact]
    public async Task Add_of_a_1_1_0_list_fails_with_the_plugins_own_error_because_a_refused_version_leaves_nothing_to_roll_back()
    {
        Prerequisites.Require();
        var client = _sandbox.CreateClient();
        var bridge = _sandbox.NewBridgeName();
        var list = Conflists.Bridge("cnirt-it-new", bridge, _sandbox.IpamDataDirectory, NewSubnet(), cniVersion: "1.1.0");
        var netns = await _sandbox.AddNamespaceAsync();
        var runtime = new RuntimeConfig { ContainerId = NewContainerId(), NetworkNamespace = netns.Path };

        var error = await Assert.ThrowsAsync<CniPluginException>(() => client.AddNetworkListAsync(list, runtime));

        AssertIncompatible(error, "ADD");
        Assert.Equal($"plugin type=\"bridge\" name=\"cnirt-it-new\" failed (add): incompatible CNI versions; {IncompatibleDetails}", error.Message);
        Assert.Null(await FindLinkAsync(null, bridge));
        Assert.Null(await FindLinkAsync(netns, "eth0"));
        Assert.False(File.Exists(client.Cache.GetPath(list.Name, runtime.ContainerId, "eth0")));
    }

    private static void AssertIncompatible(Exception error, string command)
    {
        var plugin = Assert.IsType<CniPluginException>(error);
        Assert.Equal(
            (CniErrorCode.IncompatibleCniVersion, "incompatible CNI versions", IncompatibleDetails, "bridge", command, 1),
            (plugin.Code, plugin.ErrorMessage, plugin.Details, plugin.PluginType, plugin.Command, plugin.ExitCode));
    }
}
