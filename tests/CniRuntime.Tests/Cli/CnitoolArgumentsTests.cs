using System.CommandLine;
using CniRuntime.Cli.Commands;
using CsCheck;

namespace CniRuntime.Tests.Cli;

/// <summary>The cnitool commands' fast argument reader agrees with System.CommandLine wherever it answers at all.</summary>
public sealed class CnitoolArgumentsTests
{
    private static readonly RootCommand Root = CniRuntime.Cli.Commands.Cli.Build();

    // What scripts and runtimes write, and what could confuse a reader: flags, values, commands, help, directives,
    // response files, separators, booleans, durations good and bad, empty strings.
    private static readonly string[] Tokens =
    [
        "add", "check", "del", "status", "gc", "version", "netns", "ls", "run", "validate",
        "--cache-dir", "--conf-dir", "--cni-path", "--timeout", "--debug", "--json", "-i", "--ifname",
        "--help", "-h", "/h", "/?", "-?", "--version", "--", "@args", "[diagram]", "--cache-dir=/c", "--timeout:5s", "-ieth1", "--no-such",
        "net1", "/run/netns/a", "/var/lib/x", "eth1", "30s", "500ms", "1m", "bogus", "0", "true", "False", "-x", string.Empty, "a b",
    ];

    [Theory]
    [InlineData("add net /run/netns/a")]
    [InlineData("del net /run/netns/a -i eth1")]
    [InlineData("--cache-dir /c --conf-dir /d --cni-path /p:/q --timeout 30s check net /run/netns/a --ifname net1")]
    [InlineData("status net ns --debug --json")]
    [InlineData("gc --timeout 500ms net /run/netns/a")]
    public void The_plain_forms_are_read_without_the_command_tree(string line)
    {
        var args = line.Split(' ');

        var fast = CnitoolArguments.TryParse(args);

        Assert.NotNull(fast);
        Assert.Equal(FromCommandTree(args), fast);
    }

    [Theory]
    [InlineData("add net")]
    [InlineData("add net /run/netns/a extra")]
    [InlineData("add --help")]
    [InlineData("add net /run/netns/a -i eth1 -i eth2")]
    [InlineData("add net /run/netns/a --timeout soon")]
    [InlineData("--cache-dir=/c add net /run/netns/a")]
    [InlineData("-i eth1 add net /run/netns/a")]
    [InlineData("add net /run/netns/a --debug true")]
    [InlineData("ls")]
    [InlineData("netns add x")]
    public void Anything_else_is_left_to_System_CommandLine(string line) =>
        Assert.Null(CnitoolArguments.TryParse(line.Split(' ')));

    [Fact]
    public void Wherever_it_answers_System_CommandLine_reads_the_same() =>
        Gen.Int[0, Tokens.Length - 1].Select(i => Tokens[i]).Array[0, 9].Sample(
            args =>
            {
                if (CnitoolArguments.TryParse(args) is { } fast)
                {
                    Assert.Equal(FromCommandTree(args), fast);
                }
            },
            iter: 50_000);

    [Fact]
    public void Every_plain_line_is_read_fast_and_as_System_CommandLine_reads_it() =>
        Gen.Int.Sample(
            seed =>
            {
                var args = PlainLine(new Random(seed));
                Assert.Equal(FromCommandTree(args), CnitoolArguments.TryParse(args) ?? throw new InvalidOperationException("not read fast: " + string.Join(' ', args)));
            },
            iter: 5_000);

    /// <summary>A verb, its two arguments and some of the flags, each once with a plain value, in any order cnitool allows.</summary>
    private static string[] PlainLine(Random random)
    {
        string[] values = ["net1", "/run/netns/a", "/var/lib/x", "eth1", "bogus", "0", "a b"];
        string Value() => values[random.Next(values.Length)];
        var before = new List<string>();
        var after = new List<string[]>();
        foreach (var flag in (string[])["--cache-dir", "--conf-dir", "--cni-path", "--timeout", "--debug", "--json", "-i"])
        {
            if (random.Next(2) == 0)
            {
                continue;
            }

            string[] tokens = flag switch
            {
                "--debug" or "--json" => [flag],
                "--timeout" => [flag, ((string[])["30s", "500ms", "1m", "90"])[random.Next(4)]],
                _ => [flag, Value()],
            };
            if (flag != "-i" && random.Next(2) == 0)
            {
                before.AddRange(tokens);
            }
            else
            {
                after.Add(tokens);
            }
        }

        // The two arguments keep their order; flags may stand between them.
        var at = random.Next(after.Count + 1);
        after.Insert(at, [Value()]);
        after.Insert(random.Next(at + 1, after.Count + 1), [Value()]);
        return [.. before, CnitoolCommands.Verbs[random.Next(CnitoolCommands.Verbs.Length)], .. after.SelectMany(group => group)];
    }

    [Fact]
    public void The_command_names_are_the_command_trees() =>
        Assert.Equal(Root.Subcommands.Select(c => c.Name).Order(StringComparer.Ordinal), CnitoolArguments.CommandNames.Order(StringComparer.Ordinal));

    /// <summary>What System.CommandLine makes of the line, when it is a valid cnitool command; otherwise null.</summary>
    private static CnitoolArguments? FromCommandTree(string[] args)
    {
        var parse = Root.Parse(args);
        if (parse.Errors.Count > 0 || parse.CommandResult.Command is not { } command || !Root.Subcommands.Contains(command) || !CnitoolCommands.Verbs.Contains(command.Name)
            || parse.Action is not { } action || action.GetType().Name.Contains("Help", StringComparison.Ordinal))
        {
            return null;
        }

        var network = (Argument<string>)command.Arguments[0];
        var netns = (Argument<string>)command.Arguments[1];
        var ifName = (Option<string?>)command.Options.Single(o => o.Name == "--ifname");
        return new CnitoolArguments(command.Name, parse.GetRequiredValue(network), parse.GetRequiredValue(netns), parse.GetValue(ifName), GlobalSettings.From(parse));
    }
}
