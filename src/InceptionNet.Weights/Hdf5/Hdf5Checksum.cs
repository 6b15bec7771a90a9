using System.Numerics;

namespace InceptionNet.Weights.Hdf5;

/// <summary>
/// The checksum of HDF5's version 2 structures (superblocks 2 and 3, OHDR and OCHK blocks): Bob Jenkins's lookup3
/// <c>hashlittle</c> with initial value 0, over the bytes before the stored 4-byte little-endian checksum.
/// </summary>
internal static class Hdf5Checksum
{
    public static uint Lookup3(ReadOnlySpan<byte> k)
    {
        uint a, b, c;
        a = b = c = 0xdeadbeef + (uint)k.Length;
        while (k.Length > 12)
        {
            a += Word(k, 0);
            b += Word(k, 4);
            c += Word(k, 8);

            // mix(a, b, c)
            a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
            b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
            c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
            a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
            b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
            c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
            k = k[12..];
        }

        if (k.IsEmpty)
        {
            return c;
        }

        // The last 1–12 bytes, zero-padded, as three little-endian words.
        Span<byte> tail = stackalloc byte[12];
        tail.Clear();
        k.CopyTo(tail);
        a += Word(tail, 0);
        b += Word(tail, 4);
        c += Word(tail, 8);

        // final(a, b, c)
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
        return c;
    }

    private static uint Word(ReadOnlySpan<byte> k, int at) =>
        k[at] | ((uint)k[at + 1] << 8) | ((uint)k[at + 2] << 16) | ((uint)k[at + 3] << 24);
}
