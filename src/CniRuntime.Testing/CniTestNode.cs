using System.Globalization;
using System.Text;
using CniRuntime.Configuration;
using CniRuntime.Conformance;
using CniRuntime.Invocation;
using CniRuntime.Networks;

namespace CniRuntime.Testing;

/// <summary>How a <see cref="CniTestNode"/> is set up.</summary>
public sealed record CniTestNodeOptions
{
    /// <summary>The plugin directories. The default is <c>$CNI_PATH</c>, else <c>/opt/cni/bin</c>.</summary>
    public IReadOnlyList<string> PluginDirectories { get; init; } =
        (Environment.GetEnvironmentVariable("CNI_PATH") is { Length: > 0 } path ? path : "/opt/cni/bin").Split(':', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// True (the default): the node is a network namespace of its own, where plugins run and which is deleted with
    /// everything in it, so the real host is never touched. False: the test process's own namespace is the node (for
    /// test runs that already sit in a throwaway namespace); links the node made are deleted one by one.
    /// </summary>
    public bool Isolated { get; init; } = true;

    /// <summary>The longest one plugin call may take. The default is 30 seconds.</summary>
    public TimeSpan PluginTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A throwaway CNI node for a test: a network namespace standing in for the host, where the plugins run (through
/// <c>ip netns exec</c>); container namespaces; veth pairs; unique names, subnets and temporary directories; a
/// <see cref="CniClient"/> whose every plugin call is recorded raw; reading back a namespace's links, addresses,
/// routes and rules; and assertions that every result matches its schema and that nothing leaked.
/// <see cref="DisposeAsync"/> removes all of it, whatever the test left behind.
/// </summary>
/// <remarks>
/// Needs root and iproute2. Framework-neutral: call <see cref="InitializeAsync"/> and <see cref="DisposeAsync"/>
/// from the test's set-up and tear-down (xunit's <c>IAsyncLifetime</c>); assertions throw
/// <see cref="CniTestAssertionException"/>. Names and subnets are unique in the process, so tests can run in parallel.
/// </remarks>
public sealed class CniTestNode : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);
    private static int _sequence = Random.Shared.Next(0, 8192);

    private readonly List<TestNamespace> _namespaces = [];
    private readonly List<string> _links = [];
    private readonly List<string> _directories = [];
    private readonly List<BackgroundProcess> _processes = [];
    private readonly Lock _gate = new();

    /// <summary>Creates a node; nothing exists until <see cref="InitializeAsync"/>.</summary>
    public CniTestNode(CniTestNodeOptions? options = null)
    {
        Options = options ?? new CniTestNodeOptions();
        Namespace = Options.Isolated ? new TestNamespace("cnirt-node-" + Guid.NewGuid().ToString("N")[..12]) : null;
        Executor = new RecordingPluginExecutor(new ProcessPluginExecutor(new ProcessPluginExecutorOptions
        {
            Launcher = Namespace is null ? [] : IpRoute2.NetnsExec(Namespace.Name),
        }));
    }

    /// <summary>The options in force.</summary>
    public CniTestNodeOptions Options { get; }

    /// <summary>The node's namespace; null when the node is the test process's own (<see cref="CniTestNodeOptions.Isolated"/> false).</summary>
    public TestNamespace? Namespace { get; }

    /// <summary>Runs the plugins (in the node) and records every call with its raw output.</summary>
    public RecordingPluginExecutor Executor { get; }

    /// <summary>The result cache directory of <see cref="CreateClient"/>.</summary>
    public string CacheDirectory { get; private set; } = string.Empty;

    /// <summary>A host-local <c>dataDir</c> of this node alone.</summary>
    public string IpamDataDirectory { get; private set; } = string.Empty;

    /// <summary>Why the kit cannot run here (not root, no iproute2), or null when it can.</summary>
    public static string? MissingPrerequisites()
    {
        var reasons = new List<string>();
        if (!IsRoot())
        {
            reasons.Add("CNI tests must run as root");
        }

        if (IpRoute2.Path is null)
        {
            reasons.Add("iproute2's ip command is not installed");
        }

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    /// <summary>Creates the node's namespace (with lo up) and its directories.</summary>
    /// <exception cref="InvalidOperationException">A prerequisite is missing, or iproute2 failed.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (MissingPrerequisites() is { } missing)
        {
            throw new InvalidOperationException(missing);
        }

        CacheDirectory = NewTempDirectory("cache");
        IpamDataDirectory = NewTempDirectory("ipam");
        if (Namespace is not null)
        {
            await AddNamespaceAsync(Namespace, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A client running the plugins in the node, caching in <see cref="CacheDirectory"/>, without retries.</summary>
    public CniClient CreateClient() => new(
        new CniClientOptions
        {
            PluginDirectories = Options.PluginDirectories,
            CacheDirectory = CacheDirectory,
            PluginTimeout = Options.PluginTimeout,
            TransientRetries = 0,
        },
        Executor);

    /// <summary>A number no other caller in this process gets.</summary>
    public static int NextUnique() => Interlocked.Increment(ref _sequence);

    /// <summary>A /24 in 10.128.0.0/9 no other test of the process uses.</summary>
    public static Subnet NewSubnet()
    {
        var n = NextUnique() % (128 * 256);
        return new Subnet(string.Create(CultureInfo.InvariantCulture, $"10.{128 + (n / 256)}.{n % 256}"));
    }

    /// <summary>A container ID no other test uses.</summary>
    public static string NewContainerId() => "cnirt-it-" + Guid.NewGuid().ToString("N");

    /// <summary>A link name no other test uses (<paramref name="prefix"/> and a number, at most 15 characters), deleted from the node on dispose.</summary>
    public string NewLinkName(string prefix = "cnirt-l")
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}{NextUnique()}");
        if (name.Length > 15)
        {
            throw new ArgumentException($"link name prefix \"{prefix}\" leaves no room for a number within 15 characters", nameof(prefix));
        }

        lock (_gate)
        {
            _links.Add(name);
        }

        return name;
    }

    /// <summary>A bridge name no other test uses; the bridge is deleted on dispose if it exists.</summary>
    public string NewBridgeName() => NewLinkName("cnirt-br");

    /// <summary>A temporary directory, deleted on dispose.</summary>
    public string NewTempDirectory(string purpose)
    {
        var path = Directory.CreateTempSubdirectory($"cnirt-it-{purpose}-").FullName;
        lock (_gate)
        {
            _directories.Add(path);
        }

        return path;
    }

    /// <summary>Creates a container namespace <c>cnirt-it-&lt;random&gt;</c> (lo down, as a runtime makes it), deleted on dispose.</summary>
    public async Task<TestNamespace> AddContainerAsync(CancellationToken cancellationToken = default)
    {
        var container = new TestNamespace("cnirt-it-" + Guid.NewGuid().ToString("N")[..12]);
        await AddNamespaceAsync(container, cancellationToken).ConfigureAwait(false);
        return container;
    }

    /// <summary>
    /// Creates a veth pair, both ends up: <paramref name="name"/> in the node, the peer in the node too or in
    /// <paramref name="peerNamespace"/>. Returns the peer's name (<paramref name="peerName"/>, or a unique one).
    /// </summary>
    public async Task<string> AddVethAsync(string name, TestNamespace? peerNamespace = null, string? peerName = null, CancellationToken cancellationToken = default)
    {
        peerName ??= NewLinkName("cnirt-p");
        lock (_gate)
        {
            _links.Add(name);
        }

        string[] peer = peerNamespace is null ? ["peer", "name", peerName] : ["peer", "name", peerName, "netns", peerNamespace.Name];
        await IpAsync(Namespace, ["link", "add", name, "type", "veth", .. peer], cancellationToken).ConfigureAwait(false);
        await IpAsync(Namespace, ["link", "set", name, "up"], cancellationToken).ConfigureAwait(false);
        await IpAsync(peerNamespace ?? Namespace, ["link", "set", peerName, "up"], cancellationToken).ConfigureAwait(false);
        return peerName;
    }

    /// <summary>Runs <c>ip ARGS</c> in a namespace (null: the node) and returns stdout.</summary>
    public Task<string> IpAsync(TestNamespace? where, IEnumerable<string> arguments, CancellationToken cancellationToken = default) =>
        IpRoute2.RunAsync((where ?? Namespace)?.Name, arguments, cancellationToken);

    /// <summary>Runs a program in a namespace (null: the node) and returns stdout; throws with stderr when it fails.</summary>
    public Task<string> ExecAsync(TestNamespace? where, string program, params string[] arguments)
    {
        var target = where ?? Namespace;
        return target is null
            ? ProcessRunner.RunCheckedAsync(program, arguments, CommandTimeout)
            : ProcessRunner.RunCheckedAsync(RequireIp(), ["netns", "exec", target.Name, program, .. arguments], CommandTimeout);
    }

    /// <summary>Starts a program in the background in a namespace (null: the node); it is killed on dispose.</summary>
    public BackgroundProcess StartProcess(TestNamespace? where, string program, params string[] arguments)
    {
        var target = where ?? Namespace;
        var process = target is null
            ? new BackgroundProcess(program, arguments)
            : new BackgroundProcess(RequireIp(), ["netns", "exec", target.Name, program, .. arguments]);
        lock (_gate)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>What a namespace (null: the node) holds now: links, addresses, routes, rules.</summary>
    public Task<NetworkState> ReadStateAsync(TestNamespace? where = null, CancellationToken cancellationToken = default) =>
        NetworkState.ReadAsync((where ?? Namespace)?.Name, cancellationToken);

    /// <summary>
    /// Fails unless the namespace (null: the node) holds nothing that <paramref name="baseline"/> did not, apart
    /// from the lines <paramref name="expected"/> accepts (<see cref="NetworkState.LeftoversSince"/>). Waits up to
    /// <paramref name="settle"/> (default 3 s) for the kernel's asynchronous cleanup of deleted namespaces' veths.
    /// </summary>
    /// <exception cref="CniTestAssertionException">Something was left behind; the message lists it.</exception>
    public async Task AssertNothingLeakedAsync(NetworkState baseline, TestNamespace? where = null, Func<string, bool>? expected = null, TimeSpan? settle = null)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        var deadline = DateTime.UtcNow + (settle ?? TimeSpan.FromSeconds(3));
        while (true)
        {
            var left = (await ReadStateAsync(where).ConfigureAwait(false)).LeftoversSince(baseline).Where(l => expected?.Invoke(l) != true).ToList();
            if (left.Count == 0)
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new CniTestAssertionException($"{Describe(where)} holds what was not there before:\n  " + string.Join("\n  ", left));
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Fails unless every successful ADD recorded so far printed a result that matches the JSON Schema of its
    /// <c>cniVersion</c>. Returns how many results were checked.
    /// </summary>
    /// <exception cref="CniTestAssertionException">A result breaks its schema, or names a version without one.</exception>
    public int AssertEveryResultMatchesSchema()
    {
        var adds = Executor.Calls.Where(c => c.Command == CniCommand.Add && c.Result is { ExitCode: 0 }).ToList();
        var problems = new List<string>();
        foreach (var call in adds)
        {
            problems.AddRange(CniSchemas.ValidateResult(Encoding.UTF8.GetString(call.Result!.Stdout.Span), call.PluginName).Select(v => v.ToString()));
        }

        return problems.Count == 0
            ? adds.Count
            : throw new CniTestAssertionException("plugin results break their schema:\n  " + string.Join("\n  ", problems));
    }

    /// <summary>Stops the background processes; deletes the namespaces (the node's with everything in it), the links the node made, the directories.</summary>
    /// <exception cref="AggregateException">Something could not be removed.</exception>
    public async ValueTask DisposeAsync()
    {
        var errors = new List<Exception>();
        BackgroundProcess[] processes;
        TestNamespace[] namespaces;
        string[] links;
        string[] directories;
        lock (_gate)
        {
            processes = [.. _processes];
            namespaces = [.. _namespaces];
            links = [.. _links];
            directories = [.. _directories];
        }

        foreach (var process in processes)
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }

        // Containers first: deleting a namespace returns its veth ends' peers to nothing and physical devices to the node.
        foreach (var name in namespaces.Reverse())
        {
            if (File.Exists(name.Path))
            {
                await Try(() => ProcessRunner.RunCheckedAsync(RequireIp(), ["netns", "delete", name.Name], CommandTimeout), errors).ConfigureAwait(false);
            }
        }

        if (Namespace is null)
        {
            var present = (await NetworkState.ReadAsync(null).ConfigureAwait(false)).Links.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var link in links.Where(present.Contains))
            {
                await Try(() => IpRoute2.RunAsync(null, ["link", "delete", link]), errors).ConfigureAwait(false);
            }
        }

        foreach (var directory in directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.Add(ex);
            }
        }

        if (errors.Count > 0)
        {
            throw new AggregateException("cleaning up the test node's namespaces, links or directories failed", errors);
        }
    }

    private async Task AddNamespaceAsync(TestNamespace name, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _namespaces.Add(name);
        }

        await ProcessRunner.RunCheckedAsync(RequireIp(), ["netns", "add", name.Name], CommandTimeout).ConfigureAwait(false);
        if (name == Namespace)
        {
            await IpRoute2.RunAsync(name.Name, ["link", "set", "lo", "up"], cancellationToken).ConfigureAwait(false);
        }
    }

    private string Describe(TestNamespace? where) => (where ?? Namespace) is { } n ? "namespace " + n.Name : "the node (this process's namespace)";

    private static string RequireIp() => IpRoute2.Path ?? throw new InvalidOperationException("iproute2's ip command is not installed");

    private static bool IsRoot()
    {
        try
        {
            // "Uid:\treal\teffective\tsaved\tfs"
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            var fields = line?.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 3 } && fields[2] == "0";
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task Try(Func<Task> action, List<Exception> errors)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            errors.Add(ex);
        }
    }
}
