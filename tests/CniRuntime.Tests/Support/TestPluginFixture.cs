using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;
using CniRuntime.Networks;

namespace CniRuntime.Tests.Support;

/// <summary>
/// A temp plugin directory holding the scriptable test plugin (tests/CniRuntime.TestPlugin) under any type names,
/// its script files and call log, and a temp cache directory; builds <see cref="CniClient"/>s pointed at them.
/// Disposing removes everything and kills any grandchild the plugin recorded.
/// </summary>
public sealed class TestPluginFixture : IDisposable
{
    /// <summary>A variable every test process has, so tests can prove plugins inherit the runtime's environment.</summary>
    public const string MarkerVariable = "TESTPLUGIN_MARKER";

    /// <summary>The value of <see cref="MarkerVariable"/>.</summary>
    public const string MarkerValue = "inherited-from-the-test-process";

    /// <summary>
    /// A <c>CNI_*</c> variable every test process has (none of the six the runtime sets, so no test depends on it),
    /// so tests can prove that a CNI value given in an invocation wins over an inherited one.
    /// </summary>
    public const string InheritedCniVariable = "CNI_TESTPLUGIN_INHERITED";

    /// <summary>The inherited value of <see cref="InheritedCniVariable"/>.</summary>
    public const string InheritedCniValue = "inherited-from-the-test-process";

    private readonly TempDirectory _root = new();

    static TestPluginFixture()
    {
        // Set once, always to the same value, so parallel tests cannot disturb each other.
        Environment.SetEnvironmentVariable(MarkerVariable, MarkerValue);
        Environment.SetEnvironmentVariable(InheritedCniVariable, InheritedCniValue);
    }

    public TestPluginFixture(params string[] pluginTypes)
    {
        PluginDirectory = Directory.CreateDirectory(_root.Combine("bin")).FullName;
        CacheDirectory = _root.Combine("cache");
        LogFile = _root.Combine("calls.log");
        foreach (var type in pluginTypes)
        {
            AddPlugin(type);
        }
    }

    /// <summary>The test plugin's apphost, built beside this test assembly in the same configuration.</summary>
    public static string PluginBinary { get; } = FindPluginBinary();

    /// <summary>The fixture's root directory.</summary>
    public string Root => _root.Path;

    /// <summary>The plugin directory (<c>CNI_PATH</c>).</summary>
    public string PluginDirectory { get; }

    /// <summary>The result cache directory.</summary>
    public string CacheDirectory { get; }

    /// <summary>The call log every plugin writes to (config <c>commandLog</c>, script <c>logFile</c>).</summary>
    public string LogFile { get; }

    /// <summary>Symlinks the test plugin into the plugin directory as <paramref name="type"/>; returns the link.</summary>
    public string AddPlugin(string type)
    {
        var path = Path.Combine(PluginDirectory, type);
        File.CreateSymbolicLink(path, PluginBinary);
        return path;
    }

    /// <summary>
    /// Installs the test plugin as <paramref name="type"/> behind a <c>/bin/sh</c> wrapper that points it at
    /// <paramref name="scriptPath"/> when <c>CNI_ARGS</c> is empty (VERSION carries neither <c>CNI_ARGS</c> nor a
    /// configuration, so this is the only way to script it). The wrapper <c>exec</c>s, so the pid stays the plugin's;
    /// the original <c>CNI_ARGS</c> is recorded as <c>CNI_ORIGINAL_ARGS</c>.
    /// </summary>
    public string AddScriptedPlugin(string type, string scriptPath)
    {
        var path = Path.Combine(PluginDirectory, type);
        var text = $"""
            #!/bin/sh
            CNI_ORIGINAL_ARGS="$CNI_ARGS"
            export CNI_ORIGINAL_ARGS
            if [ -z "$CNI_ARGS" ]; then CNI_ARGS='DEBUG={scriptPath}'; export CNI_ARGS; fi
            exec '{PluginBinary}' "$@"

            """;
        WriteExecutable(path, text);
        return path;
    }

    /// <summary>Writes a plugin script (JSON); <c>logFile</c> is set to <see cref="LogFile"/> unless given.</summary>
    public string WriteScript(string name, string json)
    {
        var script = JsonNode.Parse(json)!.AsObject();
        script["logFile"] ??= LogFile;
        var path = _root.Combine(name);
        File.WriteAllText(path, script.ToJsonString());
        return path;
    }

    /// <summary>A plugin configuration object: its type, the script (if any) as <c>debugFile</c>, and the call log.</summary>
    public JsonObject Plugin(string type, string? scriptPath = null, JsonObject? capabilities = null)
    {
        var plugin = new JsonObject { ["type"] = type };
        if (scriptPath is not null)
        {
            plugin["debugFile"] = scriptPath;
        }

        plugin["commandLog"] = LogFile;
        if (capabilities is not null)
        {
            plugin["capabilities"] = capabilities;
        }

        return plugin;
    }

    /// <summary>Builds a configuration list from plugin objects.</summary>
    public static NetworkConfigList List(string name, string cniVersion, params JsonObject[] plugins)
    {
        var list = new JsonObject
        {
            ["cniVersion"] = cniVersion,
            ["name"] = name,
            ["plugins"] = new JsonArray(plugins.Select(p => (JsonNode?)p).ToArray()),
        };
        return NetworkConfigList.Parse(Encoding.UTF8.GetBytes(list.ToJsonString()));
    }

    /// <summary>A client on the fixture's directories: a 10 s plugin timeout (a hang guard) and 10 ms retry pauses.</summary>
    public CniClient CreateClient(Func<CniClientOptions, CniClientOptions>? configure = null)
    {
        var options = new CniClientOptions
        {
            PluginDirectories = [PluginDirectory],
            CacheDirectory = CacheDirectory,
            PluginTimeout = TimeSpan.FromSeconds(10),
            TransientRetryDelay = TimeSpan.FromMilliseconds(10),
        };
        return new CniClient(configure is null ? options : configure(options));
    }

    /// <summary>The recorded calls, in order (empty when nothing ran).</summary>
    public IReadOnlyList<JsonObject> ReadLog() =>
        File.Exists(LogFile)
            ? File.ReadAllLines(LogFile).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList()
            : [];

    /// <summary>The calls as "COMMAND type" lines, e.g. <c>ADD noop</c>.</summary>
    public IReadOnlyList<string> ReadCalls() =>
        ReadLog().Select(c => $"{(string?)c["command"]} {(c["stdin"] as JsonObject)?["type"]?.GetValue<string>()}".TrimEnd()).ToList();

    /// <summary>Waits until the log holds at least <paramref name="count"/> calls.</summary>
    public async Task<IReadOnlyList<JsonObject>> WaitForCallsAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var log = ReadLog();
            if (log.Count >= count)
            {
                return log;
            }

            if (deadline.Elapsed > (timeout ?? TimeSpan.FromSeconds(10)))
            {
                throw new TimeoutException($"the call log holds {log.Count} calls, expected {count}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The pid of the grandchild the plugin spawned (<c>spawnGrandchild</c>), once recorded.</summary>
    public int? ReadGrandchildPid()
    {
        var path = LogFile + ".grandchild";
        return File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // "pid (comm) S ..." where comm may contain spaces and parentheses: the state follows the last ')'.
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> (default 2 s) for the process to be gone; returns whether it is.</summary>
    public static async Task<bool> WaitUntilDeadAsync(int pid, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        while (IsAlive(pid))
        {
            if (deadline.Elapsed > (timeout ?? TimeSpan.FromSeconds(2)))
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>Writes a file with mode 0755.</summary>
    public static void WriteExecutable(string path, string text)
    {
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    public void Dispose()
    {
        foreach (var file in Directory.EnumerateFiles(Root, "*.grandchild", SearchOption.AllDirectories))
        {
            KillStray(file);
        }

        _root.Dispose();
    }

    private static void KillStray(string pidFile)
    {
        try
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || !IsAlive(pid))
            {
                return;
            }

            // Only the sleep the plugin started: never a process that reused the pid.
            var commandLine = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            if (commandLine.Contains("sleep", StringComparison.Ordinal))
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
            }
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
        }
    }

    private static string FindPluginBinary()
    {
        // AppContext.BaseDirectory is tests/CniRuntime.Tests/bin/<Configuration>/<tfm>/.
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfm.Parent!;
        var tests = configuration.Parent!.Parent!.Parent!;
        var path = Path.Combine(tests.FullName, "CniRuntime.TestPlugin", "bin", configuration.Name, tfm.Name, "CniRuntime.TestPlugin");
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"the test plugin is not built at {path}; build tests/CniRuntime.Tests (it builds the plugin)");
    }
}
