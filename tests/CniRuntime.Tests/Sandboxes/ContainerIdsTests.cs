using CniRuntime.Protocol;
using CniRuntime.Sandboxes;

namespace CniRuntime.Tests.Sandboxes;

/// <summary>Allocated container IDs and the unique-prefix lookup the CLI uses.</summary>
public sealed class ContainerIdsTests
{
    [Fact]
    public void New_ids_are_64_lowercase_hex_characters_that_pass_the_spec_rule_and_do_not_repeat()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => ContainerIds.New()).ToList();

        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{64}$", id));
        Assert.All(ids, CniNames.ValidateContainerId);
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());

        // Every hex digit shows up in every position over 1000 IDs; a weak or constant source would not.
        Assert.All(Enumerable.Range(0, 64), i => Assert.True(ids.Select(id => id[i]).Distinct().Count() >= 12, $"position {i} is not random"));
    }

    [Fact]
    public void A_unique_prefix_finds_its_id_and_an_unknown_one_finds_nothing()
    {
        string[] known = ["abc123", "abd999", "f00"];

        Assert.Equal("abc123", ContainerIds.ResolvePrefix("abc", known));
        Assert.Equal("abd999", ContainerIds.ResolvePrefix("abd9", known));
        Assert.Null(ContainerIds.ResolvePrefix("zzz", known));
        Assert.Null(ContainerIds.ResolvePrefix("abc1234", known));
    }

    [Fact]
    public void An_exact_id_wins_over_longer_ids_it_is_a_prefix_of()
    {
        Assert.Equal("abc", ContainerIds.ResolvePrefix("abc", ["abc", "abc1", "abc2"]));
    }

    [Fact]
    public void An_id_known_twice_is_not_ambiguous()
    {
        Assert.Equal("abc123", ContainerIds.ResolvePrefix("ab", ["abc123", "abc123"]));
    }

    [Fact]
    public void An_ambiguous_prefix_names_the_first_five_matches_in_order()
    {
        var known = Enumerable.Range(0, 7).Select(i => $"ab{6 - i}").ToList();

        var error = Assert.Throws<CniException>(() => ContainerIds.ResolvePrefix("ab", known));

        Assert.Equal("ID prefix \"ab\" is ambiguous: it matches ab0, ab1, ab2, ab3, ab4, …", error.Message);
        Assert.Equal(CniErrorCode.InvalidEnvironmentVariables, error.Code);
        Assert.Equal("ID prefix \"a\" is ambiguous: it matches ab0, ab1", Assert.Throws<CniException>(() => ContainerIds.ResolvePrefix("a", ["ab1", "ab0"])).Message);
    }

    [Fact]
    public void An_empty_prefix_is_refused()
    {
        var error = Assert.Throws<CniException>(() => ContainerIds.ResolvePrefix(string.Empty, ["abc"]));

        Assert.Equal("an empty ID prefix matches every sandbox", error.Message);
    }
}
