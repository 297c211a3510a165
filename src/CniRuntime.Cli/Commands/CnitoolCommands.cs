using System.CommandLine;
using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

/// <summary><c>add|check|del|status|gc &lt;network&gt; &lt;netns&gt;</c>, with cnitool's arguments, environment and output.</summary>
internal static class CnitoolCommands
{
    /// <summary>The commands, in cnitool's order.</summary>
    public static readonly string[] Verbs = ["add", "check", "del", "status", "gc"];

    public static IEnumerable<Command> Create() => Verbs.Select(Create);

    private static Command Create(string verb)
    {
        var network = new Argument<string>("network") { Description = "The network's name in the configuration directory" };
        var netns = new Argument<string>("netns") { Description = "Path of the network namespace (its absolute path derives the container ID)" };
        var ifName = new Option<string?>("--ifname", "-i") { Description = "Interface name in the namespace (default: $CNI_IFNAME, else eth0)", HelpName = "NAME" };
        var command = new Command(verb, Describe(verb)) { network, netns, ifName };
        command.SetAction((parse, cancellationToken) => RunAsync(
            new CnitoolArguments(verb, parse.GetRequiredValue(network), parse.GetRequiredValue(netns), parse.GetValue(ifName), GlobalSettings.From(parse)),
            cancellationToken));
        return command;
    }

    private static string Describe(string verb) => verb switch
    {
        "add" => "cnitool add: attach the namespace to the network; prints the result (indented JSON, in the result's version)",
        "check" => "cnitool check: check the attachment; prints nothing on success",
        "del" => "cnitool del: detach the namespace from the network; prints nothing on success",
        "status" => "cnitool status: ask the network's plugins whether they are ready; prints nothing on success",
        _ => "cnitool gc: DEL every cached attachment of the network, then GC (netns is required but unused, as in cnitool)",
    };

    public static async Task<int> RunAsync(CnitoolArguments arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);

        // cnitool's environment; a global flag, when given, wins over its variable.
        var ifName = arguments.IfName ?? (Get("CNI_IFNAME") is { Length: > 0 } fromEnvironment ? fromEnvironment : "eth0");
        var configDirectory = GlobalOptions.ConfigDirectory(arguments.Globals);
        var client = new CniClient(GlobalOptions.ClientOptions(arguments.Globals, pluginFallback: null));
        var list = await NetworkConfigLoader.LoadNetworkAsync(configDirectory, arguments.Network, cancellationToken);

        var absoluteNetns = Path.GetFullPath(arguments.Netns);
        var runtime = new RuntimeConfig
        {
            ContainerId = ContainerIdFor(absoluteNetns),
            NetworkNamespace = absoluteNetns,
            InterfaceName = ifName,
            Args = CniArgs.Parse(Get("CNI_ARGS")),
            CapabilityArgs = ParseCapabilityArgs(Get("CAP_ARGS")),
        };

        switch (arguments.Verb)
        {
            case "add":
                var result = await client.AddNetworkListAsync(list, runtime, cancellationToken);
                using (var stdout = Console.OpenStandardOutput())
                {
                    stdout.Write(CniResultJson.ToUtf8Bytes(result, indented: true));
                    stdout.Write("\n"u8);
                }

                break;
            case "check":
                await client.CheckNetworkListAsync(list, runtime, cancellationToken);
                break;
            case "del":
                await client.DeleteNetworkListAsync(list, runtime, cancellationToken);
                break;
            case "status":
                await client.GetStatusNetworkListAsync(list, cancellationToken);
                break;
            case "gc":
                // As cnitool: no valid attachments given, so every cached attachment of the network is deleted.
                await client.GcNetworkListAsync(list, null, cancellationToken);
                break;
        }

        return 0;
    }

    /// <summary>cnitool's container ID: <c>cnitool-</c> and the hex of the first 10 bytes of SHA-512 of the absolute netns path.</summary>
    public static string ContainerIdFor(string absoluteNetnsPath) =>
        "cnitool-" + Convert.ToHexStringLower(Hashing.Sha512.HashData(Encoding.UTF8.GetBytes(absoluteNetnsPath)).AsSpan(0, 10));

    /// <summary>CAP_ARGS: a JSON object of capability arguments; a key given twice keeps its last value, as in Go.</summary>
    /// <exception cref="CniException">Not JSON, or not an object.</exception>
    internal static Dictionary<string, JsonElement> ParseCapabilityArgs(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return new Dictionary<string, JsonElement>();
        }

        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
            root = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"CAP_ARGS is not valid JSON: {ex.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CniException(CniErrorCode.InvalidEnvironmentVariables, "CAP_ARGS must be a JSON object of capability arguments");
        }

        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            result[property.Name] = property.Value;
        }

        return result;
    }

    private static string? Get(string name) => Environment.GetEnvironmentVariable(name);
}
