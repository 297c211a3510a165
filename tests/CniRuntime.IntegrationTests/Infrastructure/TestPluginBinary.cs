using CniRuntime.IntegrationTests.Cli;

namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>The scriptable test plugin's apphost (tests/CniRuntime.TestPlugin), built in this assembly's configuration.</summary>
public static class TestPluginBinary
{
    /// <exception cref="InvalidOperationException">It is not built.</exception>
    public static string Path
    {
        get
        {
            // AppContext.BaseDirectory is tests/CniRuntime.IntegrationTests/bin/<Configuration>/<tfm>/.
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
            var path = System.IO.Path.Combine(CnirtBinary.RepositoryRoot, "tests", "CniRuntime.TestPlugin", "bin", tfm.Parent!.Name, tfm.Name, "CniRuntime.TestPlugin");
            return File.Exists(path) ? path : throw new InvalidOperationException($"the test plugin is not built at {path}");
        }
    }
}
