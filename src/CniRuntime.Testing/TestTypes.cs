using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace CniRuntime.Testing;

/// <summary>A network namespace made for a test, under <c>/run/netns</c> (so <c>ip netns</c> sees it).</summary>
/// <param name="Name">The name under /run/netns.</param>
public sealed record TestNamespace(string Name)
{
    /// <summary>The bind-mounted namespace file, which is what <c>CNI_NETNS</c> carries.</summary>
    public string Path => "/run/netns/" + Name;
}

/// <summary>An IPv4 /24 no other test of the process uses: <c>10.A.B.0/24</c>.</summary>
/// <param name="Prefix">The first three octets (<c>10.130.7</c>).</param>
public sealed record Subnet(string Prefix)
{
    /// <summary>The subnet in CIDR form.</summary>
    public string Cidr => Prefix + ".0/24";

    /// <summary>The address with host part <paramref name="n"/>.</summary>
    public string Host(int n) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}.{n}");
}

/// <summary>A test assertion about a plugin's behaviour failed; the message says what was expected and what was found.</summary>
public sealed class CniTestAssertionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CniTestAssertionException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public CniTestAssertionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public CniTestAssertionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A program a test runs in the background (a DHCP server, a plugin's daemon): started in a namespace, its output
/// kept for diagnostics, killed and reaped on dispose.
/// </summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    internal BackgroundProcess(string program, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        CommandLine = program + " " + string.Join(' ', arguments);
        _process = Process.Start(start) ?? throw new InvalidOperationException(CommandLine + " did not start");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>How it was started.</summary>
    public string CommandLine { get; }

    /// <summary>True while it runs.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Everything it printed so far (stdout and stderr interleaved).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Kills it (and its children) and waits for it to exit.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
