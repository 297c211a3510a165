namespace CniRuntime.Protocol;

/// <summary>The three wire shapes of a CNI result; versions within a shape differ only in their number.</summary>
internal enum ResultShape
{
    /// <summary>0.1.0 and 0.2.0: <c>ip4</c>, <c>ip6</c>, <c>dns</c>.</summary>
    Legacy,

    /// <summary>0.3.0, 0.3.1 and 0.4.0: <c>interfaces</c>, <c>ips</c> with <c>version</c>, <c>routes</c>, <c>dns</c>.</summary>
    Chained,

    /// <summary>1.0.0 and 1.1.0: no <c>ips[].version</c>; interface MTU, socket path and PCI id.</summary>
    Current,
}

/// <summary>Maps versions to shapes.</summary>
internal static class ResultShapes
{
    /// <summary>The shape of a version this library knows, or null.</summary>
    public static ResultShape? Of(CniVersion version) =>
        !version.IsKnown ? null
        : version < CniVersion.V030 ? ResultShape.Legacy
        : version < CniVersion.V100 ? ResultShape.Chained
        : ResultShape.Current;

    /// <summary>The shape of a version, or the error libcni gives for an unknown one.</summary>
    public static ResultShape Require(CniVersion version) =>
        Of(version) ?? throw Unsupported(version.ToString());

    /// <summary>The known version whose text is exactly <paramref name="text"/>, as libcni matches versions.</summary>
    public static CniVersion RequireExact(string text)
    {
        foreach (var version in CniVersion.All)
        {
            if (version.ToString() == text)
            {
                return version;
            }
        }

        throw Unsupported(text);
    }

    public static CniException Unsupported(string version) =>
        new(CniErrorCode.IncompatibleCniVersion, $"unsupported CNI result version \"{version}\"");
}
