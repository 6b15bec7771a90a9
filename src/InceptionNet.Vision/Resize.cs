namespace InceptionNet.Vision;

/// <summary>Resizing functions named after the reference they reproduce exactly.</summary>
public static class Resize
{
    /// <summary>
    /// PIL <c>Image.resize(size, Image.NEAREST)</c> (the Keras <c>load_img</c> default), byte-exact with Pillow 9.4: the
    /// columns and rows read are <see cref="PilNearestIndices"/> of each axis; equal sizes return the source.
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

        var xs = PilNearestIndices(source.Width, width);
        var ys = PilNearestIndices(source.Height, height);
        var pixels = new byte[width * height * 3]; // Pillow fills with 0 where an index falls outside (never seen)
        for (int y = 0; y < height; y++)
        {
            if (ys[y] < 0)
            {
                continue;
            }

            int srcRow = ys[y] * source.Width * 3;
            int dstRow = y * width * 3;
            for (int x = 0; x < width; x++)
            {
                if (xs[x] < 0)
                {
                    continue;
                }

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
    /// The source indices Pillow 9.4's NEAREST resize reads along one axis (libImaging ImagingScaleAffine, reached through
    /// <c>_resize</c> → ImagingTransform with an affine scale): the step is <c>sourceLength / targetLength</c> in double,
    /// the position starts at half a step and grows by one step per output pixel (accumulated in double, so it drifts
    /// from <c>(i + 0.5) · step</c>), and each index is the position truncated. An index outside the source is −1.
    /// </summary>
    public static int[] PilNearestIndices(int sourceLength, int targetLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetLength, 1);
        var indices = new int[targetLength];
        double step = (double)sourceLength / targetLength; // a[0] = (box width as float) / size
        double position = step * 0.5; // xo = a[2] + a[0] * 0.5 with a[2] = 0
        for (int i = 0; i < targetLength; i++)
        {
            int index = position < 0 ? -1 : (int)position; // COORD(v)
            indices[i] = index < sourceLength ? index : -1;
            position += step;
        }

        return indices;
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
    /// <c>tf.image.resizeBilinear(x, [height, width], alignCorners=false, halfPixelCenters=false)</c> with the arithmetic of
    /// tfjs's CPU and wasm backends (face-api's 150×150 input): source coordinate <c>dst · (in / out)</c>, lerp along x then
    /// y in double, stored as float32. Returns [height, width, 3] floats in 0..255. Exact for those backends only: the
    /// WebGL backend and TensorFlow itself compute in float32 and may differ in the last bits. Not swept; checked on the
    /// face-api fixture inputs.
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
