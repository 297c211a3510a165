using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace CniRuntime.Protocol;

/// <summary>A CNI specification version (<c>major.minor.patch</c>), ordered numerically.</summary>
/// <remarks>
/// Parsing follows libcni: an empty string means 0.1.0 (configurations older than the <c>cniVersion</c> key), one
/// to three dot-separated non-negative integers are accepted and missing parts are zero, anything else is an error.
/// </remarks>
public readonly record struct CniVersion(int Major, int Minor, int Patch) : IComparable<CniVersion>
{
    /// <summary>0.1.0, the version of a configuration that names none.</summary>
    public static readonly CniVersion V010 = new(0, 1, 0);

    /// <summary>0.2.0, which added VERSION.</summary>
    public static readonly CniVersion V020 = new(0, 2, 0);

    /// <summary>0.3.0, which added chaining and the <c>ips</c>/<c>interfaces</c> result.</summary>
    public static readonly CniVersion V030 = new(0, 3, 0);

    /// <summary>0.3.1.</summary>
    public static readonly CniVersion V031 = new(0, 3, 1);

    /// <summary>0.4.0, which added CHECK and <c>prevResult</c> on DEL.</summary>
    public static readonly CniVersion V040 = new(0, 4, 0);

    /// <summary>1.0.0, which dropped <c>ips[].version</c>.</summary>
    public static readonly CniVersion V100 = new(1, 0, 0);

    /// <summary>1.1.0, which added STATUS, GC and <c>cniVersions</c>.</summary>
    public static readonly CniVersion V110 = new(1, 1, 0);

    /// <summary>The newest version this library implements.</summary>
    public static CniVersion Current => V110;

    /// <summary>Every version this library can speak, oldest first.</summary>
    public static IReadOnlyList<CniVersion> All { get; } = [V010, V020, V030, V031, V040, V100, V110];

    /// <summary>True when this library implements the version exactly.</summary>
    public bool IsKnown => All.Contains(this);

    /// <summary>Parses a version string.</summary>
    /// <exception cref="CniException">Code 1 (incompatible version) when the text is not a version.</exception>
    public static CniVersion Parse(string? text)
    {
        if (TryParse(text, out var version))
        {
            return version;
        }

        throw new CniException(CniErrorCode.IncompatibleCniVersion, $"invalid version \"{text}\": expected major.minor.patch");
    }

    /// <summary>Parses a version string without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out CniVersion version)
    {
        version = default;
        if (text is null)
        {
            return false;
        }

        if (text.Length == 0)
        {
            version = V010;
            return true;
        }

        Span<Range> parts = stackalloc Range[4];
        var count = text.AsSpan().Split(parts, '.');
        if (count is < 1 or > 3)
        {
            return false;
        }

        Span<int> numbers = [0, 0, 0];
        for (var i = 0; i < count; i++)
        {
            var part = text.AsSpan(parts[i]);
            if (part.Length == 0 || !int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                return false;
            }
        }

        version = new CniVersion(numbers[0], numbers[1], numbers[2]);
        return true;
    }

    /// <inheritdoc />
    public int CompareTo(CniVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major)
        : Minor != other.Minor ? Minor.CompareTo(other.Minor)
        : Patch.CompareTo(other.Patch);

    /// <summary>Orders versions.</summary>
    public static bool operator <(CniVersion left, CniVersion right) => left.CompareTo(right) < 0;

    /// <summary>Orders versions.</summary>
    public static bool operator >(CniVersion left, CniVersion right) => left.CompareTo(right) > 0;

    /// <summary>Orders versions.</summary>
    public static bool operator <=(CniVersion left, CniVersion right) => left.CompareTo(right) <= 0;

    /// <summary>Orders versions.</summary>
    public static bool operator >=(CniVersion left, CniVersion right) => left.CompareTo(right) >= 0;

    /// <summary>The canonical text, e.g. <c>1.0.0</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");
}
