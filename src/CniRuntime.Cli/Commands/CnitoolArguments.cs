namespace CniRuntime.Cli.Commands;

/// <summary>A cnitool command line: <c>add|check|del|status|gc &lt;network&gt; &lt;netns&gt; [-i NAME]</c> and the global flags.</summary>
internal sealed record CnitoolArguments(string Verb, string Network, string Netns, string? IfName, GlobalSettings Globals)
{
    /// <summary>The names of cnirt's commands; System.CommandLine reads them as commands wherever a command may stand.</summary>
    public static readonly string[] CommandNames =
        ["add", "check", "del", "status", "gc", "netns", "run", "rm", "recover", "ls", "inspect", "ports", "validate", "conformance", "version", "completion"];

    private static readonly string[] ValueOptions = ["--cni-path", "--conf-dir", "--cache-dir", "--timeout"];

    /// <summary>
    /// Reads a cnitool command line without building the command tree, which is a quarter of cnirt's start-up.
    /// Only the plain form is read: each flag once, its value in the next argument. Anything else (help, a flag
    /// given twice, <c>--flag=value</c>, <c>@file</c>, <c>--</c>, a value System.CommandLine could take for a
    /// command or a flag, a malformed duration, a missing argument) returns null, and System.CommandLine then
    /// gives its own answer; where this returns a value, System.CommandLine reads the same (a unit test holds both to that).
    /// </summary>
    public static CnitoolArguments? TryParse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? verb = null, ifName = null, timeoutText = null;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var positionals = new List<string>(2);
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (token is "--debug" or "--json")
            {
                // A boolean flag takes a following true/false as its value.
                if (!flags.Add(token) || (i + 1 < args.Count && bool.TryParse(args[i + 1], out _)))
                {
                    return null;
                }
            }
            else if (ValueOptions.Contains(token) || (verb is not null && token is "-i" or "--ifname"))
            {
                var name = token == "-i" ? "--ifname" : token;
                if (!flags.Add(name) || i + 1 == args.Count || !IsPlainValue(args[i + 1]))
                {
                    return null;
                }

                values[name] = args[++i];
            }
            else if (verb is null && CnitoolCommands.Verbs.Contains(token))
            {
                verb = token;
            }
            else if (verb is null || !IsPlainValue(token))
            {
                return null;
            }
            else
            {
                positionals.Add(token);
            }
        }

        values.TryGetValue("--ifname", out ifName);
        TimeSpan? timeout = null;
        if (values.TryGetValue("--timeout", out timeoutText) && (timeout = GlobalOptions.ParseDuration(timeoutText)) is null)
        {
            return null;
        }

        if (verb is null || positionals.Count != 2)
        {
            return null;
        }

        var globals = new GlobalSettings(
            values.GetValueOrDefault("--cni-path"),
            values.GetValueOrDefault("--conf-dir"),
            values.GetValueOrDefault("--cache-dir"),
            timeout,
            flags.Contains("--debug"),
            flags.Contains("--json"));
        return new CnitoolArguments(verb, positionals[0], positionals[1], ifName, globals);
    }

    // A value System.CommandLine cannot mistake for a flag, a help or version request, a directive, a response
    // file or a command.
    private static bool IsPlainValue(string token) =>
        !token.StartsWith('-') && !token.StartsWith('@') && !token.StartsWith('[') && token is not ("/h" or "/?")
        && !CommandNames.Contains(token);
}
