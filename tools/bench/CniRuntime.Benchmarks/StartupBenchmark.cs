namespace CniRuntime.Benchmarks;

/// <summary><c>cnirt version</c> against <c>/bin/true</c> (a process that does nothing), alternating.</summary>
internal static class StartupBenchmark
{
    /// <summary>Milliseconds of each run of /bin/true and of cnirt version, paired.</summary>
    public static async Task<(List<double> True, List<double> Version)> MeasureAsync(string cnirt, int iterations)
    {
        var trueMs = new List<double>();
        var versionMs = new List<double>();
        for (var i = -3; i < iterations; i++)
        {
            double t, v;
            if (i % 2 == 0)
            {
                t = await Shell.TimeAsync("/bin/true", []);
                v = await Shell.TimeAsync(cnirt, ["version"]);
            }
            else
            {
                v = await Shell.TimeAsync(cnirt, ["version"]);
                t = await Shell.TimeAsync("/bin/true", []);
            }

            if (i >= 0)
            {
                trueMs.Add(t);
                versionMs.Add(v);
            }
        }

        return (trueMs, versionMs);
    }
}
