using InceptionNet.Vision;

namespace InceptionNet.Pipeline;

/// <summary>Whether a face chip makes a good template or door frame: big enough and sharp enough.</summary>
public static class FaceQuality
{
    /// <summary>
    /// Variance of the 4-neighbour Laplacian of the grey chip (grey = 0.299 R + 0.587 G + 0.114 B): the usual focus
    /// measure; lower is blurrier.
    /// </summary>
    public static double Sharpness(RgbImage chip)
    {
        ArgumentNullException.ThrowIfNull(chip);
        int w = chip.Width, h = chip.Height;
        var grey = new double[w * h];
        for (int p = 0; p < grey.Length; p++)
        {
            grey[p] = 0.299 * chip.Pixels[p * 3] + 0.587 * chip.Pixels[p * 3 + 1] + 0.114 * chip.Pixels[p * 3 + 2];
        }

        double sum = 0, sumSquares = 0;
        int n = 0;
        for (int y = 1; y < h - 1; y++)
        {
            for (int x = 1; x < w - 1; x++)
            {
                double l = grey[(y - 1) * w + x] + grey[(y + 1) * w + x] + grey[y * w + x - 1] + grey[y * w + x + 1] - 4 * grey[y * w + x];
                sum += l;
                sumSquares += l * l;
                n++;
            }
        }

        return n == 0 ? 0 : sumSquares / n - (sum / n) * (sum / n);
    }

    /// <summary>The face's size in the photo: the shorter side of its detected box, or of the chip when taken whole.</summary>
    public static double Side(PreparedFace face)
    {
        ArgumentNullException.ThrowIfNull(face);
        return face.Detection is { } d ? Math.Min(d.Box[2] - d.Box[0], d.Box[3] - d.Box[1]) : Math.Min(face.Chip.Width, face.Chip.Height);
    }

    /// <summary>Why <paramref name="face"/> is not usable (too small or too blurry), or null when it is.</summary>
    public static string? Reject(PreparedFace face, int minFaceSide, double minSharpness)
    {
        ArgumentNullException.ThrowIfNull(face);
        double side = Side(face);
        if (side < minFaceSide)
        {
            return FormattableString.Invariant($"face too small ({side:F0} px < {minFaceSide})");
        }

        double sharpness = Sharpness(face.Chip);
        return sharpness < minSharpness ? FormattableString.Invariant($"face too blurry (sharpness {sharpness:F1} < {minSharpness})") : null;
    }
}
