namespace CniRuntime.Invocation;

/// <summary>The values of <c>CNI_COMMAND</c>.</summary>
public static class CniCommand
{
    /// <summary>Attach a container to a network.</summary>
    public const string Add = "ADD";

    /// <summary>Detach a container from a network.</summary>
    public const string Del = "DEL";

    /// <summary>Check that an attachment is as expected (0.4.0 and later).</summary>
    public const string Check = "CHECK";

    /// <summary>Report whether the plugin can serve ADD (1.1.0).</summary>
    public const string Status = "STATUS";

    /// <summary>Release resources of attachments that no longer exist (1.1.0).</summary>
    public const string Gc = "GC";

    /// <summary>Report the versions the plugin supports.</summary>
    public const string Version = "VERSION";
}
