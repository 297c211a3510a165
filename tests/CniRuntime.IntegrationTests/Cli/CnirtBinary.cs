using System.Diagnostics;
using System.Globalization;

namespace CniRuntime.IntegrationTests.Cli;

/// <summary>What one run of the cnirt binary did.</summary>
public sealed record CnirtRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
}

/// <summary>
/// The published Native AOT binary, <c>artifacts/cnirt</c>. tools/test.sh builds it (tools/build.sh) before entering
/// the test sandbox, where NuGet is unreachable; when it is missing, the first test runs tools/build.sh itself, which
/// works offline once the AOT packages are in the NuGet cache.
/// </summary>
public static class CnirtBinary
{
    private static readonly Lazy<string> Binary = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public static string RepositoryRoot { get; } = FindRoot();

    public static string Path => Binary.Value;

    /// <summary>Runs cnirt with a clean CNI environment plus <paramref name="environment"/>.</summary>
    public static async Task<CnirtRun> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in new[] { "NETCONFPATH", "CNI_PATH", "CNI_ARGS", "CAP_ARGS", "CNI_IFNAME" })
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cnirt did not start");
        using var timeout = new CancellationTokenSource(Timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"cnirt {string.Join(' ', arguments)} did not finish within {Timeout}");
        }

        return new CnirtRun(process.ExitCode, await stdout, await stderr);
    }

    public static Task<CnirtRun> RunAsync(params string[] arguments) => RunAsync(null, arguments);

    private static string Locate()
    {
        var binary = System.IO.Path.Combine(RepositoryRoot, "artifacts", "cnirt");
        if (!File.Exists(binary))
        {
            var build = Process.Start(new ProcessStartInfo(System.IO.Path.Combine(RepositoryRoot, "tools", "build.sh")) { UseShellExecute = false })
                ?? throw new InvalidOperationException("tools/build.sh did not start");
            build.WaitForExit();
            if (build.ExitCode != 0 || !File.Exists(binary))
            {
                throw new InvalidOperationException($"{binary} is missing and tools/build.sh failed (exit {build.ExitCode}); run tools/build.sh outside the sandbox");
            }
        }

        return binary;
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "CniRuntime.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (CniRuntime.sln) is not above " + AppContext.BaseDirectory);
    }
}
