namespace InceptionNet.Tensors;

/// <summary>Layers that are not convolutions or pools: zero padding, channel LRN, L2 normalization.</summary>
public static class ElementwiseOps
{
    /// <summary>
    /// ZeroPadding2D: writes <paramref name="input"/> at (<paramref name="top"/>, <paramref name="left"/>) of
    /// <paramref name="output"/> and zeros everywhere else. The output may be a channel slice (concatenation).
    /// </summary>
    public static void ZeroPad(TensorSlice input, int top, int left, TensorSlice output)
    {
        if (output.N != input.N || output.C != input.C || top < 0 || left < 0 || top + input.H > output.H || left + input.W > output.W)
        {
            throw new ArgumentException($"Cannot pad {input} by ({top}, {left}) into {output}.");
        }

        for (int n = 0; n < output.N; n++)
        {
            for (int y = 0; y < output.H; y++)
            {
                for (int x = 0; x < output.W; x++)
                {
                    int iy = y - top, ix = x - left;
                    var dst = output.Pixel(n, y, x);
                    if (iy >= 0 && iy < input.H && ix >= 0 && ix < input.W)
                    {
                        input.Pixel(n, iy, ix).CopyTo(dst);
                    }
                    else
                    {
                        dst.Clear();
                    }
                }
            }
        }
    }

    /// <summary>
    /// Local response normalization across channels, as <c>tf.nn.lrn</c>:
    /// <c>out[c] = x[c] / (bias + alpha · Σ_{|c'−c| ≤ depthRadius} x[c']²)^beta</c>, channels past the edge count as zero
    /// and alpha is not divided by the window size. In place is allowed.
    /// </summary>
    public static void LocalResponseNorm(TensorSlice input, TensorSlice output, int depthRadius, float bias, float alpha, float beta)
    {
        if (output.N != input.N || output.H != input.H || output.W != input.W || output.C != input.C)
        {
            throw new ArgumentException($"LRN output {output} does not match input {input}.");
        }

        int c = input.C;
        Span<float> squares = c <= 4096 ? stackalloc float[c] : new float[c];
        for (int p = 0; p < input.Pixels; p++)
        {
            var src = input.Buffer.AsSpan(input.Offset + p * input.PixelStride, c);
            var dst = output.Buffer.AsSpan(output.Offset + p * output.PixelStride, c);
            for (int i = 0; i < c; i++)
            {
                squares[i] = src[i] * src[i];
            }

            for (int i = 0; i < c; i++)
            {
                float sum = 0f;
                int hi = Math.Min(c - 1, i + depthRadius);
                for (int j = Math.Max(0, i - depthRadius); j <= hi; j++)
                {
                    sum += squares[j];
                }

                dst[i] = src[i] / MathF.Pow(bias + alpha * sum, beta);
            }
        }
    }

    /// <summary>
    /// Row-wise L2 normalization as <c>tf.nn.l2_normalize</c> / <c>K.l2_normalize</c>:
    /// <c>x / sqrt(max(Σx², 1e-12))</c>. The sum is accumulated in double.
    /// </summary>
    public static void L2NormalizeRows(ReadOnlySpan<float> input, int rows, int columns, Span<float> output)
    {
        if (input.Length < rows * columns || output.Length < rows * columns)
        {
            throw new ArgumentException($"Buffers are too small for {rows}x{columns}.");
        }

        for (int r = 0; r < rows; r++)
        {
            var src = input.Slice(r * columns, columns);
            var dst = output.Slice(r * columns, columns);
            double sum = 0;
            foreach (float v in src)
            {
                sum += (double)v * v;
            }

            double inverse = 1.0 / Math.Sqrt(Math.Max(sum, 1e-12));
            for (int i = 0; i < columns; i++)
            {
                dst[i] = (float)(src[i] * inverse);
            }
        }
    }

    /// <summary>Euclidean distance between two vectors, accumulated in double.</summary>
    public static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Math.Sqrt(SquaredDistance(a, b));

    /// <summary>Squared Euclidean distance between two vectors, accumulated in double.</summary>
    public static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"Vectors have different lengths ({a.Length} and {b.Length}).");
        }

        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            sum += d * d;
        }

        return sum;
    }

    /// <summary>ReLU in place (used where it cannot be fused into a convolution): <c>v &gt; 0 ? v : 0</c>.</summary>
    public static void Relu(Span<float> values, KernelSet kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        kernels.Relu(values);
    }
}
