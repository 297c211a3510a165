using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Networks;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Networks;

/// <summary>A client over the fake executor with a temp cache directory.</summary>
public sealed class CniClientFixture : IDisposable
{
    public CniClientFixture(Func<CniClientOptions, CniClientOptions>? configure = null)
    {
        var options = new CniClientOptions
        {
            PluginDirectories = [FakePluginExecutor.Directory],
            CacheDirectory = Dir.Combine("cache"),
            TransientRetryDelay = TimeSpan.FromMilliseconds(1),
        };
        Client = new CniClient(configure is null ? options : configure(options), Executor);
    }

    public TempDirectory Dir { get; } = new();

    public FakePluginExecutor Executor { get; } = new();

    public CniClient Client { get; }

    public static RuntimeConfig Runtime(string containerId = "some-container-id", string ifName = "eth0") => new()
    {
        ContainerId = containerId,
        NetworkNamespace = "/some/netns/path",
        InterfaceName = ifName,
        Args = [new("DEBUG", "value"), new("K8S_POD_NAME", "web")],
    };

    public static NetworkConfigList List(string json) => NetworkConfigList.Parse(Encoding.UTF8.GetBytes(json));

    public static IReadOnlyDictionary<string, JsonElement> Caps(string json) =>
        JsonDocument.Parse(json).RootElement.Clone().EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());

    public string CachePath(string network, string containerId = "some-container-id", string ifName = "eth0") =>
        Path.Combine(Dir.Combine("cache"), "results", $"{network}-{containerId}-{ifName}");

    public void Dispose() => Dir.Dispose();
}
