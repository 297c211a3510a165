using CniRuntime.IntegrationTests.Infrastructure;
using System.Diagnostics;
using System.Globalization;

namespace CniRuntime.IntegrationTests.Cli;

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
    public static Task<ProcessRun> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        // cnitool's variables are cleared, so only what the test sets reaches cnirt.
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["NETCONFPATH"] = null,
            ["CNI_PATH"] = null,
            ["CNI_ARGS"] = null,
            ["CAP_ARGS"] = null,
            ["CNI_IFNAME"] = null,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        return ProcessRunner.RunAsync(Path, arguments, Timeout, variables);
    }

    public static Task<ProcessRun> RunAsync(params string[] arguments) => RunAsync(null, arguments);

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
