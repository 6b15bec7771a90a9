using System.Security.Cryptography;

namespace InceptionNet.Weights;

/// <summary>
/// Cryptographically secure random bytes that also work where OpenSSL is missing (see <see cref="Sha256"/>): .NET's
/// <see cref="RandomNumberGenerator"/> goes through libssl on Linux and aborts the process without it; there the bytes
/// come from the kernel's <c>/dev/urandom</c> instead, which is what OpenSSL seeds from.
/// </summary>
public static class SecureRandom
{
    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    public static void Fill(Span<byte> destination)
    {
        if (Sha256.UsesPlatform)
        {
            RandomNumberGenerator.Fill(destination);
            return;
        }

        using var source = new FileStream("/dev/urandom", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        source.ReadExactly(destination);
    }

    /// <summary><paramref name="count"/> random bytes.</summary>
    public static byte[] GetBytes(int count)
    {
        var bytes = new byte[count];
        Fill(bytes);
        return bytes;
    }
}
