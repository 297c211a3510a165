using System.Globalization;
using System.Text;
using System.Text.Json;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Namespaces;
using CniRuntime.Networks;
using CniRuntime.Protocol;

namespace CniRuntime.Conformance;

/// <summary>
/// Runs one plugin, inside its network configuration list, through the specification's lifecycle and reports every
/// requirement it meets or breaks: VERSION and each version it claims, errors in the specification's format for
/// broken input, ADD and its result against the JSON Schema of its version, the state it left in the namespace,
/// CHECK, a second ADD onto an existing interface, DEL, DEL again, DEL without a namespace, GC and STATUS where it
/// claims 1.1.0, and what the node holds afterwards.
/// </summary>
/// <remarks>
/// Container namespaces are created under <c>/run/netns</c> and deleted at the end, like the throwaway node of
/// <see cref="ConformanceNode.Throwaway"/>; results are cached in a temporary directory. Needs root and iproute2.
/// Only failures of the environment (no iproute2, no privilege) are thrown; everything a plugin does is a check.
/// </remarks>
public static class ConformanceRunner
{
    /// <summary>Runs the checks.</summary>
    /// <exception cref="ArgumentException">The plugin type is not in the list.</exception>
    /// <exception cref="InvalidOperationException">iproute2 is missing or failed (the caller is not root).</exception>
    /// <exception cref="CniException">A namespace could not be created.</exception>
    public static async Task<ConformanceReport> RunAsync(ConformanceOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var run = new ConformanceRun(options);
        await using (run.ConfigureAwait(false))
        {
            return await run.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>One conformance run: its namespaces, cache, recorded plugin calls and checks.</summary>
internal sealed class ConformanceRun : IAsyncDisposable
{
    private const int MaxQuoted = 400;
    private const string UnclaimedVersion = "99.0.0";

    private readonly ConformanceOptions _options;
    private readonly NetworkConfigList _list;
    private readonly PluginConfig _plugin;
    private readonly int _pluginIndex;
    private readonly bool _isIpam;
    private readonly string _prefix = "cnirt-conf-" + Guid.NewGuid().ToString("N")[..8];
    private readonly NetworkNamespaces _namespaces = new();
    private readonly List<string> _created = [];
    private readonly List<ConformanceCheck> _checks = [];
    private readonly string _cacheDirectory;
    private readonly string? _nodeName;
    private RecordingPluginExecutor _recorder = null!;
    private CniClient _client = null!;
    private string? _pluginPath;
    private int _containers;

    public ConformanceRun(ConformanceOptions options)
    {
        _options = options;
        _list = options.Network;
        // The plugin under test is one of the list's, or the IPAM plugin one of them delegates to (which then gets
        // the probes with that plugin's configuration, as delegated plugins do).
        _pluginIndex = _list.Plugins.ToList().FindIndex(p => p.Type == options.PluginType);
        if (_pluginIndex < 0)
        {
            _pluginIndex = _list.Plugins.ToList().FindIndex(p => p.IpamType == options.PluginType);
            _isIpam = _pluginIndex >= 0;
        }

        if (_pluginIndex < 0)
        {
            throw new ArgumentException(
                $"plugin type \"{options.PluginType}\" is neither a plugin nor an IPAM plugin of network \"{_list.Name}\" (its plugins: {string.Join(", ", _list.Plugins.Select(p => p.IpamType is null ? p.Type : $"{p.Type} with {p.IpamType}"))})",
                nameof(options));
        }

        _plugin = _list.Plugins[_pluginIndex];
        _nodeName = options.Node.IsThrowaway ? _prefix + "-node" : options.Node.NamespaceName;
        _cacheDirectory = Directory.CreateTempSubdirectory("cnirt-conformance-").FullName;
    }

    private string ConfigVersion => _list.CniVersion.Length == 0 ? "0.1.0" : _list.CniVersion;

    public async Task<ConformanceReport> ExecuteAsync(CancellationToken cancellationToken)
    {
        if (_options.Node.IsThrowaway)
        {
            await CreateThrowawayNodeAsync(cancellationToken).ConfigureAwait(false);
        }

        var launcher = _nodeName is null ? [] : IpRoute2.NetnsExec(_nodeName);
        _recorder = new RecordingPluginExecutor(new ProcessPluginExecutor(new ProcessPluginExecutorOptions { Launcher = launcher }));
        _client = new CniClient(
            new CniClientOptions
            {
                PluginDirectories = _options.PluginDirectories,
                CacheDirectory = _cacheDirectory,
                PluginTimeout = _options.PluginTimeout,
                TransientRetries = 0,
            },
            _recorder);

        try
        {
            _pluginPath = _recorder.FindPlugin(_options.PluginType, _options.PluginDirectories);
            Add(ConformanceCheck.Of("plugin.found", RequirementLevel.Must, "the plugin binary is in the plugin directories", true, _pluginPath));
        }
        catch (CniException ex)
        {
            Add(ConformanceCheck.Of("plugin.found", RequirementLevel.Must, "the plugin binary is in the plugin directories", false, ex.Message));
            return Report();
        }

        var claimed = await CheckVersionAsync(cancellationToken).ConfigureAwait(false);
        await CheckErrorsAsync(cancellationToken).ConfigureAwait(false);
        await CheckLifecycleAsync(cancellationToken).ConfigureAwait(false);
        await CheckGcAndStatusAsync(claimed, cancellationToken).ConfigureAwait(false);
        return Report();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _created.AsEnumerable().Reverse())
        {
            await _namespaces.DeleteAsync(name).ConfigureAwait(false);
        }

        try
        {
            Directory.Delete(_cacheDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A temporary directory; nothing depends on it any more.
        }
    }

    private ConformanceReport Report() => new(_options.PluginType, _list.Name, ConfigVersion, [.. _checks]);

    private void Add(ConformanceCheck check) => _checks.Add(check);

    private async Task CreateThrowawayNodeAsync(CancellationToken cancellationToken)
    {
        await _namespaces.CreateAsync(_nodeName!, cancellationToken).ConfigureAwait(false);
        _created.Add(_nodeName!);
        await IpRoute2.RunAsync(_nodeName, ["link", "set", "lo", "up"], cancellationToken).ConfigureAwait(false);
        var peer = 0;
        foreach (var link in _options.Node.Links)
        {
            var peerName = string.Create(CultureInfo.InvariantCulture, $"cnp{_prefix[^8..]}{peer++}");
            await IpRoute2.RunAsync(_nodeName, ["link", "add", link, "type", "veth", "peer", "name", peerName], cancellationToken).ConfigureAwait(false);
            await IpRoute2.RunAsync(_nodeName, ["link", "set", link, "up"], cancellationToken).ConfigureAwait(false);
            await IpRoute2.RunAsync(_nodeName, ["link", "set", peerName, "up"], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<(string Name, string Path)> NewContainerAsync(CancellationToken cancellationToken)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{_prefix}-c{++_containers}");
        var path = await _namespaces.CreateAsync(name, cancellationToken).ConfigureAwait(false);
        _created.Add(name);
        return (name, path);
    }

    private string NewContainerId() => string.Create(CultureInfo.InvariantCulture, $"{_prefix}-{_containers}-{_checks.Count}");

    // ---- VERSION ----

    private async Task<PluginVersionInfo?> CheckVersionAsync(CancellationToken cancellationToken)
    {
        const string ReplyRequirement = "VERSION (only CNI_COMMAND set) exits 0 and prints a version object matching the schema";
        var (reply, replyProblem) = await AskVersionAsync(ConfigVersion, cancellationToken).ConfigureAwait(false);
        Add(ConformanceCheck.Of("version.reply", RequirementLevel.Must, ReplyRequirement, reply is not null, replyProblem ?? Describe(reply!.Value.Raw)));
        if (reply is not { } first)
        {
            foreach (var id in new[] { "version.claims-config", "version.claims-known", "version.every-claimed", "version.echo" })
            {
                Add(ConformanceCheck.NotApplicable(id, RequirementLevel.Must, "(needs a VERSION reply)", "VERSION failed"));
            }

            return null;
        }

        var info = first.Info;
        Add(ConformanceCheck.Of(
            "version.claims-config",
            RequirementLevel.Must,
            $"it claims the configuration's version {ConfigVersion}",
            info.Supports(ConfigVersion),
            "supportedVersions: " + string.Join(", ", info.SupportedVersions)));

        var unknown = info.SupportedVersions.Where(v => !CniVersion.TryParse(v, out var parsed) || !parsed.IsKnown).ToList();
        Add(ConformanceCheck.Of(
            "version.claims-known",
            RequirementLevel.Should,
            "it claims only released specification versions (" + string.Join(", ", CniVersion.All) + ")",
            unknown.Count == 0,
            unknown.Count == 0 ? "all known" : "unknown: " + string.Join(", ", unknown)));

        var mismatches = new List<string>();
        var echoes = new List<string>();
        if (first.Info.CniVersion != ConfigVersion)
        {
            echoes.Add($"asked {ConfigVersion}, answered {first.Info.CniVersion}");
        }

        foreach (var version in info.SupportedVersions)
        {
            var (answer, problem) = await AskVersionAsync(version, cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                mismatches.Add($"asked in {version}: {problem}");
            }
            else if (!answer.Value.Info.SupportedVersions.SequenceEqual(info.SupportedVersions))
            {
                mismatches.Add($"asked in {version}: supportedVersions {string.Join(", ", answer.Value.Info.SupportedVersions)}");
            }
            else if (answer.Value.Info.CniVersion != version)
            {
                echoes.Add($"asked {version}, answered {answer.Value.Info.CniVersion}");
            }
        }

        Add(ConformanceCheck.Of(
            "version.every-claimed",
            RequirementLevel.Must,
            "VERSION asked in each claimed version succeeds with the same list",
            mismatches.Count == 0,
            mismatches.Count == 0 ? $"{info.SupportedVersions.Count} versions asked" : string.Join("\n", mismatches)));
        Add(ConformanceCheck.Of(
            "version.echo",
            RequirementLevel.Should,
            "the reply's cniVersion is the request's (\"the value of cniVersion specified on input\")",
            echoes.Count == 0,
            echoes.Count == 0 ? "every reply echoes its request" : string.Join("\n", echoes)));
        return info;
    }

    private async Task<((PluginVersionInfo Info, PluginProcessResult Raw)? Reply, string? Problem)> AskVersionAsync(string version, CancellationToken cancellationToken)
    {
        var stdin = Encoding.UTF8.GetBytes($"{{\"cniVersion\":\"{version}\"}}");
        var environment = PluginRequest.BuildEnvironment(CniCommand.Version, null, null, null, string.Empty, []);
        var (raw, failure) = await InvokeAsync(stdin, environment, cancellationToken).ConfigureAwait(false);
        if (raw is null)
        {
            return (null, failure);
        }

        if (raw.ExitCode != 0)
        {
            return (null, Describe(raw));
        }

        var violations = CniSchemas.Validate(CniDocumentKind.VersionInfo, Text(raw.Stdout));
        if (violations.Count > 0)
        {
            return (null, Describe(raw) + "\n" + string.Join("\n", violations));
        }

        try
        {
            return ((PluginVersionInfo.Parse(raw.Stdout.Span), raw), null);
        }
        catch (CniException ex)
        {
            return (null, Describe(raw) + "\n" + ex.Message);
        }
    }

    // ---- Errors ----

    private async Task CheckErrorsAsync(CancellationToken cancellationToken)
    {
        var valid = PluginRequest.BuildStdin(_plugin, _list.Name, ConfigVersion);
        var absent = NetworkNamespaces.DefaultDirectory + "/" + _prefix + "-absent";
        Dictionary<string, string> Environment(string command, string? containerId) =>
            PluginRequest.BuildEnvironment(command, containerId, absent, _options.InterfaceName, string.Empty, _options.PluginDirectories);

        // Accepting a configuration it cannot read, or running without a required variable, breaks a MUST; the
        // specification only says a plugin "should" refuse an unclaimed version and does not name unknown commands.
        await ProbeErrorAsync("errors.malformed-config", "ADD of a configuration that is not JSON", RequirementLevel.Must, valid.AsSpan(0, valid.Length / 2).ToArray(), Environment(CniCommand.Add, _prefix + "-probe"), CniErrorCode.DecodingFailure, null, cancellationToken).ConfigureAwait(false);
        await ProbeErrorAsync("errors.unsupported-version", $"ADD in version {UnclaimedVersion}, which it does not claim", RequirementLevel.Should, PluginRequest.BuildStdin(_plugin, _list.Name, UnclaimedVersion), Environment(CniCommand.Add, _prefix + "-probe"), CniErrorCode.IncompatibleCniVersion, null, cancellationToken).ConfigureAwait(false);
        await ProbeErrorAsync("errors.missing-container-id", "ADD without CNI_CONTAINERID", RequirementLevel.Must, valid, Environment(CniCommand.Add, null), CniErrorCode.InvalidEnvironmentVariables, "CNI_CONTAINERID", cancellationToken).ConfigureAwait(false);
        await ProbeErrorAsync("errors.unknown-command", "CNI_COMMAND=BOGUS", RequirementLevel.Should, valid, Environment("BOGUS", _prefix + "-probe"), CniErrorCode.InvalidEnvironmentVariables, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task ProbeErrorAsync(string id, string what, RequirementLevel refusal, byte[] stdin, Dictionary<string, string> environment, CniErrorCode expected, string? named, CancellationToken cancellationToken)
    {
        var (raw, failure) = await InvokeAsync(stdin, environment, cancellationToken).ConfigureAwait(false);
        var codeRequirement = string.Create(CultureInfo.InvariantCulture, $"{what}: the error code is {(int)expected} ({expected})") + (named is null ? string.Empty : $" and the message names {named}");
        if (raw is null)
        {
            Add(ConformanceCheck.Of(id, RequirementLevel.Must, what + ": exits non-zero with an error object on stdout", false, failure ?? "not run"));
            Add(ConformanceCheck.NotApplicable(id + ".code", RequirementLevel.Should, codeRequirement, "no error object"));
            return;
        }

        var violations = raw.ExitCode == 0 ? [] : CniSchemas.Validate(CniDocumentKind.Error, Text(raw.Stdout));
        var isError = raw.ExitCode != 0 && violations.Count == 0;

        // Once it fails, the error object's format is a MUST whatever the probe.
        Add(ConformanceCheck.Of(
            id,
            raw.ExitCode == 0 ? refusal : RequirementLevel.Must,
            what + ": exits non-zero with an error object on stdout",
            isError,
            Describe(raw) + (violations.Count == 0 ? string.Empty : "\n" + string.Join("\n", violations))));
        if (!isError || !PluginOutput.TryReadError(raw.Stdout.Span.Trim(" \t\r\n"u8), out var code, out var message, out _, out _))
        {
            Add(ConformanceCheck.NotApplicable(id + ".code", RequirementLevel.Should, codeRequirement, "no error object"));
            return;
        }

        Add(ConformanceCheck.Of(
            id + ".code",
            RequirementLevel.Should,
            codeRequirement,
            code == expected && (named is null || message.Contains(named, StringComparison.Ordinal)),
            string.Create(CultureInfo.InvariantCulture, $"code {(int)code}: {message}")));
    }

    // ---- ADD, CHECK, DEL ----

    private async Task CheckLifecycleAsync(CancellationToken cancellationToken)
    {
        var nodeBefore = await NetworkState.ReadAsync(_nodeName, cancellationToken).ConfigureAwait(false);
        var container = await NewContainerAsync(cancellationToken).ConfigureAwait(false);
        var containerBefore = await NetworkState.ReadAsync(container.Name, cancellationToken).ConfigureAwait(false);
        var runtime = NewRuntime(container.Path);

        _recorder.Clear();
        CniResult? result = null;
        string addEvidence;
        try
        {
            result = await _client.AddNetworkListAsync(_list, runtime, cancellationToken).ConfigureAwait(false);
            addEvidence = CallsOf(CniCommand.Add);
        }
        catch (CniException ex)
        {
            addEvidence = ex.Message;
        }

        Add(ConformanceCheck.Of("add.succeeds", RequirementLevel.Must, "ADD into a new namespace exits 0", result is not null, addEvidence));
        var adds = _recorder.Calls.Where(c => c.Command == CniCommand.Add && c.Result is { ExitCode: 0 }).ToList();
        if (result is null)
        {
            foreach (var id in new[] { "add.result-schema", "add.result-version", "add.sandbox-interface", "add.interface-in-namespace", "add.ip-interface-index", "add.addresses-configured", "add.mac-matches", "add.prevresult-kept", "check.succeeds", "add.existing-interface-refused", "del.succeeds", "del.sandbox-cleaned", "del.repeated" })
            {
                Add(ConformanceCheck.NotApplicable(id, RequirementLevel.Must, "(needs a successful ADD)", "ADD failed"));
            }

            // A runtime must DEL after a failed ADD; the plugin must cope with that.
            await ExpectSuccessAsync("del.after-failed-add", RequirementLevel.Must, "DEL after a failed ADD exits 0", () => _client.DeleteNetworkListAsync(_list, runtime, cancellationToken)).ConfigureAwait(false);
            await CheckNodeCleanAsync(nodeBefore, cancellationToken).ConfigureAwait(false);
            return;
        }

        CheckResults(adds);
        var containerAfterAdd = await NetworkState.ReadAsync(container.Name, cancellationToken).ConfigureAwait(false);
        var created = CheckState(result, container.Path, containerBefore, containerAfterAdd);
        CheckPrevResultKept(adds);

        if (_list.GetVersion() < CniVersion.V040 || _list.DisableCheck)
        {
            Add(ConformanceCheck.NotApplicable("check.succeeds", RequirementLevel.Must, "CHECK after ADD exits 0", _list.DisableCheck ? "disableCheck is set" : $"CHECK needs 0.4.0; the configuration is {ConfigVersion}"));
        }
        else
        {
            await ExpectSuccessAsync("check.succeeds", RequirementLevel.Must, "CHECK after ADD exits 0", () => _client.CheckNetworkListAsync(_list, runtime, cancellationToken)).ConfigureAwait(false);
        }

        await CheckExistingInterfaceRefusedAsync(created, container.Path, cancellationToken).ConfigureAwait(false);

        await ExpectSuccessAsync("del.succeeds", RequirementLevel.Must, "DEL exits 0", () => _client.DeleteNetworkListAsync(_list, runtime, cancellationToken)).ConfigureAwait(false);
        var containerLeft = (await NetworkState.ReadAsync(container.Name, cancellationToken).ConfigureAwait(false)).LeftoversSince(containerBefore);
        Add(ConformanceCheck.Of(
            "del.sandbox-cleaned",
            RequirementLevel.Should,
            "after DEL the namespace holds nothing ADD put there",
            containerLeft.Count == 0,
            containerLeft.Count == 0 ? "nothing left" : "left: " + string.Join("; ", containerLeft)));
        await ExpectSuccessAsync("del.repeated", RequirementLevel.Must, "DEL again (nothing left to delete) exits 0", () => _client.DeleteNetworkListAsync(_list, runtime, cancellationToken)).ConfigureAwait(false);

        await CheckDeleteWithoutNamespaceAsync(cancellationToken).ConfigureAwait(false);
        await CheckNodeCleanAsync(nodeBefore, cancellationToken).ConfigureAwait(false);
    }

    private RuntimeConfig NewRuntime(string? networkNamespace) => new()
    {
        ContainerId = NewContainerId(),
        NetworkNamespace = networkNamespace,
        InterfaceName = _options.InterfaceName,
        CapabilityArgs = _options.CapabilityArgs,
    };

    private void CheckResults(List<PluginCall> adds)
    {
        var problems = new List<string>();
        var versions = new List<string>();
        foreach (var call in adds)
        {
            var json = Text(call.Result!.Stdout);
            problems.AddRange(CniSchemas.ValidateResult(json, call.PluginName).Select(v => v.ToString()));
            if (ReadCniVersion(json) is { } version && version != ConfigVersion)
            {
                versions.Add($"{call.PluginName} answered {version}");
            }
        }

        Add(ConformanceCheck.Of(
            "add.result-schema",
            RequirementLevel.Must,
            "every plugin's ADD result matches the JSON Schema of its version",
            problems.Count == 0,
            problems.Count == 0 ? string.Join("; ", adds.Select(c => $"{c.PluginName}: valid")) : string.Join("\n", problems)));
        Add(ConformanceCheck.Of(
            "add.result-version",
            RequirementLevel.Must,
            $"every result's cniVersion is the configuration's ({ConfigVersion})",
            versions.Count == 0,
            versions.Count == 0 ? "all " + ConfigVersion : string.Join("; ", versions)));
    }

    // Returns true when ADD created the interface CNI_IFNAME in the namespace.
    private bool CheckState(CniResult result, string networkNamespace, NetworkState before, NetworkState after)
    {
        var ifName = _options.InterfaceName;
        var reported = result.Interfaces.FirstOrDefault(i => i.Name == ifName);
        const string SandboxRequirement = "the result's CNI_IFNAME interface carries sandbox = CNI_NETNS";
        const string PresentRequirement = "the namespace holds the CNI_IFNAME interface the result reports";
        if (reported is null)
        {
            var why = $"the result reports no interface {ifName}";
            Add(ConformanceCheck.NotApplicable("add.sandbox-interface", RequirementLevel.Must, SandboxRequirement, why));
            Add(ConformanceCheck.NotApplicable("add.interface-in-namespace", RequirementLevel.Must, PresentRequirement, why));
        }
        else
        {
            Add(ConformanceCheck.Of("add.sandbox-interface", RequirementLevel.Must, SandboxRequirement, reported.Sandbox == networkNamespace, $"sandbox: {reported.Sandbox ?? "(none)"}"));
            Add(ConformanceCheck.Of(
                "add.interface-in-namespace",
                RequirementLevel.Must,
                PresentRequirement,
                after.FindLink(ifName) is not null,
                "links: " + string.Join(", ", after.Links.Select(l => l.Name))));
        }

        var badIndexes = result.Ips.Where(ip => ip.Interface is { } i && (i < 0 || i >= result.Interfaces.Length)).Select(ip => $"{ip.Address} → {ip.Interface}").ToList();
        var indexed = result.Ips.Count(ip => ip.Interface is not null);
        const string IndexRequirement = "each ips[].interface is an index into interfaces";
        Add(indexed == 0
            ? ConformanceCheck.NotApplicable("add.ip-interface-index", RequirementLevel.Must, IndexRequirement, "no IP names an interface")
            : ConformanceCheck.Of("add.ip-interface-index", RequirementLevel.Must, IndexRequirement, badIndexes.Count == 0, badIndexes.Count == 0 ? $"{indexed} valid" : string.Join("; ", badIndexes)));

        var inSandbox = result.Ips
            .Where(ip => ip.Interface is { } i && i >= 0 && i < result.Interfaces.Length && result.Interfaces[i].Sandbox == networkNamespace)
            .Select(ip => (Link: result.Interfaces[ip.Interface!.Value].Name, Address: ip.Address.ToString()))
            .ToList();
        var missing = inSandbox.Where(a => after.FindLink(a.Link) is not { } link || !link.Addresses.Contains(a.Address)).Select(a => $"{a.Address} on {a.Link}").ToList();
        const string AddressRequirement = "each IP the result assigns to a sandbox interface is configured on it";
        Add(inSandbox.Count == 0
            ? ConformanceCheck.NotApplicable("add.addresses-configured", RequirementLevel.Should, AddressRequirement, "no IP on a sandbox interface")
            : ConformanceCheck.Of("add.addresses-configured", RequirementLevel.Should, AddressRequirement, missing.Count == 0, missing.Count == 0 ? string.Join(", ", inSandbox.Select(a => $"{a.Address} on {a.Link}")) : "missing: " + string.Join(", ", missing)));

        var withMac = result.Interfaces.Where(i => i.Sandbox == networkNamespace && !string.IsNullOrEmpty(i.Mac)).ToList();
        var wrongMac = withMac.Where(i => !string.Equals(after.FindLink(i.Name)?.Mac, i.Mac, StringComparison.OrdinalIgnoreCase)).Select(i => $"{i.Name}: reported {i.Mac}, is {after.FindLink(i.Name)?.Mac ?? "(no such link)"}").ToList();
        const string MacRequirement = "each sandbox interface's reported mac is its hardware address";
        Add(withMac.Count == 0
            ? ConformanceCheck.NotApplicable("add.mac-matches", RequirementLevel.Should, MacRequirement, "no sandbox interface reports a mac")
            : ConformanceCheck.Of("add.mac-matches", RequirementLevel.Should, MacRequirement, wrongMac.Count == 0, wrongMac.Count == 0 ? string.Join(", ", withMac.Select(i => $"{i.Name} {i.Mac}")) : string.Join("; ", wrongMac)));

        return reported?.Sandbox == networkNamespace && before.FindLink(ifName) is null && after.FindLink(ifName) is not null;
    }

    private void CheckPrevResultKept(List<PluginCall> adds)
    {
        const string Requirement = "its result keeps prevResult's interfaces and IPs (passed through or modified, not dropped)";
        var call = adds.FirstOrDefault(c => c.PluginName == System.IO.Path.GetFileName(_pluginPath));
        if (_pluginIndex == 0 || call is null || _isIpam)
        {
            Add(ConformanceCheck.NotApplicable("add.prevresult-kept", RequirementLevel.Should, Requirement, _isIpam ? "an IPAM plugin gets no prevResult" : _pluginIndex == 0 ? "first in the list: no prevResult" : "it did not answer ADD"));
            return;
        }

        using var request = JsonDocument.Parse(call.Invocation.Stdin);
        using var answer = JsonDocument.Parse(call.Result!.Stdout);
        var dropped = new List<string>();
        if (request.RootElement.TryGetProperty("prevResult", out var previous))
        {
            var names = Names(answer.RootElement, "interfaces", "name");
            var addresses = Names(answer.RootElement, "ips", "address");
            dropped.AddRange(Names(previous, "interfaces", "name").Where(n => !names.Contains(n)).Select(n => "interface " + n));
            dropped.AddRange(Names(previous, "ips", "address").Where(a => !addresses.Contains(a)).Select(a => "ip " + a));
        }

        Add(ConformanceCheck.Of("add.prevresult-kept", RequirementLevel.Should, Requirement, dropped.Count == 0, dropped.Count == 0 ? "all kept" : "dropped: " + string.Join(", ", dropped)));
    }

    private async Task CheckExistingInterfaceRefusedAsync(bool created, string networkNamespace, CancellationToken cancellationToken)
    {
        const string Requirement = "ADD of another container into a namespace that already has CNI_IFNAME fails with an error object";
        const string Id = "add.existing-interface-refused";
        if (!created || _pluginIndex != 0 || _isIpam)
        {
            Add(ConformanceCheck.NotApplicable(Id, RequirementLevel.Must, Requirement, _isIpam ? "an IPAM plugin creates no interface" : created ? "the interface was created by an earlier plugin" : "ADD created no CNI_IFNAME interface in the namespace"));
            return;
        }

        var containerId = NewContainerId();
        var stdin = PluginRequest.BuildStdin(_plugin, _list.Name, ConfigVersion);
        var (raw, failure) = await InvokeAsync(stdin, PluginRequest.BuildEnvironment(CniCommand.Add, containerId, networkNamespace, _options.InterfaceName, string.Empty, _options.PluginDirectories), cancellationToken).ConfigureAwait(false);
        var refused = raw is { ExitCode: not 0 } && CniSchemas.Validate(CniDocumentKind.Error, Text(raw.Stdout)).Count == 0;
        Add(ConformanceCheck.Of(Id, RequirementLevel.Must, Requirement, refused, raw is null ? failure ?? "not run" : Describe(raw)));

        // The runtime's part after a failed ADD: DEL it, here without the namespace, so the first attachment's interface stays.
        await InvokeAsync(stdin, PluginRequest.BuildEnvironment(CniCommand.Del, containerId, null, _options.InterfaceName, string.Empty, _options.PluginDirectories), cancellationToken).ConfigureAwait(false);
    }

    private async Task CheckDeleteWithoutNamespaceAsync(CancellationToken cancellationToken)
    {
        const string Requirement = "DEL without CNI_NETNS (the namespace is gone) exits 0";
        var container = await NewContainerAsync(cancellationToken).ConfigureAwait(false);
        var runtime = NewRuntime(container.Path);
        try
        {
            await _client.AddNetworkListAsync(_list, runtime, cancellationToken).ConfigureAwait(false);
        }
        catch (CniException ex)
        {
            Add(ConformanceCheck.NotApplicable("del.without-netns", RequirementLevel.Must, Requirement, "the second ADD failed: " + ex.Message));
            return;
        }

        await _namespaces.DeleteAsync(container.Name, cancellationToken).ConfigureAwait(false);
        await ExpectSuccessAsync("del.without-netns", RequirementLevel.Must, Requirement, () => _client.DeleteNetworkListAsync(_list, runtime with { NetworkNamespace = null }, cancellationToken)).ConfigureAwait(false);
    }

    private async Task CheckNodeCleanAsync(NetworkState before, CancellationToken cancellationToken)
    {
        // A deleted namespace's veths go when the kernel's asynchronous cleanup runs, a little after the unmount.
        var deadline = DateTime.UtcNow + _options.SettleTimeout;
        IReadOnlyList<string> left;
        while (true)
        {
            left = (await NetworkState.ReadAsync(_nodeName, cancellationToken).ConfigureAwait(false)).LeftoversSince(before);
            if (left.Count == 0 || DateTime.UtcNow >= deadline)
            {
                break;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        Add(ConformanceCheck.Of(
            "del.node-cleaned",
            RequirementLevel.Should,
            "after every DEL the node holds no link, address, route or rule the ADDs created",
            left.Count == 0,
            left.Count == 0 ? "nothing left" : "left: " + string.Join("; ", left)));
    }

    // ---- GC, STATUS ----

    private async Task CheckGcAndStatusAsync(PluginVersionInfo? claimed, CancellationToken cancellationToken)
    {
        const string GcRequirement = "GC with no valid attachments exits 0 and prints nothing";
        const string StatusRequirement = "STATUS exits 0, or fails with an error object (50, 51 or another code)";
        var why = claimed?.Supports("1.1.0") != true ? "the plugin does not claim 1.1.0"
            : _list.GetVersion() < CniVersion.V110 ? $"GC and STATUS need a 1.1.0 configuration; this one is {ConfigVersion}"
            : null;
        if (why is not null)
        {
            Add(ConformanceCheck.NotApplicable("gc.succeeds", RequirementLevel.Must, GcRequirement, why));
            Add(ConformanceCheck.NotApplicable("status.answers", RequirementLevel.Must, StatusRequirement, why));
            return;
        }

        // Sent to the plugin under test directly, as a runtime (or a delegating plugin, for IPAM) would.
        var gcStdin = PluginRequest.BuildStdin(_plugin, _list.Name, ConfigVersion, validAttachments: new GcAttachments([]));
        var (gc, gcFailure) = await InvokeAsync(gcStdin, PluginRequest.BuildEnvironment(CniCommand.Gc, null, null, null, string.Empty, _options.PluginDirectories), cancellationToken).ConfigureAwait(false);
        var silent = gc is { ExitCode: 0 } && gc.Stdout.Span.Trim(" \t\r\n"u8).IsEmpty;
        Add(ConformanceCheck.Of("gc.succeeds", RequirementLevel.Must, GcRequirement, silent, gc is null ? gcFailure ?? "not run" : Describe(gc)));

        var statusStdin = PluginRequest.BuildStdin(_plugin, _list.Name, ConfigVersion);
        var (status, statusFailure) = await InvokeAsync(statusStdin, PluginRequest.BuildEnvironment(CniCommand.Status, null, null, null, string.Empty, _options.PluginDirectories), cancellationToken).ConfigureAwait(false);
        var answered = status is { ExitCode: 0 }
            || (status is not null && CniSchemas.Validate(CniDocumentKind.Error, Text(status.Stdout)).Count == 0);
        Add(ConformanceCheck.Of("status.answers", RequirementLevel.Must, StatusRequirement, answered, status is null ? statusFailure ?? "not run" : Describe(status)));
    }

    // ---- helpers ----

    private async Task ExpectSuccessAsync(string id, RequirementLevel level, string requirement, Func<Task> operation)
    {
        _recorder.Clear();
        try
        {
            await operation().ConfigureAwait(false);
            Add(ConformanceCheck.Of(id, level, requirement, true, CallsOf(null)));
        }
        catch (CniException ex)
        {
            Add(ConformanceCheck.Of(id, level, requirement, false, ex.Message));
        }
    }

    private string CallsOf(string? command) =>
        string.Join("; ", _recorder.Calls.Where(c => command is null || c.Command == command).Select(c => $"{c.PluginName} {c.Command}: exit {c.Result?.ExitCode.ToString(CultureInfo.InvariantCulture) ?? "-"}"));

    private async Task<(PluginProcessResult? Result, string? Failure)> InvokeAsync(byte[] stdin, Dictionary<string, string> environment, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PluginTimeout);
        try
        {
            return (await _recorder.ExecuteAsync(new PluginInvocation(_pluginPath!, stdin, environment), timeout.Token).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {_options.PluginTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (CniException ex)
        {
            return (null, ex.Message);
        }
    }

    private static HashSet<string> Names(JsonElement element, string array, string property)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(array, out var items) && items.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in items.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String)
                {
                    names.Add(value.GetString()!);
                }
            }
        }

        return names;
    }

    private static string? ReadCniVersion(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("cniVersion", out var version)
                && version.ValueKind == JsonValueKind.String ? version.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    private static string Describe(PluginProcessResult result)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"exit {result.ExitCode}, stdout: {Quote(Text(result.Stdout))}");
        if (result.Stderr.Trim().Length > 0)
        {
            text.Append(", stderr: ").Append(Quote(result.Stderr));
        }

        return text.ToString();
    }

    private static string Quote(string text)
    {
        var oneLine = string.Join(' ', text.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim())).Trim();
        return oneLine.Length == 0 ? "(empty)" : oneLine.Length <= MaxQuoted ? oneLine : oneLine[..MaxQuoted] + "…";
    }
}
