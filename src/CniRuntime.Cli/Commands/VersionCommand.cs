using CniRuntime.Protocol;

namespace CniRuntime.Cli.Commands;

internal static class VersionCommand
{
    public static int Run()
    {
        Console.WriteLine($"cnirt: CNI spec {CniVersion.Current}, supports {string.Join(", ", CniVersion.All)}");
        return 0;
    }
}
