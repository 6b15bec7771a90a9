using System.Globalization;
using System.Security.Cryptography;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// JPEGs where libjpeg-turbo (and so PIL) does more than decode what is there, with PIL's bytes beside them
/// (tools/jpeg_reference/smoothing.py and damaged.py, synthetic images through cjpeg). The decoder must give the same bytes. Without the behaviour
/// a test names, each of its files decodes to other bytes (checked when they were added).
/// </summary>
public sealed class JpegReferenceTests
{
    /// <summary>Progressive files whose scans leave some of the first nine AC coefficients unsent or approximate:
    /// libjpeg estimates them from the DC values of the 5 x 5 blocks around each block (its inter-block smoothing).
    /// Every subsampling, and a grayscale frame with two block rows per iMCU row (38 files).</summary>
    public static TheoryData<string, int, int, string> Smoothing() => Fixtures("jpeg-smoothing");

    /// <summary>Files whose entropy-coded data ends early inside a scan: libjpeg reads zeros for the MCU at the cut and leaves
    /// the MCUs after it undecoded up to the next restart marker (baseline, restart intervals, progressive DC and AC).</summary>
    public static TheoryData<string, int, int, string> ShortScans() => Fixtures("jpeg-short-scans");

    /// <summary>Files with one restart marker out of order: libjpeg leaves a marker that is not a restart, or one of the
    /// next two, in place (the intervals up to it read as empty), passes over one of the two before, and takes any other
    /// restart as the expected one (jpeg_resync_to_restart); baseline with a restart every MCU row, progressive every 2 MCUs.
    /// They were refused before.</summary>
    public static TheoryData<string, int, int, string> Resync() => Fixtures("jpeg-resync");

    /// <summary>Files with 32 one-bits put into a scan's data, no code of its Huffman tables: libjpeg takes 17 bits and
    /// decodes a zero (jpeg_huff_decode), and decodes on from there (baseline, progressive DC and AC scans). They were
    /// refused before.</summary>
    public static TheoryData<string, int, int, string> BadCodes() => Fixtures("jpeg-bad-codes");

    /// <summary>Files whose quantizers (all 255 on a quality-100 encoding) push dequantized values far past 16 bits:
    /// libjpeg-turbo's SIMD IDCT saturates there and its C IDCT does not; the decoder follows the C one, so these expected
    /// bytes are PIL's with JSIMD_FORCENONE=1 (the generator checks that the two differ on each).</summary>
    public static TheoryData<string, int, int, string> CIdct() => Fixtures("jpeg-c-idct");

    [Theory]
    [MemberData(nameof(Smoothing))]
    public void An_incompletely_refined_progressive_jpeg_decodes_to_libjpeg_turbos_smoothed_pixels(string name, int width, int height, string sha256) =>
        AssertDecodesTo("jpeg-smoothing", name, width, height, sha256);

    [Theory]
    [MemberData(nameof(ShortScans))]
    public void A_scan_whose_data_ends_early_leaves_the_rest_of_its_restart_interval_undecoded_as_libjpeg_does(string name, int width, int height, string sha256) =>
        AssertDecodesTo("jpeg-short-scans", name, width, height, sha256);

    [Theory]
    [MemberData(nameof(Resync))]
    public void A_restart_marker_out_of_order_is_resynchronised_on_as_libjpeg_does(string name, int width, int height, string sha256) =>
        AssertDecodesTo("jpeg-resync", name, width, height, sha256);

    [Theory]
    [MemberData(nameof(BadCodes))]
    public void A_bit_string_that_is_no_huffman_code_decodes_as_a_zero_as_libjpeg_does(string name, int width, int height, string sha256) =>
        AssertDecodesTo("jpeg-bad-codes", name, width, height, sha256);

    [Theory]
    [MemberData(nameof(CIdct))]
    public void Dequantized_values_past_16_bits_give_libjpeg_turbos_c_idct_bytes(string name, int width, int height, string sha256) =>
        AssertDecodesTo("jpeg-c-idct", name, width, height, sha256);

    private static void AssertDecodesTo(string folder, string name, int width, int height, string sha256)
    {
        var image = ImageDecoder.Decode(Path.Combine(AppContext.BaseDirectory, "Fixtures", folder, name));
        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(image.Pixels)));
    }

    // expected.txt: "name width height sha256" per file, '#' comments.
    private static TheoryData<string, int, int, string> Fixtures(string folder)
    {
        var data = new TheoryData<string, int, int, string>();
        foreach (string line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", folder, "expected.txt")))
        {
            if (line.Length > 0 && line[0] != '#')
            {
                string[] f = line.Split(' ');
                data.Add(f[0], int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture), f[3]);
            }
        }

        return data;
    }
}
