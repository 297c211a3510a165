using System.Text;
using CniRuntime.Protocol;

namespace CniRuntime.Invocation;

/// <summary>
/// The <c>CNI_ARGS</c> variable: <c>K1=V1;K2=V2</c>. The format has no escaping, so keys and values that contain
/// <c>;</c> or <c>=</c> are refused rather than silently split wrong.
/// </summary>
public static class CniArgs
{
    /// <summary>Builds the variable's value from pairs, in order.</summary>
    /// <exception cref="CniException">A key is empty, or a key or value contains <c>;</c> or <c>=</c> (code 4).</exception>
    public static string Format(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var builder = new StringBuilder();
        foreach (var (key, value) in pairs)
        {
            if (string.IsNullOrEmpty(key) || key.AsSpan().IndexOfAny(';', '=') >= 0)
            {
                throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"invalid CNI_ARGS key \"{key}\": must be non-empty without ';' or '='");
            }

            if (value is null || value.AsSpan().IndexOfAny(';', '=') >= 0)
            {
                throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"invalid CNI_ARGS value \"{value}\" for key \"{key}\": must not contain ';' or '='");
            }

            if (builder.Length > 0)
            {
                builder.Append(';');
            }

            builder.Append(key).Append('=').Append(value);
        }

        return builder.ToString();
    }

    /// <summary>Parses the variable's value (as cnitool reads it from its environment); empty means no pairs.</summary>
    /// <exception cref="CniException">A pair is not exactly one <c>=</c> between a non-empty key and value (code 4).</exception>
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var pair in text.Split(';'))
        {
            var parts = pair.Split('=');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new CniException(CniErrorCode.InvalidEnvironmentVariables, $"invalid CNI_ARGS pair \"{pair}\"");
            }

            pairs.Add(new KeyValuePair<string, string>(parts[0], parts[1]));
        }

        return pairs;
    }
}
