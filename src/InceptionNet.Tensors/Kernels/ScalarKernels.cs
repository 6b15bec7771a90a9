namespace InceptionNet.Tensors;

/// <summary>The reference set: plain loops that read like the math, one output row per micro-kernel call.</summary>
internal sealed class ScalarKernels : KernelSet
{
    public override SimdLevel Level => SimdLevel.Scalar;

    public override int TileRows => 1;

    public override int NarrowTileRows => 1;

    internal override unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate, int prefetch) =>
        Row(a, b, k, tile, accumulate, TileColumns);

    internal override unsafe void NarrowMicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate) =>
        Row(a, b, k, tile, accumulate, PackedConvWeights.NarrowPanelWidth);

    // One output row over a panel of `width` columns (b advances `width` per step).
    private static unsafe void Row(float* a, float* b, int k, float* tile, bool accumulate, int width)
    {
        for (int j = 0; j < width && !accumulate; j++)
        {
            tile[j] = 0f;
        }

        float* bp = b;
        for (int p = 0; p < k; p++, bp += width)
        {
            float x = a[p];
            for (int j = 0; j < width; j++)
            {
                tile[j] += x * bp[j];
            }
        }
    }

    internal override int DirectPixels => 8;

    internal override unsafe void DirectSmallInput(float* src, long* offsets, int taps, float* form, int channels, int pixels,
        in EpilogueTarget target) =>
        DirectSmallInputScalar(src, offsets, taps, form, channels, pixels, target);

    internal override unsafe void Epilogue(float* tile, int rows, int cols, in EpilogueTarget target) =>
        EpilogueScalar(tile, rows, 0, cols, target);

    internal override unsafe void PoolWindow(float* src, long xStride, long yStride, int h, int w, int channels, float* dst, PoolKind kind, int windowSize) =>
        PoolWindowScalar(src, xStride, yStride, h, w, 0, channels, dst, kind, windowSize);

    internal override void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output)
    {
        int rows = matrix.Length / dim;
        for (int r = 0; r < rows; r++)
        {
            output[r] = SquaredScalar(matrix.Slice(r * dim, dim), query, 0, 0f);
        }
    }

    internal override void QuantizedDots(ReadOnlySpan<sbyte> codes, int dim, ReadOnlySpan<short> query, Span<int> output)
    {
        int rows = codes.Length / dim;
        for (int r = 0; r < rows; r++)
        {
            output[r] = QuantizedDotScalar(codes.Slice(r * dim, dim), query, 0, 0);
        }
    }

    internal override void Relu(Span<float> values) => ReluScalar(values, 0);

    internal override unsafe void WinogradInput(float* src, long rowStride, long colStride, int channels, float* dst, long dstStride) =>
        WinogradInputScalar(src, rowStride, colStride, 0, channels, dst, dstStride);

    internal override unsafe void WinogradOutput(float* m, long mStride, float* y, long yRowStride) =>
        WinogradOutputScalar(m, mStride, y, yRowStride, 0, TileColumns);

    internal override unsafe void WinogradS2Input(float* src, long rowStride, long colStride, int channels, float* dst, long dstStride) =>
        WinogradS2InputScalar(src, rowStride, colStride, 0, channels, dst, dstStride);

    internal override unsafe void WinogradS2Output(float* m, long mStride, float* y, long yRowStride) =>
        WinogradS2OutputScalar(m, mStride, y, yRowStride, 0, TileColumns);

    internal override unsafe void Winograd7Input(float* src, long stride, int channels, float* dst, long dstStride) =>
        Winograd7InputScalar(src, stride, 0, channels, dst, dstStride);

    internal override unsafe void Winograd7Output(float* m, long mStride, float* y, long yStride) =>
        Winograd7OutputScalar(m, mStride, y, yStride, 0, TileColumns);
}
