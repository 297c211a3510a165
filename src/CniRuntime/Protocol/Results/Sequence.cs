using System.Collections.Immutable;

namespace CniRuntime.Protocol;

/// <summary>Hashing of list contents, so records holding lists compare by value.</summary>
internal static class Sequence
{
    public static void AddAll<T>(ref HashCode hash, ImmutableArray<T> items)
    {
        hash.Add(items.Length);
        foreach (var item in items)
        {
            hash.Add(item);
        }
    }
}
