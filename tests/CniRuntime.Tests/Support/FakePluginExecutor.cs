using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Invocation;
using CniRuntime.Protocol;

namespace CniRuntime.Tests.Support;

/// <summary>One plugin call the fake saw.</summary>
public sealed record RecordedCall(string Type, string Command, JsonObject Stdin, IReadOnlyDictionary<string, string> Environment)
{
    public string StdinText => Stdin.ToJsonString();
}

/// <summary>
/// A plugin executor without processes: records every call and answers per plugin type. By default ADD passes
/// prevResult through (or answers an empty result of the configuration's version) and every other command succeeds
/// silently, like libcni's noop plugin.
/// </summary>
public sealed class FakePluginExecutor : IPluginExecutor
{
    public const string Directory = "/fake/bin";
    private readonly ConcurrentQueue<RecordedCall> _calls = new();
    private readonly ConcurrentDictionary<string, Func<RecordedCall, PluginProcessResult>> _handlers = new(StringComparer.Ordinal);

    public IReadOnlyList<RecordedCall> Calls => [.. _calls];

    public HashSet<string> MissingPlugins { get; } = new(StringComparer.Ordinal);

    /// <summary>Time each call takes, to test locking and cancellation.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>When set, only calls of this command take <see cref="Delay"/>.</summary>
    public string? DelayCommand { get; set; }

    private int _running;
    private int _maxRunning;

    /// <summary>The most calls that ran at the same time.</summary>
    public int MaxRunning { get => Volatile.Read(ref _maxRunning); set => Volatile.Write(ref _maxRunning, value); }

    public IEnumerable<string> Log => Calls.Select(c => $"{c.Command} {c.Type}");

    /// <summary>Forgets the calls recorded so far.</summary>
    public void Clear() => _calls.Clear();

    public void On(string type, Func<RecordedCall, PluginProcessResult> handler) => _handlers[type] = handler;

    public void OnCommand(string type, string command, Func<RecordedCall, PluginProcessResult> handler)
    {
        var previous = _handlers.TryGetValue(type, out var existing) ? existing : Default;
        _handlers[type] = call => call.Command == command ? handler(call) : previous(call);
    }

    public static PluginProcessResult Success(string stdout = "") => new(0, Encoding.UTF8.GetBytes(stdout), string.Empty);

    public static PluginProcessResult Error(uint code, string msg, string? details = null) =>
        new(1, Encoding.UTF8.GetBytes(new JsonObject { ["cniVersion"] = "1.0.0", ["code"] = code, ["msg"] = msg, ["details"] = details }.ToJsonString()), string.Empty);

    public string FindPlugin(string pluginType, IReadOnlyList<string> directories)
    {
        if (MissingPlugins.Contains(pluginType))
        {
            throw new CniPluginNotFoundException($"failed to find plugin \"{pluginType}\" in path [{string.Join(" ", directories)}]", pluginType, directories);
        }

        return Path.Combine(directories.Count > 0 ? directories[0] : Directory, pluginType);
    }

    public async Task<PluginProcessResult> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken)
    {
        var type = Path.GetFileName(invocation.PluginPath);
        var stdin = JsonNode.Parse(invocation.Stdin.Span)!.AsObject();
        var call = new RecordedCall(type, invocation.Environment["CNI_COMMAND"], stdin, invocation.Environment);
        _calls.Enqueue(call);
        var running = Interlocked.Increment(ref _running);
        InterlockedMax(ref _maxRunning, running);
        try
        {
            if (Delay > TimeSpan.Zero && (DelayCommand is null || DelayCommand == call.Command))
            {
                await Task.Delay(Delay, cancellationToken);
            }

            return (_handlers.TryGetValue(type, out var handler) ? handler : Default)(call);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public static PluginProcessResult Default(RecordedCall call)
    {
        if (call.Command != CniCommand.Add)
        {
            return Success();
        }

        var version = call.Stdin["cniVersion"]!.GetValue<string>();
        var result = call.Stdin["prevResult"]?.DeepClone().AsObject() ?? new JsonObject();
        result["cniVersion"] = version;
        return Success(result.ToJsonString());
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
