using InceptionNet.Detection;
using Xunit;

namespace InceptionNet.Detection.Tests;

/// <summary>
/// The R-Net and O-Net crops read detect_face.pad's zero-padded box a band of rows at a time, each row's part inside the
/// image converted as one run. Checked against what the padding means pixel by pixel, for boxes inside the image, across
/// each edge and corner, larger than the image, wholly outside it, and degenerate.
/// </summary>
public sealed class PaddedBoxRowsTests
{
    [Fact]
    public void Rows_are_the_per_pixel_padding_of_every_kind_of_box()
    {
        const int w = 23, h = 17;
        var rng = new Random(7);
        var image = new byte[w * h * 3];
        rng.NextBytes(image);
        var boxes = new List<double[]>
        {
            new double[] { 3, 4, 12, 13 },      // inside
            new double[] { -5, 2, 6, 13 },      // across the left edge
            new double[] { 15, -3, 30, 9 },     // across the top and right edges
            new double[] { 10, 10, 40, 40 },    // across the bottom-right corner
            new double[] { -10, -10, 40, 40 },  // larger than the image
            new double[] { 30, 30, 45, 45 },    // wholly outside, beyond the bottom-right
            new double[] { -20, -20, -5, -5 },  // wholly outside, before the top-left
            new double[] { 0, 0, 0, 0 },        // one pixel at the corner
            new double[] { 22, 16, 22, 16 },    // the last pixel
        };
        for (int i = 0; i < 200; i++)
        {
            double x1 = rng.Next(-30, 40), y1 = rng.Next(-30, 40);
            boxes.Add([x1, y1, x1 + rng.Next(0, 50), y1 + rng.Next(0, 50)]);
        }

        int checkedBoxes = 0;
        foreach (var box in boxes)
        {
            var buffers = new[] { Array.Empty<double>() };
            var rows = MtcnnDetector.PaddedBoxRows.ForBox(image, w, h, box, buffers, 0, out int tmpw, out int tmph);
            if (tmpw <= 0 || tmph <= 0)
            {
                continue;
            }

            var expected = PerPixel(image, w, h, box);
            for (int ty = 0; ty < tmph; ty++)
            {
                var row = rows.Rows(ty, 1).ToArray();
                Assert.Equal(tmpw * 3, row.Length);
                for (int i = 0; i < row.Length; i++)
                {
                    Assert.True(expected[ty * tmpw * 3 + i] == row[i],
                        $"box [{string.Join(", ", box)}] row {ty}, value {i}: {row[i]}, the per-pixel padding gives {expected[ty * tmpw * 3 + i]}");
                }
            }

            // Two rows at once are the same two rows.
            if (tmph >= 2)
            {
                Assert.Equal(expected.AsSpan(0, 2 * tmpw * 3).ToArray(), rows.Rows(0, 2).ToArray());
            }

            checkedBoxes++;
        }

        Assert.True(checkedBoxes > 150, $"only {checkedBoxes} boxes had a size");
    }

    // What detect_face.pad means, pixel by pixel: box pixel (ty, tx) of the box (x1, y1, x2, y2) is image pixel
    // (y1 − 1 + ty, x1 − 1 + tx) where that lies in the image, zero elsewhere (the reference's 1-based slices).
    private static double[] PerPixel(byte[] image, int w, int h, double[] b)
    {
        int tmpw = (int)(b[2] - b[0] + 1), tmph = (int)(b[3] - b[1] + 1), x1 = (int)b[0], y1 = (int)b[1];
        var result = new double[tmpw * tmph * 3];
        for (int ty = 0; ty < tmph; ty++)
        {
            for (int tx = 0; tx < tmpw; tx++)
            {
                int sy = y1 - 1 + ty, sx = x1 - 1 + tx;
                if (sy >= 0 && sy < h && sx >= 0 && sx < w)
                {
                    for (int ch = 0; ch < 3; ch++)
                    {
                        result[(ty * tmpw + tx) * 3 + ch] = image[(sy * w + sx) * 3 + ch];
                    }
                }
            }
        }

        return result;
    }
}
