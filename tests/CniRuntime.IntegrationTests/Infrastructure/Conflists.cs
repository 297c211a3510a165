using System.Text;
using CniRuntime.Configuration;

namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>Configuration lists for the reference plugins, each confined to one test's bridge, subnet and IPAM data directory.</summary>
public static class Conflists
{
    /// <summary>bridge + host-local with a default route via the bridge (isGateway), no masquerading.</summary>
    public static NetworkConfigList Bridge(string network, string bridge, string ipamDataDir, string range, string cniVersion = "1.0.0") => Parse($$"""
        {
          "cniVersion": "{{cniVersion}}",
          "name": "{{network}}",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "{{bridge}}",
              "isGateway": true,
              "ipMasq": false,
              "ipam": {
                "type": "host-local",
                "dataDir": "{{ipamDataDir}}",
                "routes": [{ "dst": "0.0.0.0/0" }],
                "ranges": [[{{range}}]]
              }
            }
          ]
        }
        """);

    /// <summary>bridge + host-local over a whole /24.</summary>
    public static NetworkConfigList Bridge(string network, string bridge, string ipamDataDir, Subnet subnet, string cniVersion = "1.0.0") =>
        Bridge(network, bridge, ipamDataDir, $$"""{ "subnet": "{{subnet.Cidr}}" }""", cniVersion);

    /// <summary>ptp + host-local with a default route via the host end.</summary>
    public static NetworkConfigList Ptp(string network, string ipamDataDir, Subnet subnet) => Parse($$"""
        {
          "cniVersion": "1.0.0",
          "name": "{{network}}",
          "plugins": [
            {
              "type": "ptp",
              "ipMasq": false,
              "ipam": {
                "type": "host-local",
                "dataDir": "{{ipamDataDir}}",
                "routes": [{ "dst": "0.0.0.0/0" }],
                "ranges": [[{ "subnet": "{{subnet.Cidr}}" }]]
              }
            }
          ]
        }
        """);

    /// <summary>A list of the given plugin objects (JSON text each), in order.</summary>
    public static NetworkConfigList List(string network, string cniVersion, params string[] plugins) => Parse($$"""
        { "cniVersion": "{{cniVersion}}", "name": "{{network}}", "plugins": [{{string.Join(", ", plugins)}}] }
        """);

    /// <summary>A host-local IPAM object over a whole /24, with a default route.</summary>
    public static string HostLocal(string ipamDataDir, Subnet subnet) =>
        $$"""{ "type": "host-local", "dataDir": "{{ipamDataDir}}", "routes": [{ "dst": "0.0.0.0/0" }], "ranges": [[{ "subnet": "{{subnet.Cidr}}" }]] }""";

    /// <summary>ptp with host-local (the interface plugin the meta plugins chain after), then <paramref name="metaPlugins"/>.</summary>
    public static NetworkConfigList PtpChain(string network, string ipamDataDir, Subnet subnet, params string[] metaPlugins) =>
        List(network, "1.0.0", [$$"""{ "type": "ptp", "ipMasq": false, "ipam": {{HostLocal(ipamDataDir, subnet)}} }""", .. metaPlugins]);

    /// <summary>loopback alone.</summary>
    public static NetworkConfigList Loopback(string network) => Parse($$"""
        { "cniVersion": "1.0.0", "name": "{{network}}", "plugins": [{ "type": "loopback" }] }
        """);

    private static NetworkConfigList Parse(string json) => NetworkConfigList.Parse(Encoding.UTF8.GetBytes(json));
}
