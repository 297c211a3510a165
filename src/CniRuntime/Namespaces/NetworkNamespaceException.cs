using CniRuntime.Protocol;

namespace CniRuntime.Namespaces;

/// <summary>What went wrong with a network namespace operation.</summary>
public enum NetworkNamespaceError
{
    /// <summary>A system call failed for a reason not listed here (see <see cref="NetworkNamespaceException.Errno"/>).</summary>
    SystemError,

    /// <summary>The name is empty, contains '/', is <c>.</c> or <c>..</c>, or is longer than 255 bytes.</summary>
    InvalidName,

    /// <summary>A file with that name already exists in the namespace directory.</summary>
    AlreadyExists,

    /// <summary>The path does not exist.</summary>
    NotFound,

    /// <summary>The path exists but is not a network namespace (a regular file, an unmounted leftover, another namespace type).</summary>
    NotNetworkNamespace,

    /// <summary>The kernel refused: the caller lacks CAP_SYS_ADMIN (or write access to the directory).</summary>
    NotPermitted,

    /// <summary>Delete was asked to remove a file outside the namespace directory.</summary>
    OutsideDirectory,
}

/// <summary>
/// A network namespace could not be created, opened, entered or deleted. Identity problems (invalid name, exists,
/// missing, not a network namespace, outside the directory) carry <see cref="CniErrorCode.InvalidNetworkNamespace"/>
/// (8); privilege and other system-call failures carry <see cref="CniErrorCode.IoFailure"/> (5).
/// </summary>
public sealed class NetworkNamespaceException : CniException
{
    /// <summary>Creates the error.</summary>
    public NetworkNamespaceException(NetworkNamespaceError error, string path, string message, int? errno = null, Exception? innerException = null)
        : base(CodeOf(error), message, null, innerException)
    {
        Error = error;
        Path = path;
        Errno = errno;
    }

    /// <summary>Creates an unclassified error.</summary>
    public NetworkNamespaceException()
        : this(NetworkNamespaceError.SystemError, string.Empty, "network namespace operation failed")
    {
    }

    /// <summary>Creates an unclassified error.</summary>
    public NetworkNamespaceException(string message)
        : this(NetworkNamespaceError.SystemError, string.Empty, message)
    {
    }

    /// <summary>Creates an unclassified error with a cause.</summary>
    public NetworkNamespaceException(string message, Exception innerException)
        : this(NetworkNamespaceError.SystemError, string.Empty, message, null, innerException)
    {
    }

    /// <summary>What went wrong.</summary>
    public NetworkNamespaceError Error { get; }

    /// <summary>The namespace file (or name, for <see cref="NetworkNamespaceError.InvalidName"/>) involved.</summary>
    public string Path { get; }

    /// <summary>The errno of the failed system call, when one failed.</summary>
    public int? Errno { get; }

    private static CniErrorCode CodeOf(NetworkNamespaceError error) => error switch
    {
        NetworkNamespaceError.SystemError or NetworkNamespaceError.NotPermitted => CniErrorCode.IoFailure,
        _ => CniErrorCode.InvalidNetworkNamespace,
    };
}
