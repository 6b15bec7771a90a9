namespace InceptionNet.Tensors;

/// <summary>
/// A view of float32 NHWC data: <c>[N, H, W, C]</c> where consecutive pixels are
/// <see cref="PixelStride"/> floats apart. A slice of channels of a wider tensor (the destination of a
/// concatenation, for example) has <c>PixelStride &gt; C</c>; kernels write straight into such slices so that
/// concatenation costs no copy.
/// </summary>
public readonly struct TensorSlice
{
    /// <summary>Creates a view; <paramref name="offset"/> is the index of element (0, 0, 0, 0).</summary>
    public TensorSlice(float[] buffer, int offset, int n, int h, int w, int c, int pixelStride)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (n < 0 || h < 0 || w < 0 || c < 0 || pixelStride < c || offset < 0)
        {
            throw new ArgumentException($"Invalid slice [N={n}, H={h}, W={w}, C={c}] stride {pixelStride} offset {offset}.");
        }

        long last = n * h * w == 0 ? offset : offset + ((long)n * h * w - 1) * pixelStride + c;
        if (last > buffer.Length)
        {
            throw new ArgumentException($"Slice [N={n}, H={h}, W={w}, C={c}] stride {pixelStride} offset {offset} does not fit a buffer of {buffer.Length} floats.");
        }

        Buffer = buffer;
        Offset = offset;
        N = n;
        H = h;
        W = w;
        C = c;
        PixelStride = pixelStride;
    }

    /// <summary>Creates a dense view of <paramref name="buffer"/> from its start.</summary>
    public static TensorSlice Dense(float[] buffer, int n, int h, int w, int c) => new(buffer, 0, n, h, w, c, c);

    /// <summary>The storage.</summary>
    public float[] Buffer { get; }

    /// <summary>Index of element (0, 0, 0, 0) in <see cref="Buffer"/>.</summary>
    public int Offset { get; }

    /// <summary>Batch size.</summary>
    public int N { get; }

    /// <summary>Height.</summary>
    public int H { get; }

    /// <summary>Width.</summary>
    public int W { get; }

    /// <summary>Channels in this view.</summary>
    public int C { get; }

    /// <summary>Distance in floats between consecutive pixels.</summary>
    public int PixelStride { get; }

    /// <summary>Number of pixels, N·H·W.</summary>
    public int Pixels => N * H * W;

    /// <summary>Whether the channels of consecutive pixels are adjacent (no gaps).</summary>
    public bool IsDense => PixelStride == C;

    /// <summary>Index in <see cref="Buffer"/> of channel 0 of pixel (n, y, x).</summary>
    public int PixelIndex(int n, int y, int x) => Offset + (((n * H) + y) * W + x) * PixelStride;

    /// <summary>Element accessor for tests and reference code.</summary>
    public float this[int n, int y, int x, int c]
    {
        get => Buffer[PixelIndex(n, y, x) + c];
        set => Buffer[PixelIndex(n, y, x) + c] = value;
    }

    /// <summary>A view of channels [start, start + count).</summary>
    public TensorSlice Channels(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > C)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Channels [{start}, {start + count}) are outside [0, {C}).");
        }

        return new TensorSlice(Buffer, Offset + start, N, H, W, count, PixelStride);
    }

    /// <summary>Channels of one pixel.</summary>
    public Span<float> Pixel(int n, int y, int x) => Buffer.AsSpan(PixelIndex(n, y, x), C);

    /// <summary>Copies the view into a new dense array, [N, H, W, C] row-major.</summary>
    public float[] ToArray()
    {
        var result = new float[N * H * W * C];
        for (int p = 0; p < Pixels; p++)
        {
            Buffer.AsSpan(Offset + p * PixelStride, C).CopyTo(result.AsSpan(p * C, C));
        }

        return result;
    }

    /// <summary>Shape as text, for error messages and logs.</summary>
    public override string ToString() => $"[{N}, {H}, {W}, {C}]" + (IsDense ? string.Empty : $" (pixel stride {PixelStride})");
}
