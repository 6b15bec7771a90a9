namespace InceptionNet.Vision;

/// <summary>Resizing functions named after the reference they reproduce exactly.</summary>
public static class Resize
{
    /// <summary>
    /// PIL <c>Image.resize(size, Image.NEAREST)</c> (the Keras <c>load_img</c> default): output pixel x samples source
    /// column floor((x + 0.5) · srcW / dstW), computed in double as Pillow's affine nearest transform does.
    /// </summary>
    public static RgbImage PilNearest(RgbImage source, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (width == source.Width && height == source.Height)
        {
            return source;
        }

        double scaleX = (double)source.Width / width;
        double scaleY = (double)source.Height / height;
        var xs = new int[width];
        for (int x = 0; x < width; x++)
        {
            xs[x] = Math.Min((int)((x + 0.5) * scaleX), source.Width - 1);
        }

        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min((int)((y + 0.5) * scaleY), source.Height - 1);
            int srcRow = sy * source.Width * 3;
            int dstRow = y * width * 3;
            for (int x = 0; x < width; x++)
            {
                int s = srcRow + xs[x] * 3;
                int d = dstRow + x * 3;
                pixels[d] = source.Pixels[s];
                pixels[d + 1] = source.Pixels[s + 1];
                pixels[d + 2] = source.Pixels[s + 2];
            }
        }

        return new RgbImage(width, height, pixels);
    }

    /// <summary>
    /// PIL <c>Image.resize(size, Image.BILINEAR)</c> for 8-bit RGB, byte-exact with Pillow's Resample.c: a triangle filter
    /// widened by the scale when shrinking (antialiasing), weights normalized in double and converted to 22-bit fixed
    /// point, a horizontal pass rounded to bytes, then a vertical pass.
    /// </summary>
    public static RgbImage PilBilinear(RgbImage source, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var current = source;
        if (width != source.Width)
        {
            var (bounds, weights, taps) = PilCoefficients(source.Width, width);
            var pixels = new byte[width * source.Height * 3];
            for (int y = 0; y < source.Height; y++)
            {
                int row = y * source.Width * 3;
                for (int x = 0; x < width; x++)
                {
                    PilAccumulate(source.Pixels, row + bounds[2 * x] * 3, 3, weights.AsSpan(x * taps, bounds[2 * x + 1]), pixels.AsSpan((y * width + x) * 3, 3));
                }
            }

            current = new RgbImage(width, source.Height, pixels);
        }

        if (height != current.Height)
        {
            var (bounds, weights, taps) = PilCoefficients(current.Height, height);
            var pixels = new byte[width * height * 3];
            int stride = width * 3;
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    PilAccumulate(current.Pixels, bounds[2 * y] * stride + x * 3, stride, weights.AsSpan(y * taps, bounds[2 * y + 1]), pixels.AsSpan((y * width + x) * 3, 3));
                }
            }

            current = new RgbImage(width, height, pixels);
        }

        return current;
    }

    /// <summary>
    /// <c>tf.image.resizeBilinear(x, [height, width], alignCorners=false, halfPixelCenters=false)</c> as the tfjs CPU backend
    /// computes it (face-api's 150×150 input): source coordinate <c>dst · (in / out)</c>, lerp along x then y in double,
    /// stored as float32. Returns [height, width, 3] floats in 0..255.
    /// </summary>
    public static float[] TfBilinear(RgbImage source, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new float[width * height * 3];
        double rowRatio = (double)source.Height / height, colRatio = (double)source.Width / width;
        var p = source.Pixels;
        int stride = source.Width * 3;
        for (int r = 0; r < height; r++)
        {
            double fracRow = rowRatio * r;
            int r0 = (int)Math.Floor(fracRow);
            int r1 = Math.Min(source.Height - 1, (int)Math.Ceiling(fracRow));
            double fy = fracRow - r0;
            for (int c = 0; c < width; c++)
            {
                double fracCol = colRatio * c;
                int c0 = (int)Math.Floor(fracCol);
                int c1 = Math.Min(source.Width - 1, (int)Math.Ceiling(fracCol));
                double fx = fracCol - c0;
                for (int ch = 0; ch < 3; ch++)
                {
                    double tl = p[r0 * stride + c0 * 3 + ch], tr = p[r0 * stride + c1 * 3 + ch];
                    double bl = p[r1 * stride + c0 * 3 + ch], br = p[r1 * stride + c1 * 3 + ch];
                    double top = tl + (tr - tl) * fx;
                    double bottom = bl + (br - bl) * fx;
                    result[(r * width + c) * 3 + ch] = (float)(top + (bottom - top) * fy);
                }
            }
        }

        return result;
    }

    private const int PilPrecisionBits = 32 - 8 - 2;

    // Resample.c precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle, support 1) filter.
    private static (int[] Bounds, int[] Weights, int Taps) PilCoefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 1.0 * filterScale;
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * taps];
        var k = new double[taps];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double sum = 0;
            for (int x = 0; x < xmax; x++)
            {
                double t = Math.Abs((x + xmin - center + 0.5) * ss);
                k[x] = t < 1.0 ? 1.0 - t : 0.0;
                sum += k[x];
            }

            for (int x = 0; x < xmax; x++)
            {
                double w = sum != 0.0 ? k[x] / sum : k[x];
                weights[xx * taps + x] = w < 0 ? (int)(-0.5 + w * (1 << PilPrecisionBits)) : (int)(0.5 + w * (1 << PilPrecisionBits));
            }

            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }

        return (bounds, weights, taps);
    }

    private static void PilAccumulate(byte[] source, int start, int step, ReadOnlySpan<int> weights, Span<byte> rgb)
    {
        int s0 = 1 << (PilPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int i = 0; i < weights.Length; i++)
        {
            int at = start + i * step;
            s0 += source[at] * weights[i];
            s1 += source[at + 1] * weights[i];
            s2 += source[at + 2] * weights[i];
        }

        rgb[0] = PilClip(s0);
        rgb[1] = PilClip(s1);
        rgb[2] = PilClip(s2);
    }

    private static byte PilClip(int v) => v >= 1 << PilPrecisionBits << 8 ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PilPrecisionBits);
}
