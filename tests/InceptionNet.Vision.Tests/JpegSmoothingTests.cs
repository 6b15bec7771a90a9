using System.Security.Cryptography;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// Progressive JPEGs whose scans leave some of the first nine AC coefficients unsent or approximate: libjpeg-turbo (and so
/// PIL) estimates them from the DC values of the 5 x 5 blocks around each block (its inter-block smoothing), and the decoder
/// must give the same bytes. Fixtures/jpeg-smoothing: synthetic images through cjpeg with such scan scripts, every
/// subsampling, a grayscale frame with two block rows per iMCU row; the expected bytes are PIL's
/// (tools/jpeg_reference/smoothing.py). Without the smoothing all 38 differ (checked when it was added).
/// </summary>
public sealed class JpegSmoothingTests
{
    public static TheoryData<string, int, int, string> Files()
    {
        var data = new TheoryData<string, int, int, string>();
        foreach (string line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "jpeg-smoothing", "expected.txt")))
        {
            if (line.Length > 0 && line[0] != '#')
            {
                string[] f = line.Split(' ');
                data.Add(f[0], int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture), f[3]);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void An_incompletely_refined_progressive_jpeg_decodes_to_libjpeg_turbos_smoothed_pixels(string name, int width, int height, string sha256)
    {
        var image = ImageDecoder.Decode(Path.Combine(AppContext.BaseDirectory, "Fixtures", "jpeg-smoothing", name));
        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(image.Pixels)));
    }
}
