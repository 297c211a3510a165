using System.CommandLine;
using System.Text;

namespace CniRuntime.Cli.Commands;

/// <summary>
/// <c>cnirt completion bash|zsh</c>: a static completion script generated from the command tree (System.CommandLine
/// itself only offers the dotnet-suggest protocol, which needs a global tool).
/// </summary>
internal static class CompletionCommand
{
    public static Command Create(RootCommand root)
    {
        var shell = new Argument<string>("shell") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script: source <(cnirt completion bash)") { shell };
        command.SetAction(parse =>
        {
            Console.Write(Script(root, parse.GetRequiredValue(shell)));
            return Cli.Ok;
        });
        return command;
    }

    public static string Script(RootCommand root, string shell)
    {
        // One case per command path: "netns" completes its subcommands, leaves complete their options.
        var cases = new StringBuilder();
        var globals = string.Join(' ', root.Options.Where(o => o.Recursive).Select(o => o.Name));
        void Walk(Command command, string path)
        {
            var words = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name)
                .Concat(command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)));
            cases.Append($"    \"{path}\") words=\"{string.Join(' ', words)} {globals}\" ;;\n");
            foreach (var sub in command.Subcommands)
            {
                Walk(sub, path.Length == 0 ? sub.Name : path + " " + sub.Name);
            }
        }

        Walk(root, string.Empty);
        var body = $$"""
            _cnirt_words() {
              local path="$1" words
              case "$path" in
            {{cases}}    *) words="" ;;
              esac
              echo "$words"
            }
            """;
        return shell == "bash"
            ? $$"""
                # bash completion for cnirt: source <(cnirt completion bash)
                {{body}}
                _cnirt() {
                  local cur="${COMP_WORDS[COMP_CWORD]}" path="" i w
                  for ((i = 1; i < COMP_CWORD; i++)); do
                    w="${COMP_WORDS[i]}"
                    [[ "$w" == -* ]] && continue
                    [[ -n "$(_cnirt_words "${path:+$path }$w")" ]] && path="${path:+$path }$w"
                  done
                  COMPREPLY=($(compgen -W "$(_cnirt_words "$path")" -- "$cur"))
                }
                complete -o default -F _cnirt cnirt

                """
            : $$"""
                #compdef cnirt
                # zsh completion for cnirt: source <(cnirt completion zsh)
                {{body}}
                _cnirt() {
                  local path="" w
                  for w in "${(@)words[2,CURRENT-1]}"; do
                    [[ "$w" == -* ]] && continue
                    [[ -n "$(_cnirt_words "${path:+$path }$w")" ]] && path="${path:+$path }$w"
                  done
                  compadd -- ${=$(_cnirt_words "$path")}
                  _files
                }
                compdef _cnirt cnirt

                """;
    }
}
