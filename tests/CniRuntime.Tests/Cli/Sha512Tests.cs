using System.Security.Cryptography;
using CniRuntime.Cli.Commands;
using CsCheck;

namespace CniRuntime.Tests.Cli;

/// <summary>The managed SHA-512 behind cnitool's container IDs agrees with the platform's.</summary>
public sealed class Sha512Tests
{
    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("/run/netns/test")]
    [InlineData("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")]
    public void Known_inputs_match(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);

        Assert.Equal(Convert.ToHexString(SHA512.HashData(bytes)), Convert.ToHexString(CniRuntime.Cli.Hashing.Sha512.HashData(bytes)));
    }

    [Fact]
    public void Every_length_around_the_block_boundaries_matches() =>
        Gen.Byte.Array[0, 400].Sample(bytes => Assert.Equal(SHA512.HashData(bytes), CniRuntime.Cli.Hashing.Sha512.HashData(bytes)), iter: 2_000);

    [Fact]
    public void The_container_id_is_cnitools()
    {
        var expected = "cnitool-" + Convert.ToHexStringLower(SHA512.HashData("/run/netns/test"u8).AsSpan(0, 10));

        Assert.Equal(expected, CnitoolCommands.ContainerIdFor("/run/netns/test"));
    }
}
