namespace CniRuntime.Networks;

/// <summary>How a <see cref="CniClient"/> finds plugins, keeps state and copes with failures.</summary>
public sealed record CniClientOptions
{
    /// <summary>The directories searched for plugin binaries, in order (<c>CNI_PATH</c>). The default is <c>/opt/cni/bin</c>.</summary>
    public IReadOnlyList<string> PluginDirectories { get; init; } = ["/opt/cni/bin"];

    /// <summary>Where results are cached (libcni's <c>/var/lib/cni</c> by default, so Go runtimes share it).</summary>
    public string CacheDirectory { get; init; } = "/var/lib/cni";

    /// <summary>
    /// The longest one plugin call may take; then the plugin's process tree is killed and the call fails with
    /// <see cref="Protocol.CniPluginTimeoutException"/>. The default is one minute (a DHCP lease can take seconds;
    /// a hung plugin must not hold a sandbox forever). It bounds each plugin call, and each attempt of a call that
    /// is retried after "try again later" anew; there is no bound on a whole operation, which can take up to
    /// plugins × (1 + <see cref="TransientRetries"/>) × this, plus the pauses (and the DELs of a rollback). A
    /// caller that needs one cancels its token.
    /// </summary>
    public TimeSpan PluginTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a call that fails with code 11 ("try again later") is retried. The default is 3; 0 turns retries off.</summary>
    public int TransientRetries { get; init; } = 3;

    /// <summary>The first pause before retrying a code-11 failure; later pauses grow exponentially, with jitter. The default is 200 ms.</summary>
    public TimeSpan TransientRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// When true (the default), a failed ADD is followed by a DEL of the whole list, last plugin first, before the
    /// error is returned, so that nothing a partial ADD created is left behind; libcni leaves this to every runtime.
    /// Every plugin gets the last result ADD obtained as <c>prevResult</c> (0.4.0 and later). A plugin that did
    /// nothing (it comes after the failing one, refused the version or is missing) is passed over when its binary is
    /// missing, and its DEL failing is logged and does not stop the rollback (the specification requires plugins to
    /// accept a DEL of what they never created). The DEL of a plugin that ran failing stops the rollback, as it
    /// stops DEL: then the ADD error and that DEL error are thrown together (<see cref="Protocol.CniAggregateException"/>)
    /// and the attachment's cache record stays, holding that last result, for a later DEL or
    /// <see cref="CniClient.RecoverAsync"/> to finish with.
    /// The rollback deliberately ignores the caller's cancellation, so that a cancelled ADD still cleans up: each
    /// of its plugin calls keeps its own <see cref="PluginTimeout"/>, and a cancelled ADD returns only once they end.
    /// When false, a failed ADD leaves no cache record and the runtime must DEL, as with libcni.
    /// </summary>
    public bool RollbackFailedAdd { get; init; } = true;

    /// <summary>
    /// What plugins inherit of the runtime's environment: all of it (<see cref="PluginEnvironment.Inherit"/>, the
    /// default, as libcni does) or nothing but <c>PATH</c> (<see cref="PluginEnvironment.Minimal"/>), so that no
    /// secret or proxy setting of the runtime reaches them. The <c>CNI_*</c> and trace variables are always set.
    /// Used only when the client creates its own executor.
    /// </summary>
    public PluginEnvironment PluginEnvironment { get; init; } = PluginEnvironment.Inherit;

    /// <summary>
    /// Whether cache files and sandbox records are fsynced (the file, then its directory) so that they survive a
    /// power loss, not only a killed process. Off by default, as in libcni: every write is atomic either way (a reader
    /// sees the old file or the new, never half of one), an empty or damaged file never blocks DEL, and the
    /// namespaces and links such files describe do not survive a reboot. On, each write costs two fsyncs (about
    /// 0.6 ms on an idle disk, tens of milliseconds on a busy one). Port mapping state is always fsynced.
    /// </summary>
    public bool DurableWrites { get; init; }

    /// <summary>Where operations and plugin executions are logged (failures as warnings, each execution at debug level).</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The clock for retry pauses and lock polling (plugin timeouts run on the system clock).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>What plugins inherit of the runtime's environment.</summary>
public enum PluginEnvironment
{
    /// <summary>Everything, with the CNI variables on top (libcni's behaviour).</summary>
    Inherit,

    /// <summary><c>PATH</c> and the CNI and trace variables only.</summary>
    Minimal,
}
