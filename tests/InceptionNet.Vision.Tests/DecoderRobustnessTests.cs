using System.Diagnostics;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

/// <summary>Damaged files of every kind must give <see cref="InvalidImageException"/> or a well-formed image: no other exception, no hang, no huge allocation.</summary>
public sealed class DecoderRobustnessTests(ITestOutputHelper output)
{
    private static readonly string[] Files = Directory.GetFiles(SharedData.PathOf("images"), "*.*", SearchOption.AllDirectories)
        .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
        .Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Random_byte_flips_of_every_shared_image_never_crash_or_hang()
    {
        var random = new Random(20261123);
        int refused = 0, decoded = 0;
        var slowest = TimeSpan.Zero;
        foreach (string file in Files)
        {
            byte[] original = File.ReadAllBytes(file);
            int perFile = original.Length > 300_000 ? 4 : 8; // the big photos take longer to decode; keep the suite short
            for (int i = 0; i < perFile; i++)
            {
                var bytes = (byte[])original.Clone();
                int flips = 1 + random.Next(8);
                for (int f = 0; f < flips; f++)
                {
                    // Bias towards the headers, where a flip changes structure rather than pixels.
                    int at = random.Next(2) == 0 ? random.Next(2, Math.Min(bytes.Length, 700)) : random.Next(2, bytes.Length);
                    bytes[at] = (byte)random.Next(256);
                }

                var (ok, elapsed) = Attempt(bytes, $"{Path.GetFileName(file)}#{i}");
                slowest = elapsed > slowest ? elapsed : slowest;
                if (ok)
                {
                    decoded++;
                }
                else
                {
                    refused++;
                }
            }
        }

        output.WriteLine($"{refused + decoded} mutated files: {refused} refused, {decoded} decoded; slowest {slowest.TotalMilliseconds:F0} ms");
        Assert.True(refused + decoded >= 200);
    }

    [Fact]
    public void Every_truncation_point_of_a_small_jpeg_is_handled()
    {
        byte[] original = File.ReadAllBytes(SharedData.CourseImageFile("kian"));
        for (int length = 0; length < original.Length; length += 7)
        {
            Attempt(original[..length], $"kian.jpg[..{length}]");
        }
    }

    [Fact]
    public void Wrong_markers_and_unsupported_kinds_have_clear_messages()
    {
        byte[] original = File.ReadAllBytes(SharedData.CourseImageFile("kian"));
        int sof = Array.FindIndex(original, 2, b => b == 0xC0 || b == 0xC2);
        while (original[sof - 1] != 0xFF)
        {
            sof = Array.FindIndex(original, sof + 1, b => b == 0xC0 || b == 0xC2);
        }

        var arithmetic = (byte[])original.Clone();
        arithmetic[sof] = 0xC9;
        Assert.Contains("arithmetic-coded JPEG is not supported", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(arithmetic, "a.jpg")).Message, StringComparison.Ordinal);
        var lossless = (byte[])original.Clone();
        lossless[sof] = 0xC3;
        Assert.Contains("lossless or hierarchical", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(lossless, "l.jpg")).Message, StringComparison.Ordinal);
        var twelveBit = (byte[])original.Clone();
        twelveBit[sof + 3] = 12;
        Assert.Contains("12-bit JPEG samples are not supported", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(twelveBit, "t.jpg")).Message, StringComparison.Ordinal);
        var noEnd = original[..^2];
        Assert.Contains("truncated", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(noEnd, "n.jpg")).Message, StringComparison.Ordinal);
    }

    private static (bool Decoded, TimeSpan Elapsed) Attempt(byte[] bytes, string name)
    {
        var clock = Stopwatch.StartNew();
        bool decoded;
        try
        {
            var image = ImageDecoder.Decode(bytes, name, maxPixels: 40_000_000);
            Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
            decoded = true;
        }
        catch (InvalidImageException ex)
        {
            Assert.StartsWith(name + ": ", ex.Message, StringComparison.Ordinal);
            decoded = false;
        }

        // A decode of the largest shared photo takes ~0.5 s in Debug; 2 s is the hang budget from the issue.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"{name} took {clock.Elapsed.TotalSeconds:F1} s");
        return (decoded, clock.Elapsed);
    }
}
