using System.ComponentModel;
using System.Globalization;

namespace CniRuntime.Ports;

/// <summary>
/// Deletes UDP and SCTP conntrack entries of published ports with the <c>conntrack</c> tool, so that flows set up
/// before a mapping changed do not keep going to the old destination. Every filter has a protocol and a port
/// (checked before running): an empty filter would delete the whole host's table. Failures are ignored (exit 1 means
/// nothing matched); this is hygiene, not correctness.
/// </summary>
internal static class Conntrack
{
    /// <summary>The argument lists to run after a publication: entries to the host port (and host address).</summary>
    public static List<string[]> AfterPublish(IEnumerable<PublishedPort> ports)
    {
        var result = new List<string[]>();
        foreach (var p in ports.Where(p => p.Protocol != "tcp"))
        {
            var args = new List<string> { "-D", "-f", p.IsIPv6 ? "ipv6" : "ipv4", "-p", p.Protocol, "--orig-port-dst", Port(p.HostPort) };
            if (p.HostAddress is not null)
            {
                args.AddRange(["--orig-dst", p.HostAddress.ToString()]);
            }

            result.Add(Checked(args));
        }

        return result;
    }

    /// <summary>The argument lists to run after an unpublication: entries to the host port, and replies from the container port.</summary>
    public static List<string[]> AfterUnpublish(IEnumerable<PublishedPort> ports)
    {
        var result = new List<string[]>();
        foreach (var p in ports.Where(p => p.Protocol != "tcp"))
        {
            result.AddRange(AfterPublish([p]));
            result.Add(Checked(["-D", "-f", p.IsIPv6 ? "ipv6" : "ipv4", "-p", p.Protocol, "--reply-src", p.ContainerAddress.ToString(), "--reply-port-src", Port(p.ContainerPort)]));
        }

        return result;
    }

    /// <summary>Refuses a filter without a protocol and a port predicate.</summary>
    public static string[] Checked(List<string> args)
    {
        var hasProtocol = args.IndexOf("-p") is var i && i >= 0 && i + 1 < args.Count && args[i + 1] is "udp" or "sctp";
        var hasPort = args.Any(a => a is "--orig-port-dst" or "--reply-port-src");
        if (args.Count == 0 || args[0] != "-D" || !hasProtocol || !hasPort)
        {
            throw new InvalidOperationException("refusing a conntrack deletion without a protocol and port filter: " + string.Join(' ', args));
        }

        return [.. args];
    }

    public static async Task RunAsync(string? conntrack, IEnumerable<string[]> commands, TimeSpan timeout)
    {
        if (conntrack is null || !File.Exists(conntrack))
        {
            return;
        }

        foreach (var args in commands)
        {
            try
            {
                await CommandRunner.RunAsync(conntrack, args, null, timeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is Win32Exception or TimeoutException or IOException)
            {
                // Hygiene only: a failure leaves stale flows until they time out.
            }
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
