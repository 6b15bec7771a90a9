using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace InceptionNet.Tensors;

/// <summary>
/// Everything that runs differently on different vector hardware, for one instruction set: the convolution micro-kernel
/// and its tile shape, the fused convolution epilogue, pooling, squared distances and ReLU. There is one set per
/// <see cref="SimdLevel"/>; it is chosen once (by an execution context, or <see cref="Default"/> for the process) and
/// handed to the ops, which never look at the level themselves. <see cref="ScalarKernels"/> is the reference every other
/// set is tested against.
/// </summary>
public abstract class KernelSet
{
    /// <summary>Output channels per micro-kernel tile: one packed weight panel.</summary>
    public const int TileColumns = PackedConvWeights.PanelWidth;

    /// <summary>The tallest tile of any set, wide or narrow (sizes the convolution's accumulator block).</summary>
    internal const int MaxTileRows = 8;

    /// <summary>The tallest <see cref="TallTileRows"/> of any set.</summary>
    internal const int MaxTallTileRows = 12;

    private static readonly KernelSet[] ByLevel =
    [
        new ScalarKernels(),
        new Vector128Kernels(Vector128Kernels.TileRowsForThisCpu),
        new Vector256Kernels(),
        new Vector512Kernels(),
    ];

    private protected KernelSet()
    {
    }

    /// <summary>The set for <see cref="Simd.Default"/>: the process-wide choice where no execution context is at hand.</summary>
    public static KernelSet Default { get; } = For(Simd.Default);

    /// <summary>The instruction set these kernels use.</summary>
    public abstract SimdLevel Level { get; }

    /// <summary>Output pixels per micro-kernel call; the tile is <see cref="TileRows"/> × <see cref="TileColumns"/>.</summary>
    public abstract int TileRows { get; }

    /// <summary>
    /// Output pixels per narrow micro-kernel call (weights of <see cref="PackedConvWeights.NarrowPanelWidth"/>-wide
    /// panels); the tile is <see cref="NarrowTileRows"/> × 16.
    /// </summary>
    public abstract int NarrowTileRows { get; }

    /// <summary>Every set this process has, including tile shapes picked for other CPUs (tests run them all).</summary>
    internal static IReadOnlyList<KernelSet> AllVariants { get; } =
        [.. ByLevel, new Vector128Kernels(Vector128Kernels.TileRowsForThisCpu == 6 ? 3 : 6)];

    /// <summary>The set for <paramref name="level"/>, lowered to what the hardware supports.</summary>
    public static KernelSet For(SimdLevel level) => ByLevel[(int)Simd.Clamp(level)];

    /// <inheritdoc/>
    public override string ToString() => $"{Level} ({TileRows}x{TileColumns} conv tile, {NarrowTileRows}x{PackedConvWeights.NarrowPanelWidth} narrow)";

    /// <summary>
    /// How far ahead of the step in hand (floats: 4 KiB) a kernel that streams a weight panel from memory asks for it
    /// (<see cref="MicroKernel"/>'s <c>prefetch</c>, <see cref="TallMicroKernel"/>). At batch 1 the hardware prefetcher alone
    /// leaves the panel's stream short of the memory's pace. On Zen 5, 2 KiB ahead gained less, 8 KiB as much, and 16 KiB
    /// or more less again (bench/results/README.md, round two on Zen 5).
    /// </summary>
    internal const int PrefetchFloats = 1024;

    /// <summary>
    /// <c>tile[r, 0..32) (+)= Σ_p a[r·lda + p] · b[p·32 + 0..32)</c> for r below <see cref="TileRows"/> and p below
    /// <paramref name="k"/>; the tile's rows are <see cref="TileColumns"/> floats apart and 64-byte aligned. With
    /// <paramref name="prefetch"/> above zero each step also asks for the panel that many floats ahead to be brought into
    /// L2: a hint, which never faults (even past the panel's end) and never changes a value. The 256- and 512-bit sets
    /// issue it; the scalar and 128-bit sets ignore it.
    /// </summary>
    internal abstract unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate, int prefetch);

    /// <summary>
    /// Rows of the set's tall tile (<see cref="TallMicroKernel"/>), or 0 where it has none. Only the 512-bit set has one:
    /// 12 rows × 32 columns take 24 of its 32 registers, more than a 16-register set holds.
    /// </summary>
    internal virtual int TallTileRows => 0;

    /// <summary>
    /// The micro-kernel over <paramref name="rows"/> rows (above <see cref="TileRows"/>, at most
    /// <see cref="TallTileRows"/>) in one pass over the panel, which it prefetches <see cref="PrefetchFloats"/> ahead: for a
    /// map of a few pixels (Block8's 3×3 at batch 1) the panel then streams from memory without the pauses of a second
    /// pass over it. The tile's rows from <paramref name="rows"/> up to <see cref="TallTileRows"/> are overwritten (they
    /// repeat the last row's products); no row of <paramref name="a"/> past the last is read. Every value is
    /// <see cref="MicroKernel"/>'s, bit for bit (the same multiply-adds in the same order).
    /// </summary>
    internal virtual unsafe void TallMicroKernel(float* a, int lda, int rows, float* b, int k, float* tile, bool accumulate) =>
        throw new NotSupportedException($"{this} has no tall tile.");

    /// <summary>
    /// The micro-kernel on a narrow panel: <c>tile[r, 0..16) (+)= Σ_p a[r·lda + p] · b[p·16 + 0..16)</c> for r below
    /// <see cref="NarrowTileRows"/>; the tile's rows are still <see cref="TileColumns"/> floats apart (one epilogue serves
    /// both), and columns 16 to 31 are not touched. Each column is the wide kernel's sum, operation for operation.
    /// </summary>
    internal abstract unsafe void NarrowMicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate);

    /// <summary>Output channels per group of <see cref="PackedConvWeights.DirectForm"/> (ten accumulators: five channels × two vectors).</summary>
    internal const int DirectGroup = 5;

    /// <summary>Output pixels per <see cref="DirectSmallInput"/> call: two vectors of this set's width (8 for the reference).</summary>
    internal abstract int DirectPixels { get; }

    /// <summary>
    /// A direct convolution of an input with few channels (P-Net's first layer: 3 → 10) for <see cref="DirectPixels"/>
    /// neighbouring output pixels of one row, every output channel, stored through the epilogue with no residual. The input
    /// is planar: the value under tap t (in the GEMM's reduction order: kernel row, column, input channel) of output pixel
    /// p is <c>src[offsets[t] + p]</c>, readable for every p below <see cref="DirectPixels"/>. <paramref name="form"/> is
    /// <see cref="PackedConvWeights.DirectForm"/> (<paramref name="taps"/> its reduction length). Output pixel p below
    /// <paramref name="pixels"/>, channel c below <paramref name="channels"/>, is <c>act(Σ_t x·w + bias)</c> at
    /// <c>target.Output + p·target.OutputStride + c</c>, summed in tap order with this set's micro-kernel's multiply-add
    /// from zero, so every value is the GEMM path's bit for bit.
    /// </summary>
    internal abstract unsafe void DirectSmallInput(float* src, long* offsets, int taps, float* form, int channels, int pixels,
        in EpilogueTarget target);

    /// <summary>Writes <paramref name="rows"/> × <paramref name="cols"/> values of a finished tile through the epilogue.</summary>
    internal abstract unsafe void Epilogue(float* tile, int rows, int cols, in EpilogueTarget target);

    /// <summary>
    /// One output pixel of a pooling: channels [0, <paramref name="channels"/>) of the <paramref name="h"/> ×
    /// <paramref name="w"/> input pixels whose first is at <paramref name="src"/> (pixels <paramref name="xStride"/>
    /// floats apart along a row, rows <paramref name="yStride"/> apart), folded in row-major window order — max, sum, or
    /// sum of squares — then finished (sum / h·w, and sqrt(windowSize · that) for L2) into <paramref name="dst"/>. The
    /// window is never empty (h, w ≥ 1): <see cref="Pooling"/> refuses geometries with an empty window before any work.
    /// </summary>
    internal abstract unsafe void PoolWindow(float* src, long xStride, long yStride, int h, int w, int channels, float* dst, PoolKind kind, int windowSize);

    /// <summary><c>output[r] = Σ_j (matrix[r·dim + j] − query[j])²</c> for every row (dim ≥ 1, shapes checked by the caller).</summary>
    internal abstract void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output);

    /// <summary>
    /// <c>output[r] = Σ_j codes[r·dim + j] · query[j]</c> for every row, in 32-bit integers wrapping modulo 2³² (dim ≥ 1,
    /// shapes checked by the caller): the int8 first pass of <see cref="QuantizedRows"/>, whose query is quantized to 16
    /// bits. Exact whenever <c>128 · dim · max|query[j]| &lt; 2³¹</c> (every partial sum then fits), which the search
    /// keeps; every set gives the same bits on any input (integer addition modulo 2³² does not depend on the grouping).
    /// </summary>
    internal abstract void QuantizedDots(ReadOnlySpan<sbyte> codes, int dim, ReadOnlySpan<short> query, Span<int> output);

    /// <summary><c>v = v &gt; 0 ? v : 0</c> in place.</summary>
    internal abstract void Relu(Span<float> values);

    /// <summary>
    /// The input transform of Winograd F(2×2, 3×3), <c>V = Bᵀ d B</c>, for channels [0, <paramref name="channels"/>) of
    /// one 4×4 patch <c>d</c> whose pixel (i, j) starts at <c>src + i·rowStride + j·colStride</c>; element ξ = 4i + j of
    /// <c>V</c> goes to <c>dst + ξ·dstStride</c>. Only additions and subtractions, in the order of
    /// <see cref="WinogradInputScalar"/>, so every set gives the same bits.
    /// </summary>
    internal abstract unsafe void WinogradInput(float* src, long rowStride, long colStride, int channels, float* dst, long dstStride);

    /// <summary>
    /// The output transform of Winograd F(2×2, 3×3), <c>Y = Aᵀ M A</c>, on the <see cref="TileColumns"/> columns of one
    /// tile: element ξ of <c>M</c> is at <c>m + ξ·mStride</c>; output pixel (i, j) of the 2×2 tile goes to
    /// <c>y + i·yRowStride + j·TileColumns</c> (an accumulator block, as the epilogue reads it). Every set gives the same
    /// bits (see <see cref="WinogradOutputScalar"/>).
    /// </summary>
    internal abstract unsafe void WinogradOutput(float* m, long mStride, float* y, long yRowStride);

    /// <summary>
    /// The input transform of the one-dimensional Winograd F(2, 7), <c>V = Bᵀ d</c>, for channels [0,
    /// <paramref name="channels"/>) of a run of 8 pixels <c>d</c> whose pixel i starts at <c>src + i·stride</c> (a row for
    /// 1×7 kernels, a column for 7×1); element ξ of <c>V</c> goes to <c>dst + ξ·dstStride</c>. Bᵀ has integer entries
    /// (see <see cref="Winograd7InputScalar"/>); every set does the same operations in the same order, so the same bits.
    /// </summary>
    internal abstract unsafe void Winograd7Input(float* src, long stride, int channels, float* dst, long dstStride);

    /// <summary>
    /// The output transform of F(2, 7), <c>y = Aᵀ m</c>, on the <see cref="TileColumns"/> columns of one tile: element ξ of
    /// <c>m</c> is at <c>m + ξ·mStride</c>; the tile's first output goes to <c>y</c>, its second to <c>y + yStride</c>. Every
    /// set gives the same bits (see <see cref="Winograd7OutputScalar"/>).
    /// </summary>
    internal abstract unsafe void Winograd7Output(float* m, long mStride, float* y, long yStride);

    /// <summary>
    /// The input transform of the stride-2 form of a 3×3 kernel, <c>V = T d Tᵀ</c>, for channels [0,
    /// <paramref name="channels"/>) of one 5×5 patch <c>d</c> whose pixel (i, j) starts at
    /// <c>src + i·rowStride + j·colStride</c>; element ξ = 5i + j of <c>V</c> goes to <c>dst + ξ·dstStride</c>. T's rows
    /// take (d0 − d2, d2, d4 − d2, d1, d3): F(2, 2)'s Bᵀ on the even rows (columns), the odd ones as they are (see
    /// <see cref="WinogradS2InputScalar"/>); every set does the same subtractions in the same order, so the same bits.
    /// </summary>
    internal abstract unsafe void WinogradS2Input(float* src, long rowStride, long colStride, int channels, float* dst, long dstStride);

    /// <summary>
    /// The output transform of the stride-2 form, <c>Y = S M Sᵀ</c> with <c>S = [1 1 0 1 0; 0 1 1 0 1]</c>, on the
    /// <see cref="TileColumns"/> columns of one tile: element ξ of <c>M</c> (5×5) is at <c>m + ξ·mStride</c>; output pixel
    /// (i, j) of the 2×2 tile goes to <c>y + i·yRowStride + j·TileColumns</c>. Every set gives the same bits (see
    /// <see cref="WinogradS2OutputScalar"/>).
    /// </summary>
    internal abstract unsafe void WinogradS2Output(float* m, long mStride, float* y, long yRowStride);

    /// <summary>
    /// Calls every kernel of this set on a few zeros, so that a process that compiles its kernels at run time (the JIT
    /// build: the vector kernels are never precompiled) does so now rather than inside the first real pass. Meant for a
    /// background thread while weights load: a cold <c>embed</c> of one image otherwise compiles about ten kernels, some
    /// 45 ms on Zen 1, in the middle of its first forward pass. Thread-safe, allocates 64 KiB of native memory for the
    /// call, and changes no state; in a NativeAOT build it only runs the kernels (microseconds). The gallery search's
    /// distance kernels are included; the vector bodies run at widths that also leave their tails some work.
    /// </summary>
    public unsafe void WarmUp()
    {
        float* buffer = (float*)NativeMemory.AlignedAlloc(WarmUpFloats * sizeof(float), 64);
        try
        {
            WarmUp(buffer);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>Floats of the buffer <see cref="WarmUp(float*)"/> works in.</summary>
    internal const int WarmUpFloats = 16 * 1024;

    // The warm-up's calls in `buffer` (WarmUpFloats floats, 64-byte aligned), which it zeroes first: room for the tallest
    // tile (MaxTallTileRows × TileColumns), a 5×5 patch of 32 channels, and the transforms' 25 elements a TileColumns-wide row
    // each; every kernel reads and writes zeros, so the buffer is all zeros after (tested, with a canary past its end).
    internal unsafe void WarmUp(float* buffer)
    {
        NativeMemory.Clear(buffer, WarmUpFloats * sizeof(float));
        float* a = buffer;                    // 1024 floats: a tile's rows of the left operand, or the direct kernel's planes
        float* b = buffer + 1024;             // 1024: one reduction step of a panel, or the direct form
        float* tile = buffer + 2048;          // 2048: the accumulator block (MaxTallTileRows × TileColumns = 384 floats)
        float* output = buffer + 4096;        // 4096: outputs (up to 32 pixels × TileColumns), then biases and slopes
        float* transformed = buffer + 8192;   // 8192: 25 transform elements × TileColumns
        long* offsets = stackalloc long[1];
        offsets[0] = 0;
        var relu = new EpilogueTarget(output, TileColumns, output + 2048, null, 0, 1f, null, relu: true);
        var prelu = new EpilogueTarget(output, TileColumns, output + 2048, null, 0, 1f, output + 2048, relu: false);
        MicroKernel(a, 1, b, 1, tile, accumulate: false, PrefetchFloats);
        if (TallTileRows > 0)
        {
            TallMicroKernel(a, 1, TallTileRows, b, 1, tile, accumulate: false);
        }

        NarrowMicroKernel(a, 1, b, 1, tile, accumulate: false);
        Epilogue(tile, 1, TileColumns, relu);
        Epilogue(tile, 2, 13, prelu); // P-Net's and R-Net's few channels: the narrower vectors and the scalar tail
        DirectSmallInput(a, offsets, 1, b, DirectGroup, DirectPixels, prelu);
        PoolWindow(a, 19, 2 * 19, 2, 2, 19, output, PoolKind.Max, 4); // 19 channels: whole vectors at every width, and a tail
        WinogradInput(a, 4 * 32, 32, 32, transformed, TileColumns);
        WinogradOutput(transformed, TileColumns, tile, 2 * TileColumns);
        Winograd7Input(a, 32, 32, transformed, TileColumns);
        Winograd7Output(transformed, TileColumns, tile, TileColumns);
        WinogradS2Input(a, 5 * 32, 32, 32, transformed, TileColumns);
        WinogradS2Output(transformed, TileColumns, tile, 2 * TileColumns);
        Relu(new Span<float>(output, 64));
        SquaredDistances(new ReadOnlySpan<float>(a, 256), 128, new ReadOnlySpan<float>(b, 128), new Span<float>(output, 2));
        QuantizedDots(new ReadOnlySpan<sbyte>(a, 256), 128, new ReadOnlySpan<short>(b, 128), new Span<int>(output, 2));
    }

    // The reference forms, element by element from `from` on: the scalar set runs them whole, the vector sets on their
    // tails. Vector bodies do the same operations in the same order, so the tails never change a result.

    // The reference direct convolution (see DirectSmallInput): the scalar micro-kernel's running sum (a product rounded,
    // then added) over the taps, then the scalar epilogue's bias and activation.
    private protected static unsafe void DirectSmallInputScalar(float* src, long* offsets, int taps, float* form, int channels, int pixels,
        in EpilogueTarget target)
    {
        for (int p = 0; p < pixels; p++)
        {
            float* dst = target.Output + p * target.OutputStride;
            for (int c = 0; c < channels; c++)
            {
                float* w = form + c / DirectGroup * taps * DirectGroup + c % DirectGroup;
                float acc = 0f;
                for (int t = 0; t < taps; t++)
                {
                    acc += src[offsets[t] + p] * w[t * DirectGroup];
                }

                dst[c] = ActivateScalar(acc + target.Bias[c], c, target);
            }
        }
    }

    // The epilogue's activation of channel j's value: PReLU (the slope's product where v is not above zero), ReLU, or none.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float ActivateScalar(float v, int j, in EpilogueTarget target) =>
        target.NegativeSlopes != null ? (v > 0f ? v : target.NegativeSlopes[j] * v) : target.Relu && v < 0f ? 0f : v;

    private protected static unsafe void EpilogueScalar(float* tile, int rows, int from, int cols, in EpilogueTarget target)
    {
        for (int r = 0; r < rows; r++)
        {
            float* acc = tile + r * TileColumns;
            float* dst = target.Output + r * target.OutputStride;
            float* res = target.Residual == null ? null : target.Residual + r * target.ResidualStride;
            for (int j = from; j < cols; j++)
            {
                float v = acc[j] + target.Bias[j];
                if (res != null)
                {
                    v = res[j] + target.Scale * v;
                }

                dst[j] = ActivateScalar(v, j, target);
            }
        }
    }

    // Bᵀ d B on channels [from, channels): first down each column (t = Bᵀ d), then along each row of t (V = t B), with
    // Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
    private protected static unsafe void WinogradInputScalar(float* src, long rowStride, long colStride, int from, int channels, float* dst, long dstStride)
    {
        float* t = stackalloc float[16];
        for (int c = from; c < channels; c++)
        {
            for (int j = 0; j < 4; j++)
            {
                float d0 = src[j * colStride + c], d1 = src[rowStride + j * colStride + c];
                float d2 = src[2 * rowStride + j * colStride + c], d3 = src[3 * rowStride + j * colStride + c];
                t[j] = d0 - d2;
                t[4 + j] = d1 + d2;
                t[8 + j] = d2 - d1;
                t[12 + j] = d1 - d3;
            }

            for (int i = 0; i < 4; i++)
            {
                float* row = t + 4 * i;
                dst[(4 * i) * dstStride + c] = row[0] - row[2];
                dst[(4 * i + 1) * dstStride + c] = row[1] + row[2];
                dst[(4 * i + 2) * dstStride + c] = row[2] - row[1];
                dst[(4 * i + 3) * dstStride + c] = row[1] - row[3];
            }
        }
    }

    // Aᵀ M A on columns [from, to), with Aᵀ = [1 1 1 0; 0 1 −1 −1]: first down each column (s = Aᵀ M), then along each row.
    private protected static unsafe void WinogradOutputScalar(float* m, long mStride, float* y, long yRowStride, int from, int to)
    {
        float* s = stackalloc float[8]; // s = Aᵀ M, two rows of four
        for (int c = from; c < to; c++)
        {
            for (int j = 0; j < 4; j++)
            {
                float m0 = m[j * mStride + c], m1 = m[(4 + j) * mStride + c], m2 = m[(8 + j) * mStride + c], m3 = m[(12 + j) * mStride + c];
                s[j] = m0 + m1 + m2;
                s[4 + j] = m1 - m2 - m3;
            }

            y[c] = s[0] + s[1] + s[2];
            y[TileColumns + c] = s[1] - s[2] - s[3];
            y[yRowStride + c] = s[4] + s[5] + s[6];
            y[yRowStride + TileColumns + c] = s[5] - s[6] - s[7];
        }
    }

    // Bᵀ d on channels [from, channels) for F(2, 7) at the points 0, 1, −1, ½, −½, 2, −2, ∞ (rows scaled to integers):
    //   V0 = 4(d0 − d6) + 21(d4 − d2)                V7 = 4(d7 − d1) + 21(d3 − d5)
    //   V1, V2 = a1 ± b1, a1 = 17d4 − 4(d2 + d6), b1 = 17d3 − 4(d1 + d5)
    //   V3, V4 = a2 ± b2, a2 = 8d2 − 10d4 + 2d6,  b2 = 4d1 − 5d3 + d5
    //   V5, V6 = a3 ± b3, a3 = d2 − 5d4 + 4d6,    b3 = 2d1 − 10d3 + 8d5
    // Products and sums separately (never fused), in this order, in every set.
    private protected static unsafe void Winograd7InputScalar(float* src, long stride, int from, int channels, float* dst, long dstStride)
    {
        for (int c = from; c < channels; c++)
        {
            float d0 = src[c], d1 = src[stride + c], d2 = src[2 * stride + c], d3 = src[3 * stride + c];
            float d4 = src[4 * stride + c], d5 = src[5 * stride + c], d6 = src[6 * stride + c], d7 = src[7 * stride + c];
            dst[c] = 4f * (d0 - d6) + 21f * (d4 - d2);
            float a1 = 17f * d4 - 4f * (d2 + d6), b1 = 17f * d3 - 4f * (d1 + d5);
            dst[dstStride + c] = a1 + b1;
            dst[2 * dstStride + c] = a1 - b1;
            float a2 = 8f * d2 - 10f * d4 + 2f * d6, b2 = 4f * d1 - 5f * d3 + d5;
            dst[3 * dstStride + c] = a2 + b2;
            dst[4 * dstStride + c] = a2 - b2;
            float a3 = d2 - 5f * d4 + 4f * d6, b3 = 2f * d1 - 10f * d3 + 8f * d5;
            dst[5 * dstStride + c] = a3 + b3;
            dst[6 * dstStride + c] = a3 - b3;
            dst[7 * dstStride + c] = 4f * (d7 - d1) + 21f * (d3 - d5);
        }
    }

    // Aᵀ m on columns [from, to) for F(2, 7), Aᵀ = [1 1 1 1 1 1 1 0; 0 1 −1 ½ −½ 2 −2 1]:
    //   y0 = ((m0 + (m1 + m2)) + (m3 + m4)) + (m5 + m6),  y1 = (((m1 − m2) + ½(m3 − m4)) + 2(m5 − m6)) + m7.
    private protected static unsafe void Winograd7OutputScalar(float* m, long mStride, float* y, long yStride, int from, int to)
    {
        for (int c = from; c < to; c++)
        {
            float m0 = m[c], m1 = m[mStride + c], m2 = m[2 * mStride + c], m3 = m[3 * mStride + c];
            float m4 = m[4 * mStride + c], m5 = m[5 * mStride + c], m6 = m[6 * mStride + c], m7 = m[7 * mStride + c];
            y[c] = m0 + (m1 + m2) + (m3 + m4) + (m5 + m6);
            y[yStride + c] = m1 - m2 + 0.5f * (m3 - m4) + 2f * (m5 - m6) + m7;
        }
    }

    // T d Tᵀ on channels [from, channels) for the stride-2 form: first down each of the five columns (t = T d), then along
    // each row of t (V = t Tᵀ), T's rows giving (d0 − d2, d2, d4 − d2, d1, d3).
    private protected static unsafe void WinogradS2InputScalar(float* src, long rowStride, long colStride, int from, int channels, float* dst, long dstStride)
    {
        float* t = stackalloc float[25];
        for (int c = from; c < channels; c++)
        {
            for (int j = 0; j < 5; j++)
            {
                float* column = src + j * colStride + c;
                float d0 = column[0], d1 = column[rowStride], d2 = column[2 * rowStride], d3 = column[3 * rowStride], d4 = column[4 * rowStride];
                t[j] = d0 - d2;
                t[5 + j] = d2;
                t[10 + j] = d4 - d2;
                t[15 + j] = d1;
                t[20 + j] = d3;
            }

            for (int i = 0; i < 5; i++)
            {
                float* row = t + 5 * i;
                float* target = dst + 5 * i * dstStride + c;
                target[0] = row[0] - row[2];
                target[dstStride] = row[2];
                target[2 * dstStride] = row[4] - row[2];
                target[3 * dstStride] = row[1];
                target[4 * dstStride] = row[3];
            }
        }
    }

    // S M Sᵀ on columns [from, to), S = [1 1 0 1 0; 0 1 1 0 1]: first down each column (s = S M, as (m0 + m1) + m3 and
    // (m1 + m2) + m4), then the same along each row.
    private protected static unsafe void WinogradS2OutputScalar(float* m, long mStride, float* y, long yRowStride, int from, int to)
    {
        float* s = stackalloc float[10]; // s = S M, two rows of five
        for (int c = from; c < to; c++)
        {
            for (int j = 0; j < 5; j++)
            {
                float m0 = m[j * mStride + c], m1 = m[(5 + j) * mStride + c], m2 = m[(10 + j) * mStride + c];
                float m3 = m[(15 + j) * mStride + c], m4 = m[(20 + j) * mStride + c];
                s[j] = m0 + m1 + m3;
                s[5 + j] = m1 + m2 + m4;
            }

            y[c] = s[0] + s[1] + s[3];
            y[TileColumns + c] = s[1] + s[2] + s[4];
            y[yRowStride + c] = s[5] + s[6] + s[8];
            y[yRowStride + TileColumns + c] = s[6] + s[7] + s[9];
        }
    }

    // The reference pool of channels [from, channels), one channel at a time through the whole window.
    private protected static unsafe void PoolWindowScalar(float* src, long xStride, long yStride, int h, int w, int from, int channels, float* dst,
        PoolKind kind, int windowSize)
    {
        int count = h * w;
        for (int c = from; c < channels; c++)
        {
            float acc = 0f;
            bool first = true;
            for (int iy = 0; iy < h; iy++)
            {
                for (int ix = 0; ix < w; ix++)
                {
                    float v = src[iy * yStride + ix * xStride + c];
                    acc = kind switch
                    {
                        PoolKind.Max => first || v > acc ? v : acc,
                        PoolKind.Average => first ? v : acc + v,
                        _ => first ? v * v : MathF.FusedMultiplyAdd(v, v, acc),
                    };
                    first = false;
                }
            }

            if (kind != PoolKind.Max)
            {
                float mean = acc / count;
                acc = kind == PoolKind.L2 ? MathF.Sqrt(mean * windowSize) : mean;
            }

            dst[c] = acc;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static float SquaredScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int from, float sum)
    {
        for (int i = from; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static int QuantizedDotScalar(ReadOnlySpan<sbyte> codes, ReadOnlySpan<short> query, int from, int sum)
    {
        for (int i = from; i < codes.Length; i++)
        {
            sum = unchecked(sum + codes[i] * query[i]);
        }

        return sum;
    }

    private protected static void ReluScalar(Span<float> values, int from)
    {
        for (int i = from; i < values.Length; i++)
        {
            values[i] = values[i] > 0f ? values[i] : 0f;
        }
    }
}

/// <summary>
/// Where a convolution tile's rows go: row r of the tile lands at <c>Output + r·OutputStride</c> (its first channel), after
/// <c>act(residual + scale·(acc + bias))</c>; <c>Bias</c>, <c>NegativeSlopes</c> and the residual row start at the same
/// first channel. A null <c>Residual</c> means none; null <c>NegativeSlopes</c> means ReLU or nothing, per <c>Relu</c>.
/// </summary>
internal readonly unsafe struct EpilogueTarget(float* output, long outputStride, float* bias, float* residual, long residualStride,
    float scale, float* negativeSlopes, bool relu)
{
    public float* Output { get; } = output;

    public long OutputStride { get; } = outputStride;

    public float* Bias { get; } = bias;

    public float* Residual { get; } = residual;

    public long ResidualStride { get; } = residualStride;

    public float Scale { get; } = scale;

    public float* NegativeSlopes { get; } = negativeSlopes;

    public bool Relu { get; } = relu;
}
