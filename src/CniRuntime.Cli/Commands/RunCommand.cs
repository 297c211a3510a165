using System.CommandLine;
using CniRuntime.Protocol;
using CniRuntime.Sandboxes;

namespace CniRuntime.Cli.Commands;

/// <summary><c>cnirt run</c>: a sandbox (container ID, namespace, loopback, networks) that stays until <c>cnirt rm</c>.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var name = new Option<string?>("--name") { Description = "A name to find the sandbox by", HelpName = "NAME" };
        var networks = new Option<string[]>("--network") { Description = $"Attach this network (repeatable; default: the configuration directory's default network, else the built-in '{DefaultNetworkConfigSource.Name}' network, bridge {DefaultNetworkConfigSource.Bridge} on {DefaultNetworkConfigSource.Subnet})", HelpName = "NET" };
        var ports = new Option<string[]>("--publish", "-p") { Description = "Publish a port: [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp] (repeatable; published by a portmap plugin of the network if it has one, else by cnirt in nftables)", HelpName = "PORT" };
        var labels = new Option<string[]>("--label") { Description = "A label K=V (repeatable; recorded, and given to plugins as CNI_ARGS)", HelpName = "K=V" };
        var pod = new Option<string?>("--pod") { Description = "The Kubernetes pod, given to plugins as CNI_ARGS the way CRI-O does (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID)", HelpName = "NAMESPACE/NAME[/UID]" };
        var command = new Command("run", "Create a sandbox: a container ID, a namespace, loopback and the networks; prints its ID, namespace, IPs and ports")
        {
            name, networks, ports, labels, pod,
        };
        command.SetAction(async (parse, ct) =>
        {
            var mappings = parse.GetValue(ports)?.Select(GlobalOptions.ParsePort).ToList() ?? [];
            var request = new SandboxRequest
            {
                Name = parse.GetValue(name),
                Networks = [.. (parse.GetValue(networks) ?? []).Select(n => new SandboxNetworkRequest(n))],
                Labels = GlobalOptions.ParsePairs(parse.GetValue(labels) ?? [], "label"),
                Pod = parse.GetValue(pod) is { } podText ? ParsePod(podText) : null,
                Capabilities = new CapabilityArgs { PortMappings = mappings },
                AttachLoopback = true,
            };
            var sandbox = await GlobalOptions.Sandboxes(parse).SetupAsync(request, ct);
            if (parse.GetValue(GlobalOptions.Json))
            {
                SandboxOutput.WriteJson([sandbox], array: false);
            }
            else
            {
                SandboxOutput.PrintDetails(sandbox);
            }

            return Cli.Ok;
        });
        return command;
    }

    /// <summary>Parses <c>NAMESPACE/NAME[/UID]</c>.</summary>
    internal static PodIdentity ParsePod(string text)
    {
        var parts = text.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
        {
            throw new UsageException($"invalid pod \"{text}\": expected NAMESPACE/NAME or NAMESPACE/NAME/UID");
        }

        return new PodIdentity(parts[0], parts[1]) { Uid = parts.Length == 3 ? parts[2] : null };
    }
}
