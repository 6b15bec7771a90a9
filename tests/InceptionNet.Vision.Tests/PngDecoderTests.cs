using System.Security.Cryptography;
using System.Text.Json;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// PNG decoding equals Pillow 9.4's <c>Image.open(p).convert("RGB")</c> on every colour type, bit depth and interlace
/// (files and hashes written by tools/png_reference.py: random samples, a random filter per row, image data split over
/// two IDATs, palettes shorter than the indices used, tRNS); damaged files are refused with the problem named.
/// </summary>
public sealed class PngDecoderTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Png");

    public static TheoryData<string> Files
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var entry in Expected().EnumerateObject())
            {
                data.Add(entry.Name);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Rgb_bytes_equal_pillows(string file)
    {
        var image = ImageDecoder.Decode(Path.Combine(Folder, file));
        Assert.Equal(Expected().GetProperty(file).GetString(), Convert.ToHexStringLower(SHA256.HashData(image.Pixels)));
    }

    [Fact]
    public void Every_colour_type_bit_depth_and_interlace_is_covered()
    {
        var names = Expected().EnumerateObject().Select(e => e.Name).ToArray();
        foreach (string combo in new[] { "ct0-1bit", "ct0-2bit", "ct0-4bit", "ct0-8bit", "ct0-16bit", "ct2-8bit", "ct2-16bit", "ct3-1bit", "ct3-2bit", "ct3-4bit", "ct3-8bit", "ct4-8bit", "ct4-16bit", "ct6-8bit", "ct6-16bit" })
        {
            Assert.Contains(names, n => n.StartsWith(combo + "-plain", StringComparison.Ordinal));
            Assert.Contains(names, n => n.StartsWith(combo + "-adam7", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Damaged_files_name_their_problem()
    {
        byte[] good = File.ReadAllBytes(Path.Combine(Folder, "ct2-8bit-plain-13x9.png"));
        Assert.Equal(13, ImageDecoder.Decode(good, "good.png").Width);

        var badCrc = (byte[])good.Clone();
        badCrc[20]++; // inside IHDR
        Assert.Contains("chunk IHDR has a bad CRC", Problem(badCrc), StringComparison.Ordinal);

        Assert.Contains("bad signature", Problem([.. good[..4], 0x0A, .. good[5..]]), StringComparison.Ordinal);
        Assert.Contains("truncated", Problem(good[..(good.Length / 2)]), StringComparison.Ordinal);
        Assert.Contains("truncated", Problem(good[..40]), StringComparison.Ordinal);

        byte[] ihdr = HostileFiles.Ihdr(2, 1, 8, 0);
        byte[] badFilter = HostileFiles.Concat(HostileFiles.PngSignature, ihdr, HostileFiles.Chunk("IDAT", HostileFiles.Zlib([7, 1, 2])), HostileFiles.Chunk("IEND", []));
        Assert.Contains("row 0 has filter type 7", Problem(badFilter), StringComparison.Ordinal);

        byte[] noPalette = HostileFiles.Concat(HostileFiles.PngSignature, HostileFiles.Ihdr(2, 1, 8, 3), HostileFiles.Chunk("IDAT", HostileFiles.Zlib([0, 1, 2])), HostileFiles.Chunk("IEND", []));
        Assert.Contains("without a PLTE", Problem(noPalette), StringComparison.Ordinal);

        byte[] badDepth = HostileFiles.Concat(HostileFiles.PngSignature, HostileFiles.Ihdr(2, 1, 4, 2), HostileFiles.Chunk("IDAT", HostileFiles.Zlib([0, 1])), HostileFiles.Chunk("IEND", []));
        Assert.Contains("colour type 2 with bit depth 4", Problem(badDepth), StringComparison.Ordinal);

        byte[] critical = HostileFiles.Concat(HostileFiles.PngSignature, ihdr, HostileFiles.Chunk("CgBI", [1]), HostileFiles.Chunk("IDAT", HostileFiles.Zlib([0, 1, 2])), HostileFiles.Chunk("IEND", []));
        Assert.Contains("unknown critical PNG chunk CgBI", Problem(critical), StringComparison.Ordinal);

        byte[] notZlib = HostileFiles.Concat(HostileFiles.PngSignature, ihdr, HostileFiles.Chunk("IDAT", [0x78, 0x9C, 0xFF, 0xFF, 0xFF]), HostileFiles.Chunk("IEND", []));
        Assert.Contains("corrupt PNG", Problem(notZlib), StringComparison.Ordinal);

        // FDICT set (0x78 0x20 passes the header check): zlib asks for a preset dictionary; .NET threw ZLibException.
        byte[] presetDictionary = HostileFiles.Concat(HostileFiles.PngSignature, ihdr, HostileFiles.Chunk("IDAT", [0x78, 0x20, 0, 0, 0, 1, 0x03, 0x00]), HostileFiles.Chunk("IEND", []));
        Assert.Contains("preset zlib dictionary", Problem(presetDictionary), StringComparison.Ordinal);

        // Extra rows past what IHDR implies are ignored, as Pillow ignores them; no IEND after complete data is accepted.
        byte[] extra = HostileFiles.Concat(HostileFiles.PngSignature, ihdr, HostileFiles.Chunk("IDAT", HostileFiles.Zlib([0, 1, 2, 0, 3, 4])));
        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 2 }, ImageDecoder.Decode(extra, "extra.png").Pixels);
    }

    [Fact]
    public void Pixel_budget_is_checked_from_the_header()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(Folder, "ct6-16bit-adam7-13x9.png"));
        Assert.Equal("13x9 is above the limit of 100 pixels.", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(file, "p.png", maxPixels: 100)).Problem);
        Assert.Equal(13 * 9 * 3, ImageDecoder.Decode(file, "p.png", maxPixels: 117).Pixels.Length);
    }

    private static string Problem(byte[] file) => Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(file, "x.png")).Problem;

    private static JsonElement Expected() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "pillow-rgb-sha256.json"))).RootElement.GetProperty("images");
}
