using CniRuntime.Protocol;

namespace CniRuntime.Tests.Protocol;

/// <summary>The identifier rules with libcni's codes and messages (api_test validation cases).</summary>
public sealed class CniNamesTests
{
    [Theory]
    [InlineData("", CniErrorCode.UnknownContainer, "missing containerID", null)]
    [InlineData("some-%%container-id", CniErrorCode.InvalidEnvironmentVariables, "invalid characters in containerID", "some-%%container-id")]
    [InlineData("-leading", CniErrorCode.InvalidEnvironmentVariables, "invalid characters in containerID", "-leading")]
    [InlineData("a b", CniErrorCode.InvalidEnvironmentVariables, "invalid characters in containerID", "a b")]
    public void Container_id_errors(string id, CniErrorCode code, string message, string? details)
    {
        var error = Assert.Throws<CniException>(() => CniNames.ValidateContainerId(id));

        Assert.Equal((code, message, details), (error.Code, error.ErrorMessage, error.Details));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("cnitool-77f0e6f5bd2b9f4ae1b4")]
    [InlineData("a_b.c-d")]
    public void Valid_container_ids_pass(string id) => CniNames.ValidateContainerId(id);

    [Theory]
    [InlineData("", CniErrorCode.InvalidNetworkConfig, "missing network name:", null)]
    [InlineData("my net", CniErrorCode.InvalidNetworkConfig, "invalid characters found in network name", "my net")]
    [InlineData("a/b", CniErrorCode.InvalidNetworkConfig, "invalid characters found in network name", "a/b")]
    public void Network_name_errors(string name, CniErrorCode code, string message, string? details)
    {
        var error = Assert.Throws<CniException>(() => CniNames.ValidateNetworkName(name));

        Assert.Equal((code, message, details), (error.Code, error.ErrorMessage, error.Details));
    }

    [Theory]
    [InlineData("", "interface name is empty", null)]
    [InlineData("0123456789abcdef", "interface name is too long", "interface name should be less than 16 characters")]
    [InlineData("ééééééééé", "interface name is too long", "interface name should be less than 16 characters")]
    [InlineData(".", "interface name is . or ..", null)]
    [InlineData("..", "interface name is . or ..", null)]
    [InlineData("eth/0", "interface name contains / or : or whitespace characters", null)]
    [InlineData("eth:0", "interface name contains / or : or whitespace characters", null)]
    [InlineData("eth 0", "interface name contains / or : or whitespace characters", null)]
    [InlineData("eth\u00a00", "interface name contains / or : or whitespace characters", null)]
    public void Interface_name_errors(string name, string message, string? details)
    {
        var error = Assert.Throws<CniException>(() => CniNames.ValidateInterfaceName(name));

        Assert.Equal((CniErrorCode.InvalidEnvironmentVariables, message, details), (error.Code, error.ErrorMessage, error.Details));
    }

    [Theory]
    [InlineData("eth0")]
    [InlineData("0123456789abcde")]
    [InlineData("net1.100")]
    public void Valid_interface_names_pass(string name) => CniNames.ValidateInterfaceName(name);
}
