using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// Replays the sweeps of tools/resize_reference/generate.py (Pillow 9.4.0 and OpenCV 4.6.0 from Debian, run on the same
/// inputs): Fixtures/resize-sweep.txt holds, per case, the sizes, the input recipe and the first 16 hex digits of the
/// SHA-256 of the input and of the library's output bytes. Inputs are rebuilt here from the same splitmix64 stream or
/// from our own decode of the shared photos, so a wrong input and a wrong resize are told apart.
/// </summary>
public sealed class ResizeSweepTests(ITestOutputHelper output)
{
    private sealed record Case(string Resizer, string Dtype, int Sw, int Sh, int Cn, int Dw, int Dh, string Source, string InputHash, string OutputHash)
    {
        public override string ToString() => $"{Resizer} {Dtype} {Sw}x{Sh}x{Cn} -> {Dw}x{Dh} from {Source}";
    }

    private static readonly Lazy<List<Case>> Cases = new(() => FixtureLines("resize-sweep.txt")
        .Select(l => l.Split(' '))
        .Select(f => new Case(f[0], f[1], Int(f[2]), Int(f[3]), Int(f[4]), Int(f[5]), Int(f[6]), f[7], f[8], f[9]))
        .ToList());

    private static readonly ConcurrentDictionary<string, RgbImage> Photos = new();

    // INTER_AREA runs its decimation loops on 128-bit vectors where the scratch's level allows, on the reference loops
    // otherwise: both must give OpenCV's bytes. The other resizers have one form (the level is not used).
    [SkippableTheory]
    [InlineData("pil-nearest", "u8", SimdLevel.Scalar)]
    [InlineData("pil-bilinear", "u8", SimdLevel.Scalar)]
    [InlineData("cv-area", "f32", SimdLevel.Scalar)]
    [InlineData("cv-area", "f32", SimdLevel.Vector128)]
    [InlineData("cv-area", "f64", SimdLevel.Scalar)]
    [InlineData("cv-area", "f64", SimdLevel.Vector128)]
    [InlineData("cv-linear", "f32", SimdLevel.Scalar)]
    [InlineData("cv-linear", "f64", SimdLevel.Scalar)]
    public void Every_case_matches_the_library_bit_for_bit(string resizer, string dtype, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var cases = Cases.Value.Where(c => c.Resizer == resizer && c.Dtype == dtype).ToList();
        Assert.True(cases.Count >= 500, $"only {cases.Count} {resizer} {dtype} cases in the fixture");
        var failures = new List<string>();
        foreach (var c in cases)
        {
            var (input, result) = Run(c, level);
            if (input != c.InputHash)
            {
                failures.Add($"{c}: INPUT differs from the generator's ({input} vs {c.InputHash}): splitmix64 or photo decode");
            }
            else if (result != c.OutputHash)
            {
                failures.Add($"{c}: output {result}, expected {c.OutputHash}");
            }
        }

        output.WriteLine($"{resizer} {dtype}: {cases.Count - failures.Count} of {cases.Count} cases identical " +
            $"({cases.Count(c => c.Source.StartsWith("photo:", StringComparison.Ordinal))} photo crops, {cases.Count(c => c.Dw > c.Sw || c.Dh > c.Sh)} enlarging an axis)");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} {resizer} {dtype} cases differ; first ones:\n" + string.Join("\n", failures.Take(15)));
    }

    [Fact]
    public void Photos_decode_to_pillows_pixels_and_nearest_160_matches_load_img()
    {
        var failures = new List<string>();
        int count = 0;
        foreach (var f in FixtureLines("photos.txt").Select(l => l.Split(' ')))
        {
            var image = Photo(f[0]);
            count++;
            if ((image.Width, image.Height) != (Int(f[1]), Int(f[2])) || Sha256(image.Pixels) != f[3])
            {
                failures.Add($"{f[0]}: ImageDecoder.Decode gives {image.Width}x{image.Height} {Sha256(image.Pixels)[..16]}, Pillow {f[1]}x{f[2]} {f[3][..16]}");
                continue;
            }

            string resized = Sha256(Resize.PilNearest(image, 160, 160).Pixels);
            if (resized != f[4])
            {
                failures.Add($"{f[0]}: PilNearest 160x160 from {f[1]}x{f[2]} gives {resized[..16]}, Pillow {f[4][..16]}");
            }
        }

        output.WriteLine($"{count - failures.Count} of {count} photos: same pixels as Pillow, same 160x160 NEAREST");
        Assert.True(count >= 35, $"only {count} photos listed");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Nearest_indices_match_pillow_for_every_source_1_to_3000_and_target_1_to_400()
    {
        // Pillow's own tables (1-pixel-high mode "I" images holding their column numbers), one checksum per source length
        // over targets 1..400 and one per target over sources 1..3000; int16 little-endian, as the generator hashed them.
        var rows = new Dictionary<int, string>();
        var columns = new Dictionary<int, string>();
        foreach (var f in FixtureLines("pil-nearest-index.txt").Select(l => l.Split(' ')))
        {
            (f[0] == "s" ? rows : columns)[Int(f[1])] = f[2];
        }

        Assert.Equal(3000, rows.Count);
        Assert.Equal(400, columns.Count);
        var columnHashes = Enumerable.Range(0, 401).Select(_ => IncrementalHash.CreateHash(HashAlgorithmName.SHA256)).ToArray();
        var failedSources = new List<int>();
        var bytes = new byte[2 * 3000];
        for (int s = 1; s <= 3000; s++)
        {
            using var row = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (int t = 1; t <= 400; t++)
            {
                var indices = Resize.PilNearestIndices(s, t);
                for (int i = 0; i < t; i++)
                {
                    bytes[2 * i] = (byte)indices[i];
                    bytes[2 * i + 1] = (byte)(indices[i] >> 8);
                }

                row.AppendData(bytes, 0, 2 * t);
                columnHashes[t].AppendData(bytes, 0, 2 * t);
            }

            if (Hex16(row.GetHashAndReset()) != rows[s])
            {
                failedSources.Add(s);
            }
        }

        var failedTargets = Enumerable.Range(1, 400).Where(t => Hex16(columnHashes[t].GetHashAndReset()) != columns[t]).ToList();
        foreach (var h in columnHashes)
        {
            h.Dispose();
        }

        output.WriteLine($"{3000 - failedSources.Count} of 3000 source lengths and {400 - failedTargets.Count} of 400 target lengths identical");
        // A wrong table fails its source's row checksum and its target's column checksum, so the first failing pair is
        // (first failing source, one of the failing targets); it is exact when a single pair is wrong.
        Assert.True(failedSources.Count == 0 && failedTargets.Count == 0,
            $"NEAREST indices differ from Pillow's: first failing (source, target) = ({failedSources.FirstOrDefault()}, {failedTargets.FirstOrDefault()}); " +
            $"{failedSources.Count} source lengths fail (first {string.Join(", ", failedSources.Take(10))}), " +
            $"{failedTargets.Count} target lengths fail (first {string.Join(", ", failedTargets.Take(10))})");
    }

    [Fact]
    public void Splitmix64_is_the_reference_generator()
    {
        // splitmix64 seeded with 0: the first outputs of the reference implementation (Vigna's splitmix64.c).
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.Next());
        Assert.Equal(0x06C45D188009454FUL, rng.Next());
    }

    private static (string Input, string Output) Run(Case c, SimdLevel level)
    {
        switch (c.Resizer)
        {
            case "pil-nearest":
            case "pil-bilinear":
                var image = new RgbImage(c.Sw, c.Sh, BytesOf(c));
                var resized = c.Resizer == "pil-nearest" ? Resize.PilNearest(image, c.Dw, c.Dh) : Resize.PilBilinear(image, c.Dw, c.Dh);
                return (Hex16(SHA256.HashData(image.Pixels)), Hex16(SHA256.HashData(resized.Pixels)));
            default:
                return c.Dtype == "f32" ? RunOpenCv(c, FloatsOf<float>(c), level) : RunOpenCv(c, FloatsOf<double>(c), level);
        }
    }

    private static (string, string) RunOpenCv<T>(Case c, T[] input, SimdLevel level)
        where T : struct, IFloatingPointIeee754<T>
    {
        var result = new T[c.Dw * c.Dh * c.Cn];
        if (c.Resizer == "cv-area")
        {
            OpenCvResize.Area<T>(input, c.Sw, c.Sh, c.Cn, c.Dw, c.Dh, result, new ResizeScratch<T>(level));
        }
        else
        {
            result = OpenCvResize.Linear<T>(input, c.Sw, c.Sh, c.Cn, c.Dw, c.Dh);
        }

        return (Hex16(SHA256.HashData(MemoryMarshal.AsBytes(input.AsSpan()))), Hex16(SHA256.HashData(MemoryMarshal.AsBytes(result.AsSpan()))));
    }

    private static byte[] BytesOf(Case c)
    {
        int n = c.Sw * c.Sh * c.Cn;
        if (c.Source.StartsWith("noise:", StringComparison.Ordinal))
        {
            var rng = new SplitMix64(ulong.Parse(c.Source[6..], CultureInfo.InvariantCulture));
            var bytes = new byte[n];
            for (int i = 0; i < n; i++)
            {
                bytes[i] = (byte)rng.Next();
            }

            return bytes;
        }

        var parts = c.Source.Split(':');
        return Photo(parts[1]).Crop(Int(parts[2]), Int(parts[3]), Int(parts[2]) + c.Sw, Int(parts[3]) + c.Sh).Pixels;
    }

    private static T[] FloatsOf<T>(Case c)
        where T : struct, IFloatingPointIeee754<T>
    {
        int n = c.Sw * c.Sh * c.Cn;
        var values = new T[n];
        if (c.Source.StartsWith("noise:", StringComparison.Ordinal))
        {
            // Exact in T: (z >> 40) · 2^-16 − 128 has at most 23 significant bits, (z >> 11) · 2^-45 − 128 at most 52.
            var rng = new SplitMix64(ulong.Parse(c.Source[6..], CultureInfo.InvariantCulture));
            for (int i = 0; i < n; i++)
            {
                ulong z = rng.Next();
                values[i] = typeof(T) == typeof(float)
                    ? T.CreateChecked((z >> 40) * Math.ScaleB(1.0, -16) - 128)
                    : T.CreateChecked((z >> 11) * Math.ScaleB(1.0, -45) - 128);
            }
        }
        else if (c.Source == "pattern")
        {
            // The synthetic image of the former opencv-resize fixture, computed in double and rounded to T.
            for (int y = 0; y < c.Sh; y++)
            {
                for (int x = 0; x < c.Sw; x++)
                {
                    for (int ch = 0; ch < c.Cn; ch++)
                    {
                        values[(y * c.Sw + x) * c.Cn + ch] = T.CreateChecked(((x * 7 + y * 13 + ch * 5) % 256) + ((x * y + ch) % 7) / 8.0);
                    }
                }
            }
        }
        else
        {
            var bytes = BytesOf(c);
            T scale = T.CreateChecked(255);
            for (int i = 0; i < n; i++)
            {
                values[i] = T.CreateChecked(bytes[i]) / scale; // numpy: crop.astype(T) / T(255)
            }
        }

        return values;
    }

    private static RgbImage Photo(string relative) => Photos.GetOrAdd(relative, r => ImageDecoder.Decode(SharedData.PathOf(r.Split('/'))));

    private static IEnumerable<string> FixtureLines(string name) =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", name)).Where(l => l.Length > 0 && l[0] != '#');

    private static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Hex16(byte[] hash) => Convert.ToHexStringLower(hash)[..16];

    /// <summary>splitmix64 (Steele, Lea, Flood; Vigna's reference), mirrored by the Python generator.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
