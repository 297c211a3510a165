using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Json;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;

namespace CniRuntime.Cli.Commands;

/// <summary>
/// The configuration directory, plus cnirt's built-in default network: used when the directory has no valid
/// network, and reachable by its name (<see cref="Name"/>) unless a file defines a network of that name.
/// </summary>
/// <remarks>
/// The subnet is 10.209.0.0/16. It clashes with neither podman's default (10.88.0.0/16, and the 10.89.x.0/24
/// networks <c>podman network create</c> hands out first) nor Docker's (172.17.0.0/16, then 172.18-31.0.0/16 and
/// 192.168.0.0/16), nor the usual Kubernetes ranges (flannel 10.244.0.0/16, k3s 10.42.0.0/16 and 10.43.0.0/16,
/// service CIDR 10.96.0.0/12 = 10.96-10.111, Calico 192.168.0.0/16). host-local keeps its leases under the cache
/// directory, so <c>--cache-dir</c> relocates them with everything else.
/// </remarks>
internal sealed class DefaultNetworkConfigSource(string configDirectory, string cacheDirectory) : INetworkConfigSource
{
    public const string Name = "cnirt";
    public const string Bridge = "cnirt0";
    public const string Subnet = "10.209.0.0/16";

    private readonly DirectoryNetworkConfigSource _directory = new(configDirectory);

    public NetworkConfigList BuiltIn { get; } = NetworkConfigList.Parse(Json(cacheDirectory), "(built-in)");

    public static byte[] Json(string cacheDirectory)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonEscaping.WriterOptions(indented: true)))
        {
            w.WriteStartObject();
            w.WriteString("cniVersion", "1.0.0");
            w.WriteString("name", Name);
            w.WriteStartArray("plugins");
            w.WriteStartObject();
            w.WriteString("type", "bridge");
            w.WriteString("bridge", Bridge);
            w.WriteBoolean("isGateway", true);
            w.WriteBoolean("ipMasq", true);
            w.WriteBoolean("hairpinMode", true);
            w.WriteStartObject("ipam");
            w.WriteString("type", "host-local");
            w.WriteString("dataDir", Path.Combine(cacheDirectory, "networks"));
            w.WriteStartArray("ranges");
            w.WriteStartArray();
            w.WriteStartObject();
            w.WriteString("subnet", Subnet);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndArray();
            w.WriteStartArray("routes");
            w.WriteStartObject();
            w.WriteString("dst", "0.0.0.0/0");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("type", "portmap");
            w.WriteStartObject("capabilities");
            w.WriteBoolean("portMappings", true);
            w.WriteEndObject();
            w.WriteBoolean("snat", true);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public async Task<NetworkConfigList> GetNetworkAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _directory.GetNetworkAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (CniConfigNotFoundException) when (name == Name)
        {
            return BuiltIn;
        }
    }

    public async Task<NetworkConfigList?> GetDefaultNetworkAsync(CancellationToken cancellationToken = default) =>
        await _directory.GetDefaultNetworkAsync(cancellationToken).ConfigureAwait(false) ?? BuiltIn;

    public async Task<IReadOnlyList<NetworkConfigList>> GetNetworksAsync(CancellationToken cancellationToken = default)
    {
        var networks = await _directory.GetNetworksAsync(cancellationToken).ConfigureAwait(false);
        return networks.Any(n => n.Name == Name) ? networks : [.. networks, BuiltIn];
    }

    internal static string Text(string cacheDirectory) => Encoding.UTF8.GetString(Json(cacheDirectory));
}
