using System.Text;
using System.Text.Json;
using CliWrap;

// minimal-cni add|del CONFLIST NETNS CONTAINERID RESULTFILE, with CNI_PATH (one directory) and CAP_ARGS.
//
// The lower bound of any .NET command line that runs one process per CNI call and execs the plugins through
// CliWrap: it parses the list, builds each plugin's stdin (name, cniVersion, prevResult, runtimeConfig), execs the
// plugins in order on ADD and in reverse on DEL, and keeps ADD's result in a file for DEL. Nothing else: no
// validation, lock, intent, result conversion, timeout or telemetry. The benchmark runs it as it runs cnirt, so the
// difference between the two is what cnirt's own work costs and the difference from the floor what .NET costs.
if (args is not [("add" or "del") and var verb, var listPath, var netns, var containerId, var resultPath])
{
    await Console.Error.WriteLineAsync("usage: minimal-cni add|del CONFLIST NETNS CONTAINERID RESULTFILE");
    return 2;
}

var pluginDirectory = Environment.GetEnvironmentVariable("CNI_PATH") ?? "/opt/cni/bin";
using var list = JsonDocument.Parse(await File.ReadAllBytesAsync(listPath));
var name = list.RootElement.GetProperty("name").GetString()!;
var cniVersion = list.RootElement.GetProperty("cniVersion").GetString()!;
var plugins = list.RootElement.GetProperty("plugins").EnumerateArray().ToList();
using var capabilityArgs = Environment.GetEnvironmentVariable("CAP_ARGS") is { Length: > 0 } text ? JsonDocument.Parse(text) : null;
var add = verb == "add";
byte[]? previous = add ? null : File.Exists(resultPath) ? await File.ReadAllBytesAsync(resultPath) : null;
if (!add)
{
    plugins.Reverse();
}

foreach (var plugin in plugins)
{
    var type = plugin.GetProperty("type").GetString()!;
    var stdout = new MemoryStream();
    var stderr = new StringBuilder();
    var result = await Cli.Wrap(Path.Combine(pluginDirectory, type))
        .WithStandardInputPipe(PipeSource.FromBytes(Stdin(plugin, previous)))
        .WithStandardOutputPipe(PipeTarget.ToStream(stdout))
        .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
        .WithEnvironmentVariables(new Dictionary<string, string?>
        {
            ["CNI_COMMAND"] = add ? "ADD" : "DEL",
            ["CNI_CONTAINERID"] = containerId,
            ["CNI_NETNS"] = netns,
            ["CNI_IFNAME"] = "eth0",
            ["CNI_ARGS"] = string.Empty,
            ["CNI_PATH"] = pluginDirectory,
        })
        .WithValidation(CommandResultValidation.None)
        .ExecuteAsync();
    if (result.ExitCode != 0)
    {
        await Console.Error.WriteLineAsync($"{type} {verb} failed ({result.ExitCode}): {Encoding.UTF8.GetString(stdout.ToArray())} {stderr}");
        return 1;
    }

    if (add)
    {
        previous = stdout.ToArray();
    }
}

if (add)
{
    await File.WriteAllBytesAsync(resultPath, previous ?? "{}"u8.ToArray());
}
else
{
    File.Delete(resultPath);
}

return 0;

// The plugin's object with the list's name and version, the previous result and the capability arguments it asks for.
byte[] Stdin(JsonElement plugin, byte[]? prevResult)
{
    var buffer = new MemoryStream();
    using (var writer = new Utf8JsonWriter(buffer))
    {
        writer.WriteStartObject();
        foreach (var property in plugin.EnumerateObject())
        {
            if (property.Name is not ("name" or "cniVersion" or "prevResult" or "runtimeConfig"))
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteString("name", name);
        writer.WriteString("cniVersion", cniVersion);
        if (prevResult is not null)
        {
            writer.WritePropertyName("prevResult");
            writer.WriteRawValue(prevResult);
        }

        if (capabilityArgs is not null && plugin.TryGetProperty("capabilities", out var capabilities))
        {
            var started = false;
            foreach (var capability in capabilities.EnumerateObject())
            {
                if (capability.Value.ValueKind == JsonValueKind.True && capabilityArgs.RootElement.TryGetProperty(capability.Name, out var value))
                {
                    if (!started)
                    {
                        writer.WriteStartObject("runtimeConfig");
                        started = true;
                    }

                    writer.WritePropertyName(capability.Name);
                    value.WriteTo(writer);
                }
            }

            if (started)
            {
                writer.WriteEndObject();
            }
        }

        writer.WriteEndObject();
    }

    return buffer.ToArray();
}
