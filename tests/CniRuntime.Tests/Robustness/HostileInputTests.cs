using System.Text;
using CniRuntime.Caching;
using CniRuntime.Configuration;
using CniRuntime.Invocation;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;
using CsCheck;

namespace CniRuntime.Tests.Robustness;

/// <summary>
/// Every parser that reads what others wrote (configurations, plugin results, VERSION replies, error objects, cache
/// files, CNI_ARGS, CAP_ARGS) ends in a value or a <see cref="CniException"/> on any input: random bytes and
/// mutations of the valid test data, 20,000 per property and 140,000 in all by default. Never another exception.
/// </summary>
public sealed class HostileInputTests
{
    private static readonly byte[][] Seeds =
    [
        .. Directory.EnumerateFiles(TestData.Path("conflists", "valid"), "*.conflist").Select(File.ReadAllBytes),
        .. Directory.EnumerateFiles(TestData.Path("results"), "*.json", SearchOption.AllDirectories).Select(File.ReadAllBytes),
        """{"kind":"cniCacheV1","containerId":"c","config":"e30=","ifName":"eth0","networkName":"n","cniArgs":[["a","b"]],"result":{"cniVersion":"1.0.0"}}"""u8.ToArray(),
        """{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0"]}"""u8.ToArray(),
        """{"code":7,"msg":"bad","details":"x"}"""u8.ToArray(),
    ];

    // Byte mutations that keep most of the structure: replace, insert, delete, or splice in JSON punctuation.
    private static readonly Gen<byte[]> Mutated =
        Gen.Int[0, Seeds.Length - 1].SelectMany(seed => Gen.Int[1, 8].SelectMany(edits =>
            Gen.Select(Gen.Int.Array[edits], Gen.Byte.Array[edits], Gen.Int[0, 3].Array[edits], (positions, values, kinds) =>
            {
                var bytes = new List<byte>(Seeds[seed]);
                for (var i = 0; i < edits; i++)
                {
                    var at = bytes.Count == 0 ? 0 : (int)((uint)positions[i] % (uint)bytes.Count);
                    var punctuation = "{}[]\":,\\0-e"u8[values[i] % 11];
                    switch (kinds[i])
                    {
                        case 0 when bytes.Count > 0: bytes[at] = values[i]; break;
                        case 1: bytes.Insert(at, punctuation); break;
                        case 2 when bytes.Count > 0: bytes.RemoveAt(at); break;
                        default: bytes.Insert(at, values[i]); break;
                    }
                }

                return bytes.ToArray();
            })));

    private static readonly Gen<byte[]> Inputs = Gen.OneOf(Mutated, Gen.Byte.Array[0, 300]);

    // 20,000 per property in every run; CNIRT_FUZZ_ITERATIONS raises it for a longer search.
    private static readonly long Iterations =
        long.TryParse(Environment.GetEnvironmentVariable("CNIRT_FUZZ_ITERATIONS"), out var iterations) ? iterations : 20_000;

    private static void OnlyCniExceptions(Action parse)
    {
        try
        {
            parse();
        }
        catch (CniException)
        {
        }
    }

    [Fact]
    public void Configuration_lists_and_plugin_configurations() =>
        Inputs.Sample(bytes =>
        {
            OnlyCniExceptions(() => NetworkConfigList.Parse(bytes, "fuzz.conflist").GetVersion());
            OnlyCniExceptions(() => PluginConfig.Parse(bytes, "fuzz.conf"));
        }, iter: Iterations);

    [Fact]
    public void Plugin_results_and_their_conversions() =>
        Inputs.Sample(bytes => OnlyCniExceptions(() =>
        {
            var result = CniResultJson.Parse(bytes, CniVersion.V100);
            foreach (var version in CniVersion.All)
            {
                OnlyCniExceptions(() => CniResultJson.ToUtf8Bytes(result.ConvertTo(version)));
            }
        }), iter: Iterations);

    [Fact]
    public void Version_replies_error_objects_and_cache_files() =>
        Inputs.Sample(bytes =>
        {
            OnlyCniExceptions(() => PluginVersionInfo.Parse(bytes));
            OnlyCniExceptions(() => PluginOutput.Interpret(new PluginProcessResult(1, bytes, "stderr"), "/fuzz/plugin"));
            OnlyCniExceptions(() => PluginOutput.Interpret(new PluginProcessResult(0, bytes, string.Empty), "/fuzz/plugin"));
            OnlyCniExceptions(() => ResultCache.Serialize(ResultCache.Parse(bytes, "/fuzz/cache", "n", "c", "eth0")));
        }, iter: Iterations);

    [Fact]
    public void CNI_ARGS_text() =>
        Gen.String.Sample(text => OnlyCniExceptions(() => CniArgs.Format(CniArgs.Parse(text))), iter: Iterations);

    [Fact]
    public void CAP_ARGS_text() =>
        Gen.OneOf(Gen.String, Inputs.Select(bytes => Encoding.UTF8.GetString(bytes))).Sample(
            text => OnlyCniExceptions(() => CniRuntime.Cli.Commands.CnitoolCommands.ParseCapabilityArgs(text)),
            iter: Iterations);

    [Fact]
    public void A_capability_given_twice_in_CAP_ARGS_keeps_its_last_value() =>
        Assert.Equal(2, CniRuntime.Cli.Commands.CnitoolCommands.ParseCapabilityArgs("""{"mac":1,"mac":2}""")["mac"].GetInt32());

    [Fact]
    public void Version_strings() =>
        Gen.String.Sample(text => OnlyCniExceptions(() => CniVersion.Parse(text)), iter: Iterations);

    [Fact]
    public void The_mutations_reach_past_the_first_error()
    {
        // Guard against a generator that only ever produces garbage: some mutations must still parse.
        var parsed = 0;
        Mutated.Sample(bytes =>
        {
            try
            {
                NetworkConfigList.Parse(bytes);
                parsed++;
            }
            catch (CniException)
            {
            }
        }, iter: 2_000);

        Assert.True(parsed > 0);
        _ = Encoding.UTF8;
    }
}
