using System.Security.Cryptography;
using System.Text;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Weights.Tests;

/// <summary>
/// The managed SHA-256 (used where OpenSSL is missing) gives the platform's bytes: the NIST vectors, every length around
/// the block and padding boundaries, any split into appended pieces, and HMAC with short and long keys.
/// </summary>
public sealed class Sha256Tests
{
    private static string Managed(ReadOnlySpan<byte> data)
    {
        var hash = default(ManagedSha256);
        hash.Append(data);
        var digest = new byte[32];
        hash.Finish(digest);
        return Convert.ToHexStringLower(digest);
    }

    [Theory]
    // FIPS 180-4 examples (NIST CSRC "SHA256.pdf") and the empty message.
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void Nist_vectors_are_reproduced(string message, string expected) =>
        Assert.Equal(expected, Managed(Encoding.ASCII.GetBytes(message)));

    [Fact]
    public void A_million_a_is_reproduced() =>
        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Managed(Enumerable.Repeat((byte)'a', 1_000_000).ToArray()));

    [Fact]
    public void Every_length_around_the_padding_boundaries_matches_the_platform()
    {
        var random = new Random(7);
        var data = new byte[300];
        random.NextBytes(data);
        // 0..300 covers one and several blocks, 55/56 (the length field still fits / does not) and 63/64/65.
        for (int length = 0; length <= data.Length; length++)
        {
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data.AsSpan(0, length))), Managed(data.AsSpan(0, length)));
        }
    }

    [Fact]
    public void Appending_in_pieces_gives_the_digest_of_the_whole()
    {
        var random = new Random(11);
        var data = new byte[5000];
        random.NextBytes(data);
        string whole = Convert.ToHexStringLower(SHA256.HashData(data));
        foreach (int piece in new[] { 1, 3, 55, 63, 64, 65, 127, 1000 })
        {
            var hash = default(ManagedSha256);
            for (int at = 0; at < data.Length; at += piece)
            {
                hash.Append(data.AsSpan(at, Math.Min(piece, data.Length - at)));
            }

            var digest = new byte[32];
            hash.Finish(digest);
            Assert.Equal(whole, Convert.ToHexStringLower(digest));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    [InlineData(64)]
    [InlineData(65)] // longer than a block: the key is hashed first
    [InlineData(131)]
    public void Hmac_matches_the_platform(int keyLength)
    {
        var random = new Random(keyLength);
        var key = new byte[keyLength];
        var body = new byte[777];
        random.NextBytes(key);
        random.NextBytes(body);
        Assert.Equal(HMACSHA256.HashData(key, body), ManagedHmac(key, body));
    }

    [Fact]
    public void Rfc4231_hmac_vector_is_reproduced()
    {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        var mac = ManagedHmac(Encoding.ASCII.GetBytes("Jefe"), Encoding.ASCII.GetBytes("what do ya want for nothing?"));
        Assert.Equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", Convert.ToHexStringLower(mac));
    }

    private static byte[] ManagedHmac(byte[] key, byte[] body) => ManagedSha256.Hmac(key, body);
}
