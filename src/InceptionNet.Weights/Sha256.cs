using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace InceptionNet.Weights;

/// <summary>
/// SHA-256 and HMAC-SHA256 that also work where OpenSSL is missing. On Linux .NET hashes through the system's libssl;
/// a device without it (a minimal or read-only image where nothing may be installed) would abort the process with "No
/// usable version of libssl was found" at the first hash — the weights digest every model load computes. There this
/// falls back to <see cref="ManagedSha256"/>, a plain FIPS 180-4 implementation, which gives the same bytes (tested
/// against the platform's on every awkward length and the NIST vectors) at a lower speed.
/// </summary>
public static class Sha256
{
    /// <summary>Digest length in bytes.</summary>
    public const int HashSizeInBytes = 32;

    /// <summary>The environment variable that forces the managed implementation (<c>1</c>), e.g. to test it.</summary>
    public const string ManagedVariable = "INCEPTIONNET_MANAGED_SHA256";

    /// <summary>Whether hashes go through the platform (OpenSSL on Linux) rather than the managed implementation.</summary>
    public static bool UsesPlatform { get; } = PlatformAvailable();

    /// <summary>The SHA-256 of <paramref name="data"/> into <paramref name="destination"/> (32 bytes).</summary>
    public static void HashData(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (UsesPlatform)
        {
            SHA256.HashData(data, destination);
            return;
        }

        var hash = new ManagedSha256();
        hash.Append(data);
        hash.Finish(destination);
    }

    /// <summary>The SHA-256 of <paramref name="data"/>.</summary>
    public static byte[] HashData(ReadOnlySpan<byte> data)
    {
        var result = new byte[HashSizeInBytes];
        HashData(data, result);
        return result;
    }

    /// <summary>HMAC-SHA256 (RFC 2104) of <paramref name="data"/> under <paramref name="key"/>.</summary>
    public static byte[] HmacData(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        if (UsesPlatform)
        {
            return HMACSHA256.HashData(key, data);
        }

        return ManagedSha256.Hmac(key, data);
    }

    /// <summary>A hash fed piece by piece (the platform's or the managed one, as <see cref="UsesPlatform"/> says).</summary>
    public static Sha256Incremental CreateIncremental() => new(UsesPlatform);

    private static bool PlatformAvailable()
    {
        if (Environment.GetEnvironmentVariable(ManagedVariable) == "1")
        {
            return false;
        }

        if (!OperatingSystem.IsLinux())
        {
            return true; // CNG on Windows, CommonCrypto on macOS: always there
        }

        // The names .NET's OpenSSL shim tries (newest first); loading one proves the shim will find it too.
        foreach (string name in new[] { "libssl.so.3", "libssl.so.1.1", "libssl.so.1.0.2", "libssl.so.1.0.0", "libssl.so.10" })
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                NativeLibrary.Free(handle);
                return true;
            }
        }

        return false;
    }
}

/// <summary>SHA-256 over data appended piece by piece; <see cref="GetHashAndReset"/> ends one message and starts the next.</summary>
public sealed class Sha256Incremental : IDisposable
{
    private readonly IncrementalHash? _platform;
    private ManagedSha256 _managed; // default: starts on first use

    internal Sha256Incremental(bool platform) => _platform = platform ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;

    /// <summary>Appends <paramref name="data"/> to the message.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (_platform is { } platform)
        {
            platform.AppendData(data);
        }
        else
        {
            _managed.Append(data);
        }
    }

    /// <summary>The digest of everything appended since the last reset; then starts over.</summary>
    public byte[] GetHashAndReset()
    {
        if (_platform is { } platform)
        {
            return platform.GetHashAndReset();
        }

        var result = new byte[Sha256.HashSizeInBytes];
        _managed.Finish(result);
        _managed = default;
        return result;
    }

    /// <inheritdoc />
    public void Dispose() => _platform?.Dispose();
}

/// <summary>
/// SHA-256 as FIPS 180-4 states it: 512-bit blocks, a 64-round compression over eight 32-bit words, the message padded
/// with a 1 bit, zeros and its bit length (big-endian). The reference for <see cref="Sha256"/> where OpenSSL is missing.
/// </summary>
public struct ManagedSha256
{
    /// <summary>Block length in bytes.</summary>
    public const int BlockBytes = 64;

    // FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static readonly uint[] RoundConstants =
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    private State _state;
    private Block _pending;
    private int _pendingLength;
    private ulong _length;
    private bool _started;

    /// <summary>HMAC-SHA256 (RFC 2104) of <paramref name="data"/> under <paramref name="key"/>, on this implementation.</summary>
    public static byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        Span<byte> padded = stackalloc byte[BlockBytes];
        padded.Clear();
        if (key.Length > BlockBytes)
        {
            var keyHash = default(ManagedSha256);
            keyHash.Append(key);
            keyHash.Finish(padded);
        }
        else
        {
            key.CopyTo(padded);
        }

        Span<byte> pad = stackalloc byte[BlockBytes];
        Span<byte> inner = stackalloc byte[Sha256.HashSizeInBytes];
        for (int i = 0; i < BlockBytes; i++)
        {
            pad[i] = (byte)(padded[i] ^ 0x36);
        }

        var hash = default(ManagedSha256);
        hash.Append(pad);
        hash.Append(data);
        hash.Finish(inner);
        for (int i = 0; i < BlockBytes; i++)
        {
            pad[i] = (byte)(padded[i] ^ 0x5c);
        }

        hash = default;
        hash.Append(pad);
        hash.Append(inner);
        var result = new byte[Sha256.HashSizeInBytes];
        hash.Finish(result);
        CryptographicOperations.ZeroMemory(padded);
        CryptographicOperations.ZeroMemory(pad);
        return result;
    }

    /// <summary>Appends <paramref name="data"/> to the message.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        Start();
        _length += (ulong)data.Length;
        Span<byte> pending = _pending;
        if (_pendingLength > 0)
        {
            int take = Math.Min(BlockBytes - _pendingLength, data.Length);
            data[..take].CopyTo(pending[_pendingLength..]);
            _pendingLength += take;
            data = data[take..];
            if (_pendingLength < BlockBytes)
            {
                return;
            }

            Compress(ref _state, pending);
            _pendingLength = 0;
        }

        for (; data.Length >= BlockBytes; data = data[BlockBytes..])
        {
            Compress(ref _state, data[..BlockBytes]);
        }

        data.CopyTo(pending);
        _pendingLength = data.Length;
    }

    /// <summary>Pads the message and writes its 32-byte digest to <paramref name="destination"/>.</summary>
    public void Finish(Span<byte> destination)
    {
        Start();
        ulong bits = _length * 8;
        Span<byte> pending = _pending;
        pending[_pendingLength++] = 0x80;
        if (_pendingLength > BlockBytes - 8)
        {
            pending[_pendingLength..].Clear();
            Compress(ref _state, pending);
            _pendingLength = 0;
        }

        pending[_pendingLength..(BlockBytes - 8)].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(pending[(BlockBytes - 8)..], bits);
        Compress(ref _state, pending);
        Span<uint> words = _state;
        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[(i * 4)..], words[i]);
        }
    }

    // FIPS 180-4 §5.3.3: the initial hash value, the square roots of the first 8 primes.
    private void Start()
    {
        if (_started)
        {
            return;
        }

        Span<uint> h = _state;
        h[0] = 0x6a09e667;
        h[1] = 0xbb67ae85;
        h[2] = 0x3c6ef372;
        h[3] = 0xa54ff53a;
        h[4] = 0x510e527f;
        h[5] = 0x9b05688c;
        h[6] = 0x1f83d9ab;
        h[7] = 0x5be0cd19;
        _started = true;
    }

    // FIPS 180-4 §6.2.2: the message schedule W[0..63], then 64 rounds over a..h, added into the state.
    private static void Compress(ref State state, ReadOnlySpan<byte> block)
    {
        Span<uint> w = stackalloc uint[64];
        for (int t = 0; t < 16; t++)
        {
            w[t] = BinaryPrimitives.ReadUInt32BigEndian(block[(t * 4)..]);
        }

        for (int t = 16; t < 64; t++)
        {
            uint s0 = BitOperations.RotateRight(w[t - 15], 7) ^ BitOperations.RotateRight(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint s1 = BitOperations.RotateRight(w[t - 2], 17) ^ BitOperations.RotateRight(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }

        Span<uint> h = state;
        uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++)
        {
            uint sum1 = BitOperations.RotateRight(e, 6) ^ BitOperations.RotateRight(e, 11) ^ BitOperations.RotateRight(e, 25);
            uint choose = (e & f) ^ (~e & g);
            uint t1 = hh + sum1 + choose + RoundConstants[t] + w[t];
            uint sum0 = BitOperations.RotateRight(a, 2) ^ BitOperations.RotateRight(a, 13) ^ BitOperations.RotateRight(a, 22);
            uint majority = (a & b) ^ (a & c) ^ (b & c);
            uint t2 = sum0 + majority;
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }

        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }

    [System.Runtime.CompilerServices.InlineArray(8)]
    private struct State
    {
        private uint _element;
    }

    [System.Runtime.CompilerServices.InlineArray(BlockBytes)]
    private struct Block
    {
        private byte _element;
    }
}
