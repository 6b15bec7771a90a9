using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// Each kernel of each set, called directly at awkward sizes, against the scalar set (bit for bit where the operations
/// are the same) or a double reference (the micro-kernel, whose summation is fused). Sets are named by level and tile
/// shape; both Vector128 tiles run on every CPU that has Vector128, so the ARM64 (NEON) tile is proven on x64 too.
/// </summary>
public sealed unsafe class KernelSetTests
{
    private static readonly (SimdLevel Level, int TileRows)[] Variants =
    [
        (SimdLevel.Scalar, 1),
        (SimdLevel.Vector128, 3),
        (SimdLevel.Vector128, 6),
        (SimdLevel.Vector256, 3),
        (SimdLevel.Vector512, 6),
    ];

    private static readonly int[] AwkwardSizes = [1, 3, 7, 15, 16, 17, 31, 33, 127, 1000];

    public static IEnumerable<object[]> VariantsAt(params int[] sizes) =>
        sizes.SelectMany(size => Variants.Select(v => new object[] { size, v.Level, v.TileRows }));

    public static IEnumerable<object[]> Reductions => VariantsAt(1, 3, 7, 15, 17, 33, 127, 256);

    public static IEnumerable<object[]> Columns => VariantsAt(1, 3, 4, 7, 10, 15, 16, 17, 31, 32);

    public static IEnumerable<object[]> Lengths => VariantsAt(AwkwardSizes);

    public static IEnumerable<object[]> AllVariants => Variants.Select(v => new object[] { v.Level, v.TileRows });

    private static KernelSet Resolve(SimdLevel level, int tileRows)
    {
        SimdLevels.SkipIfUnavailable(level);
        return KernelSet.AllVariants.Single(s => s.Level == level && s.TileRows == tileRows);
    }

    [SkippableTheory]
    [MemberData(nameof(Reductions))]
    public void Micro_kernel_matches_a_double_reference_fresh_and_accumulating(int k, SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        const int nr = KernelSet.TileColumns;
        int lda = k + 3; // rows of A are not packed: the kernel must follow lda
        var a = TestData.Uniform(tileRows * lda, 41);
        var b = TestData.Uniform(k * nr, 42);
        var start = TestData.Uniform(tileRows * nr, 43);
        foreach (bool accumulate in new[] { false, true })
        {
            var tile = accumulate ? (float[])start.Clone() : Enumerable.Repeat(float.NaN, tileRows * nr).ToArray(); // fresh must overwrite
            fixed (float* ap = a)
            fixed (float* bp = b)
            fixed (float* tp = tile)
            {
                kernels.MicroKernel(ap, lda, bp, k, tp, accumulate, prefetch: 0);
            }

            var expected = new double[tileRows * nr];
            for (int r = 0; r < tileRows; r++)
            {
                for (int j = 0; j < nr; j++)
                {
                    double sum = accumulate ? start[r * nr + j] : 0;
                    for (int p = 0; p < k; p++)
                    {
                        sum += (double)a[r * lda + p] * b[p * nr + j];
                    }

                    expected[r * nr + j] = sum;
                }
            }

            // Float accumulation of k ≤ 256 products of magnitude ≤ 1: |error| ≲ k·2^-24·Σ|terms| ≪ 5e-5 (as Conv2DTests).
            Assert.InRange(TestData.MaxAbsDiff(tile, expected), 0, 5e-5);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Reductions))]
    public void Prefetching_never_changes_a_micro_kernel_value_even_ahead_of_the_panels_end(int k, SimdLevel level, int tileRows)
    {
        // The hint reaches PrefetchFloats past each step, so past the end of b for every step of these short panels, and,
        // at a megabyte ahead, most likely into memory that is not mapped at all: a prefetch must not fault there.
        var kernels = Resolve(level, tileRows);
        const int nr = KernelSet.TileColumns;
        var a = TestData.Uniform(tileRows * k, 47);
        var b = TestData.Uniform(k * nr, 48);
        var start = TestData.Uniform(tileRows * nr, 49);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] Run(int prefetch)
            {
                var tile = (float[])start.Clone();
                fixed (float* ap = a)
                fixed (float* bp = b)
                fixed (float* tp = tile)
                {
                    kernels.MicroKernel(ap, k, bp, k, tp, accumulate, prefetch);
                }

                return tile;
            }

            var plain = Run(0).Select(BitConverter.SingleToInt32Bits).ToArray();
            Assert.Equal(plain, Run(KernelSet.PrefetchFloats).Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(plain, Run(1 << 18).Select(BitConverter.SingleToInt32Bits));
        }
    }

    public static IEnumerable<object[]> TallCases =>
        from rows in Enumerable.Range(7, 6) from k in new[] { 1, 3, 17, 256, 1000 } select new object[] { rows, k };

    [SkippableTheory]
    [MemberData(nameof(TallCases))]
    public void Tall_micro_kernel_gives_the_six_row_kernels_values_bit_for_bit_and_reads_no_row_past_the_last(int rows, int k)
    {
        // Only the 512-bit set has a tall tile (TallTileRows 12); the others report 0 and are never asked for one.
        Assert.All(KernelSet.AllVariants.Where(set => set.Level != SimdLevel.Vector512), set => Assert.Equal(0, set.TallTileRows));
        var kernels = Resolve(SimdLevel.Vector512, 6);
        Assert.Equal(KernelSet.MaxTallTileRows, kernels.TallTileRows);
        const int nr = KernelSet.TileColumns, tall = KernelSet.MaxTallTileRows;
        int lda = k + 3;
        // Rows past `rows` are NaN: a kernel that read them would put NaN into the tile's spare rows.
        var a = TestData.Uniform(tall * lda, 61);
        Array.Fill(a, float.NaN, rows * lda, (tall - rows) * lda);
        var b = TestData.Uniform(k * nr, 62);
        var start = TestData.Uniform(tall * nr, 63);
        foreach (bool accumulate in new[] { false, true })
        {
            // The six-row kernel over rows 0..5, then over rows 6.. with the last real row standing in for the missing ones.
            var expected = (float[])start.Clone();
            var second = new float[6 * lda];
            for (int r = 0; r < 6; r++)
            {
                Array.Copy(a, Math.Min(6 + r, rows - 1) * lda, second, r * lda, lda);
            }

            var tile = accumulate ? (float[])start.Clone() : Enumerable.Repeat(float.NaN, tall * nr).ToArray(); // fresh must overwrite
            fixed (float* ap = a)
            fixed (float* sp = second)
            fixed (float* bp = b)
            fixed (float* ep = expected)
            fixed (float* tp = tile)
            {
                kernels.MicroKernel(ap, lda, bp, k, ep, accumulate, prefetch: 0);
                kernels.MicroKernel(sp, lda, bp, k, ep + 6 * nr, accumulate, prefetch: 0);
                kernels.TallMicroKernel(ap, lda, rows, bp, k, tp, accumulate);
            }

            for (int i = 0; i < rows * nr; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(tile[i]),
                    $"rows={rows} k={k} accumulate={accumulate}: row {i / nr}, column {i % nr} is {tile[i]}, expected {expected[i]}");
            }

            Assert.All(tile, value => Assert.False(float.IsNaN(value)));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Reductions))]
    public void Narrow_micro_kernel_gives_the_wide_kernels_first_16_columns_bit_for_bit_and_leaves_the_rest(int k, SimdLevel level, int tileRows)
    {
        // The narrow tile's rows are the wide tile's rows (32 floats apart); its panel is the wide panel's first 16 columns.
        var kernels = Resolve(level, tileRows);
        const int nr = KernelSet.TileColumns, narrow = PackedConvWeights.NarrowPanelWidth;
        int rows = kernels.NarrowTileRows, lda = k + 5;
        Assert.True(rows <= KernelSet.MaxTileRows && Conv2D.RowBlock % rows == 0 && Conv2D.MaxSingleRowBlock % rows == 0, kernels.ToString());
        var a = TestData.Uniform(rows * lda, 44);
        var wide = TestData.Uniform(k * nr, 45);
        var b = new float[k * narrow];
        for (int p = 0; p < k; p++)
        {
            Array.Copy(wide, p * nr, b, p * narrow, narrow);
        }

        var start = TestData.Uniform(rows * nr, 46);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (float[])start.Clone();
            var tile = (float[])start.Clone(); // columns 16..31 must come back as they were
            if (!accumulate)
            {
                for (int r = 0; r < rows; r++)
                {
                    Array.Fill(tile, float.NaN, r * nr, narrow); // fresh must overwrite
                }
            }

            fixed (float* ap = a)
            fixed (float* wp = wide)
            fixed (float* bp = b)
            fixed (float* ep = expected)
            fixed (float* tp = tile)
            {
                // The wide kernel, a tile of its own height at a time, over the same rows.
                for (int r0 = 0; r0 < rows; r0 += kernels.TileRows)
                {
                    var block = new float[kernels.TileRows * nr];
                    Array.Copy(start, r0 * nr, block, 0, Math.Min(block.Length, (rows - r0) * nr));
                    var rowsA = new float[kernels.TileRows * lda];
                    Array.Copy(a, r0 * lda, rowsA, 0, Math.Min(rowsA.Length, (rows - r0) * lda));
                    fixed (float* blockp = block)
                    fixed (float* rap = rowsA)
                    {
                        kernels.MicroKernel(rap, lda, wp, k, blockp, accumulate, prefetch: 0);
                    }

                    for (int r = r0; r < Math.Min(rows, r0 + kernels.TileRows); r++)
                    {
                        Array.Copy(block, (r - r0) * nr, expected, r * nr, narrow);
                    }
                }

                kernels.NarrowMicroKernel(ap, lda, bp, k, tp, accumulate);
            }

            for (int i = 0; i < tile.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(tile[i]),
                    $"{kernels} k={k} accumulate={accumulate}: row {i / nr}, column {i % nr} is {tile[i]}, expected {expected[i]}");
            }
        }
    }

    public enum EpilogueMode
    {
        Bias,
        BiasRelu,
        ResidualRelu,
        ResidualInPlace, // the residual is the output itself (Inception-ResNet's blocks): a tail vector must not overlap
        Prelu,
    }

    public static IEnumerable<object[]> EpilogueCases =>
        Columns.SelectMany(row => Enum.GetValues<EpilogueMode>().Select(mode => (object[])[.. row, mode]));

    [SkippableTheory]
    [MemberData(nameof(EpilogueCases))]
    public void Epilogue_is_bit_identical_to_the_scalar_set_and_writes_only_its_columns(int cols, SimdLevel level, int tileRows, EpilogueMode mode)
    {
        var kernels = Resolve(level, tileRows);
        const int stride = 37; // output and residual rows are pixels of a wider tensor
        var tile = TestData.Uniform(tileRows * KernelSet.TileColumns, 51);
        var bias = TestData.Uniform(KernelSet.TileColumns, 52);
        var slopes = TestData.Uniform(KernelSet.TileColumns, 53);
        var residual = TestData.Uniform(tileRows * stride, 54);
        tile[0] = -bias[0]; // a zero sum, -0 or +0 by the order of operations
        var expected = Run(KernelSet.For(SimdLevel.Scalar));
        var actual = Run(kernels);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        bool inPlace = mode == EpilogueMode.ResidualInPlace;
        for (int r = 0; r < tileRows; r++)
        {
            for (int j = cols; j < stride; j++)
            {
                Assert.Equal(inPlace ? residual[r * stride + j] : -7f, actual[r * stride + j]);
            }
        }

        float[] Run(KernelSet set)
        {
            bool residualMode = mode is EpilogueMode.ResidualRelu or EpilogueMode.ResidualInPlace;
            var output = mode == EpilogueMode.ResidualInPlace ? (float[])residual.Clone() : Enumerable.Repeat(-7f, tileRows * stride).ToArray();
            var separate = (float[])residual.Clone();
            fixed (float* t = tile)
            fixed (float* o = output)
            fixed (float* bi = bias)
            fixed (float* s = slopes)
            fixed (float* res = separate)
            {
                float* residualRows = mode == EpilogueMode.ResidualInPlace ? o : residualMode ? res : null;
                var target = new EpilogueTarget(o, stride, bi, residualRows, stride, residualMode ? 0.17f : 1f,
                    mode == EpilogueMode.Prelu ? s : null, mode is EpilogueMode.BiasRelu or EpilogueMode.ResidualRelu or EpilogueMode.ResidualInPlace);
                set.Epilogue(t, tileRows, cols, target);
            }

            return output;
        }
    }

    // Channel counts: the awkward sizes, and 4, 5, 8 and 32 (one 128-bit vector, one past it, one 256-bit vector, a panel).
    public static IEnumerable<object[]> WinogradChannels => VariantsAt([.. AwkwardSizes, 4, 5, 8, 32]);

    [SkippableTheory]
    [MemberData(nameof(WinogradChannels))]
    public void Winograd_input_transform_is_bt_d_b_and_bit_identical_to_the_scalar_set(int channels, SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        // The patch is read from a wider tensor (pixels channels + 3 floats apart, rows 5 pixels apart) and written with
        // rows channels + 2 apart, so a kernel that assumed dense pixels, rows or output would be caught.
        long colStride = channels + 3, rowStride = 5 * colStride, dstStride = channels + 2;
        var values = TestData.Uniform((int)(4 * rowStride), 81);
        var expected = Run(KernelSet.For(SimdLevel.Scalar), values);
        var actual = Run(kernels, values);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));

        // Small integers make every sum exact: V must be Bᵀ d B element for element.
        var random = new Random(channels);
        var integers = values.Select(_ => (float)random.Next(-50, 51)).ToArray();
        var v = Run(kernels, integers);
        int[,] bt = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } };
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < 4; i++)
            {
                for (int j = 0; j < 4; j++)
                {
                    float sum = 0;
                    for (int a = 0; a < 4; a++)
                    {
                        for (int b = 0; b < 4; b++)
                        {
                            sum += bt[i, a] * integers[a * rowStride + b * colStride + c] * bt[j, b];
                        }
                    }

                    Assert.Equal(sum, v[(4 * i + j) * dstStride + c]);
                }
            }
        }

        float[] Run(KernelSet set, float[] patch)
        {
            var dst = Enumerable.Repeat(float.NaN, (int)(16 * dstStride)).ToArray();
            fixed (float* src = patch)
            fixed (float* d = dst)
            {
                set.WinogradInput(src, rowStride, colStride, channels, d, dstStride);
            }

            for (int xi = 0; xi < 16; xi++)
            {
                Assert.True(dst.Skip(xi * (int)dstStride + channels).Take(2).All(float.IsNaN), $"{set} wrote past {channels} channels");
            }

            return dst;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(AllVariants))]
    public void Winograd_output_transform_is_at_m_a_and_bit_identical_to_the_scalar_set(SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        const int tc = KernelSet.TileColumns;
        const long mStride = tc + 8, yRowStride = 3 * tc + 5; // neither dense: the kernel must use the strides it is given
        var values = TestData.Uniform((int)(16 * mStride), 82);
        Assert.Equal(Run(KernelSet.For(SimdLevel.Scalar), values).Select(BitConverter.SingleToInt32Bits), Run(kernels, values).Select(BitConverter.SingleToInt32Bits));

        var random = new Random(83);
        var integers = values.Select(_ => (float)random.Next(-50, 51)).ToArray();
        var y = Run(kernels, integers);
        int[,] at = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };
        for (int c = 0; c < tc; c++)
        {
            for (int i = 0; i < 2; i++)
            {
                for (int j = 0; j < 2; j++)
                {
                    float sum = 0;
                    for (int a = 0; a < 4; a++)
                    {
                        for (int b = 0; b < 4; b++)
                        {
                            sum += at[i, a] * integers[(4 * a + b) * mStride + c] * at[j, b];
                        }
                    }

                    Assert.Equal(sum, y[i * yRowStride + j * tc + c]);
                }
            }
        }

        float[] Run(KernelSet set, float[] m)
        {
            var dst = Enumerable.Repeat(float.NaN, (int)(2 * yRowStride)).ToArray();
            fixed (float* src = m)
            fixed (float* d = dst)
            {
                set.WinogradOutput(src, mStride, d, yRowStride);
            }

            // Only the 2×2 pixels' 32 columns each are written.
            Assert.Equal(4 * tc, dst.Count(v => !float.IsNaN(v)));
            return dst;
        }
    }

    // T of the stride-2 3×3 form: F(2, 2)'s Bᵀ on rows 0, 2, 4 of the patch, rows 1 and 3 as they are; S takes the
    // products back (tools/winograd/stride2.py checks S[(H g Hᵀ) ⊙ (T d Tᵀ)]Sᵀ against the stride-2 correlation).
    private static readonly int[,] TS2 = { { 1, 0, -1, 0, 0 }, { 0, 0, 1, 0, 0 }, { 0, 0, -1, 0, 1 }, { 0, 1, 0, 0, 0 }, { 0, 0, 0, 1, 0 } };

    private static readonly int[,] SS2 = { { 1, 1, 0, 1, 0 }, { 0, 1, 1, 0, 1 } };

    [SkippableTheory]
    [MemberData(nameof(WinogradChannels))]
    public void Stride2_input_transform_is_t_d_tt_and_bit_identical_to_the_scalar_set(int channels, SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        // A 5×5 patch of a wider tensor (pixels channels + 3 floats apart, rows 6 pixels apart), output rows channels + 2
        // apart: a kernel assuming dense pixels, rows or output is caught.
        long colStride = channels + 3, rowStride = 6 * colStride, dstStride = channels + 2;
        var values = TestData.Uniform((int)(5 * rowStride), 91);
        Assert.Equal(Run(KernelSet.For(SimdLevel.Scalar), values).Select(BitConverter.SingleToInt32Bits), Run(kernels, values).Select(BitConverter.SingleToInt32Bits));

        // Small integers make every sum exact: V must be T d Tᵀ element for element.
        var random = new Random(channels + 90);
        var integers = values.Select(_ => (float)random.Next(-50, 51)).ToArray();
        var v = Run(kernels, integers);
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < 5; i++)
            {
                for (int j = 0; j < 5; j++)
                {
                    float sum = 0;
                    for (int a = 0; a < 5; a++)
                    {
                        for (int b = 0; b < 5; b++)
                        {
                            sum += TS2[i, a] * integers[a * rowStride + b * colStride + c] * TS2[j, b];
                        }
                    }

                    Assert.Equal(sum, v[(5 * i + j) * dstStride + c]);
                }
            }
        }

        float[] Run(KernelSet set, float[] patch)
        {
            var dst = Enumerable.Repeat(float.NaN, (int)(25 * dstStride)).ToArray();
            fixed (float* src = patch)
            fixed (float* d = dst)
            {
                set.WinogradS2Input(src, rowStride, colStride, channels, d, dstStride);
            }

            for (int xi = 0; xi < 25; xi++)
            {
                Assert.True(dst.Skip(xi * (int)dstStride + channels).Take(2).All(float.IsNaN), $"{set} wrote past {channels} channels");
            }

            return dst;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(AllVariants))]
    public void Stride2_output_transform_is_s_m_st_and_bit_identical_to_the_scalar_set(SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        const int tc = KernelSet.TileColumns;
        const long mStride = tc + 8, yRowStride = 3 * tc + 5; // neither dense: the kernel must use the strides it is given
        var values = TestData.Uniform((int)(25 * mStride), 92);
        Assert.Equal(Run(KernelSet.For(SimdLevel.Scalar), values).Select(BitConverter.SingleToInt32Bits), Run(kernels, values).Select(BitConverter.SingleToInt32Bits));

        var random = new Random(93);
        var integers = values.Select(_ => (float)random.Next(-50, 51)).ToArray();
        var y = Run(kernels, integers);
        for (int c = 0; c < tc; c++)
        {
            for (int i = 0; i < 2; i++)
            {
                for (int j = 0; j < 2; j++)
                {
                    float sum = 0;
                    for (int a = 0; a < 5; a++)
                    {
                        for (int b = 0; b < 5; b++)
                        {
                            sum += SS2[i, a] * integers[(5 * a + b) * mStride + c] * SS2[j, b];
                        }
                    }

                    Assert.Equal(sum, y[i * yRowStride + j * tc + c]);
                }
            }
        }

        float[] Run(KernelSet set, float[] m)
        {
            var dst = Enumerable.Repeat(float.NaN, (int)(2 * yRowStride)).ToArray();
            fixed (float* src = m)
            fixed (float* d = dst)
            {
                set.WinogradS2Output(src, mStride, d, yRowStride);
            }

            // Only the 2×2 pixels' 32 columns each are written.
            Assert.Equal(4 * tc, dst.Count(v => !float.IsNaN(v)));
            return dst;
        }
    }

    // Bᵀ of F(2, 7) at the points 0, 1, −1, ½, −½, 2, −2, ∞, rows scaled to integers (tools/winograd/f27.py derives it).
    private static readonly int[,] Bt7 =
    {
        { 4, 0, -21, 0, 21, 0, -4, 0 },
        { 0, -4, -4, 17, 17, -4, -4, 0 },
        { 0, 4, -4, -17, 17, 4, -4, 0 },
        { 0, 4, 8, -5, -10, 1, 2, 0 },
        { 0, -4, 8, 5, -10, -1, 2, 0 },
        { 0, 2, 1, -10, -5, 8, 4, 0 },
        { 0, -2, 1, 10, -5, -8, 4, 0 },
        { 0, -4, 0, 21, 0, -21, 0, 4 },
    };

    [SkippableTheory]
    [MemberData(nameof(WinogradChannels))]
    public void Winograd7_input_transform_is_bt_d_and_bit_identical_to_the_scalar_set(int channels, SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        // The 8 pixels are channels + 3 floats apart (a row of a wider tensor, or a column) and the output rows channels + 2
        // apart, so a kernel that assumed dense pixels or output would be caught.
        long stride = channels + 3, dstStride = channels + 2;
        var values = TestData.Uniform((int)(8 * stride), 84);
        Assert.Equal(Run(KernelSet.For(SimdLevel.Scalar), values).Select(BitConverter.SingleToInt32Bits), Run(kernels, values).Select(BitConverter.SingleToInt32Bits));

        // Small integers keep every product and sum exact (|V| ≤ 50·50 < 2²⁴): V must be Bᵀ d element for element.
        var random = new Random(channels);
        var integers = values.Select(_ => (float)random.Next(-50, 51)).ToArray();
        var v = Run(kernels, integers);
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < 8; i++)
            {
                int sum = 0;
                for (int a = 0; a < 8; a++)
                {
                    sum += Bt7[i, a] * (int)integers[a * stride + c];
                }

                Assert.Equal(sum, v[i * dstStride + c]);
            }
        }

        float[] Run(KernelSet set, float[] run)
        {
            var dst = Enumerable.Repeat(float.NaN, (int)(8 * dstStride)).ToArray();
            fixed (float* src = run)
            fixed (float* d = dst)
            {
                set.Winograd7Input(src, stride, channels, d, dstStride);
            }

            for (int xi = 0; xi < 8; xi++)
            {
                Assert.True(dst.Skip(xi * (int)dstStride + channels).Take(2).All(float.IsNaN), $"{set} wrote past {channels} channels");
            }

            return dst;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(AllVariants))]
    public void Winograd7_output_transform_is_at_m_and_bit_identical_to_the_scalar_set(SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        const int tc = KernelSet.TileColumns;
        const long mStride = tc + 8, yStride = 3 * tc + 5; // neither dense: the kernel must use the strides it is given
        var values = TestData.Uniform((int)(8 * mStride), 85);
        Assert.Equal(Run(KernelSet.For(SimdLevel.Scalar), values).Select(BitConverter.SingleToInt32Bits), Run(kernels, values).Select(BitConverter.SingleToInt32Bits));

        // Even integers: halving m3 − m4 stays exact, so y must be Aᵀ m exactly, Aᵀ = [1 1 1 1 1 1 1 0; 0 1 −1 ½ −½ 2 −2 1].
        var random = new Random(86);
        var integers = values.Select(_ => (float)(2 * random.Next(-50, 51))).ToArray();
        var y = Run(kernels, integers);
        double[,] at = { { 1, 1, 1, 1, 1, 1, 1, 0 }, { 0, 1, -1, 0.5, -0.5, 2, -2, 1 } };
        for (int c = 0; c < tc; c++)
        {
            for (int i = 0; i < 2; i++)
            {
                double sum = 0;
                for (int a = 0; a < 8; a++)
                {
                    sum += at[i, a] * integers[a * mStride + c];
                }

                Assert.Equal(sum, y[i * yStride + c]);
            }
        }

        float[] Run(KernelSet set, float[] m)
        {
            var dst = Enumerable.Repeat(float.NaN, (int)(2 * yStride)).ToArray();
            fixed (float* src = m)
            fixed (float* d = dst)
            {
                set.Winograd7Output(src, mStride, d, yStride);
            }

            // Only the tile's two outputs' 32 columns each are written.
            Assert.Equal(2 * tc, dst.Count(v => !float.IsNaN(v)));
            return dst;
        }
    }

    // Channel counts: the awkward sizes, and 4, 5 and 10 (one 128-bit vector, one past it, and MTCNN's P-Net).
    public static IEnumerable<object[]> PoolCases =>
        VariantsAt([.. AwkwardSizes, 4, 5, 10]).SelectMany(row => Enum.GetNames<PoolKind>().Select(kind => (object[])[.. row, kind]));

    [SkippableTheory]
    [MemberData(nameof(PoolCases))]
    public void Pooling_windows_are_bit_identical_to_the_scalar_set_and_write_only_their_channels(int channels, SimdLevel level, int tileRows, string poolKind)
    {
        var kernels = Resolve(level, tileRows);
        var kind = Enum.Parse<PoolKind>(poolKind);
        // Windows of 1×1, 2×2 (P-Net's pool) and 3×2 pixels, read from a wider tensor: pixels channels + 5 floats apart,
        // rows 4 pixels apart, so a kernel that assumed dense pixels or rows would read the wrong values.
        long xStride = channels + 5, yStride = 4 * xStride;
        var input = TestData.Uniform((int)(3 * yStride), 61);
        input[0] = input[xStride] = 0.75f; // a tie in max (the first of two equal values stays)
        input[1 % channels] = -0f;
        if (kind == PoolKind.Max && channels >= 5)
        {
            // Which operand wins: +0 then −0 keeps +0, a NaN after a number keeps the number, a NaN first stays. A max taken
            // the other way round gives −0, NaN and 2 in these channels, and IEEE's maximum +0, NaN and NaN.
            (input[2], input[xStride + 2]) = (0f, -0f);
            (input[3], input[xStride + 3]) = (1f, float.NaN);
            (input[4], input[xStride + 4]) = (float.NaN, 2f);
        }

        foreach (var (h, w) in new[] { (1, 1), (2, 2), (3, 2) })
        {
            var expected = Run(KernelSet.For(SimdLevel.Scalar), h, w);
            var actual = Run(kernels, h, w);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"{kernels} {kind} {h}x{w}, {channels} channels: value {i} is {actual[i]}, the scalar set gives {expected[i]}");
            }
        }

        float[] Run(KernelSet set, int h, int w)
        {
            var dst = Enumerable.Repeat(float.NaN, channels + 3).ToArray(); // the 3 past the channels must stay NaN
            fixed (float* ip = input)
            fixed (float* dp = dst)
            {
                set.PoolWindow(ip, xStride, yStride, h, w, channels, dp, kind, 9);
            }

            Assert.True(dst.Skip(channels).All(float.IsNaN), $"{set} wrote past {channels} channels");
            return dst;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Lengths))]
    public void Relu_and_distances_follow_the_scalar_set(int length, SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        var x = TestData.Uniform(length, 71);
        x[0] = -0f;
        var relu = (float[])x.Clone();
        kernels.Relu(relu);
        Assert.Equal(x.Select(v => v > 0f ? v : 0f), relu);

        const int rows = 5;
        var matrix = TestData.Uniform(rows * length, 72);
        var distances = new float[rows];
        kernels.SquaredDistances(matrix, length, x, distances);
        for (int r = 0; r < rows; r++)
        {
            float expected = VectorSearch.SquaredScalar(matrix.AsSpan(r * length, length), x);
            Assert.InRange(Math.Abs(distances[r] - expected), 0, 1e-5 * Math.Max(1, expected)); // lane-wise partial sums
        }
    }

    // Whole 512-bit steps (32 codes) with no tail, and past 512 where the wrapping case leaves int32.
    public static IEnumerable<object[]> QuantizedLengths => VariantsAt([.. AwkwardSizes, 64, 128, 600]);

    [SkippableTheory]
    [MemberData(nameof(QuantizedLengths))]
    public void Quantized_dots_are_the_exact_integer_sums_and_rows_alone_match_blocks(int dim, SimdLevel level, int tileRows)
    {
        // The search rests on the dots being exact while 128·dim·max|q| < 2³¹ (VectorSearch.QuantizeQuery keeps that);
        // past it, every level still gives the sum modulo 2³², the same bits. Codes span all of sbyte, −128 included.
        var kernels = Resolve(level, tileRows);
        short limit = (short)Math.Min(short.MaxValue, int.MaxValue / (128L * dim));
        var alone = new int[1];
        foreach (bool wrapping in new[] { false, true })
        {
            foreach (int rows in new[] { 0, 1, 3, 4, 5, 7, 9 })
            {
                var random = new Random(dim * 31 + rows + (wrapping ? 7 : 0));
                var query = Enumerable.Range(0, dim).Select(_ => wrapping ? (short)random.Next(short.MinValue, short.MaxValue + 1) : (short)random.Next(-limit, limit + 1)).ToArray();
                if (!wrapping)
                {
                    query[random.Next(dim)] = (short)-limit; // the extreme the search allows, against −128 below
                }

                var codes = Enumerable.Range(0, rows * dim).Select(_ => (sbyte)random.Next(-128, 128)).ToArray();
                if (wrapping && rows > 0)
                {
                    for (int j = 0; j < dim; j++)
                    {
                        (codes[j], query[j]) = ((sbyte)-128, short.MinValue); // the largest products, 2²² each: the first row's sum leaves int32 from dim 512 on
                    }
                }

                var output = Enumerable.Repeat(12345, rows + 1).ToArray();
                kernels.QuantizedDots(codes, dim, query, output);
                Assert.Equal(12345, output[rows]); // the rest is left alone
                for (int r = 0; r < rows; r++)
                {
                    long exact = 0;
                    for (int j = 0; j < dim; j++)
                    {
                        exact += codes[r * dim + j] * query[j];
                    }

                    if (!wrapping)
                    {
                        Assert.InRange(exact, int.MinValue, int.MaxValue);
                    }

                    Assert.Equal(unchecked((int)exact), output[r]);
                    kernels.QuantizedDots(codes.AsSpan(r * dim, dim), dim, query, alone); // four rows at a time or one: the same bits
                    Assert.Equal(output[r], alone[0]);
                }
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(AllVariants))]
    public void Kernels_do_not_allocate(SimdLevel level, int tileRows)
    {
        var kernels = Resolve(level, tileRows);
        const int k = 33, length = 127;
        var a = TestData.Uniform(KernelSet.MaxTallTileRows * k, 81);
        var b = TestData.Uniform(k * KernelSet.TileColumns, 82);
        var tile = new float[KernelSet.MaxTallTileRows * KernelSet.TileColumns];
        var output = new float[tileRows * KernelSet.TileColumns];
        var bias = new float[KernelSet.TileColumns];
        var src = TestData.Uniform(length, 83);
        var dst = new float[length];
        var distances = new float[1];
        var codes = new sbyte[5 * length];
        var query16 = new short[length];
        var dots = new int[5];
        void Once()
        {
            fixed (float* ap = a)
            fixed (float* bp = b)
            fixed (float* tp = tile)
            fixed (float* op = output)
            fixed (float* bi = bias)
            {
                kernels.MicroKernel(ap, k, bp, k, tp, accumulate: false, KernelSet.PrefetchFloats);
                kernels.NarrowMicroKernel(ap, k, bp, k, tp, accumulate: false);
                if (kernels.TallTileRows > 0)
                {
                    kernels.TallMicroKernel(ap, k, kernels.TallTileRows, bp, k, tp, accumulate: false);
                }

                kernels.Epilogue(tp, tileRows, 29, new EpilogueTarget(op, KernelSet.TileColumns, bi, null, 0, 1f, null, relu: true));
            }

            fixed (float* sp = src)
            fixed (float* dp = dst)
            {
                kernels.PoolWindow(sp, 13, 40, 3, 3, 10, dp, PoolKind.L2, 9); // 10 channels: 128-bit vectors, the last one overlapping
                kernels.PoolWindow(sp, 13, 40, 2, 2, 13, dp, PoolKind.Max, 4);
            }

            kernels.SquaredDistances(src, length, dst, distances);
            kernels.QuantizedDots(codes, length, query16, dots);
            kernels.Relu(dst);
        }

        Once();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Once();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    public static TheoryData<int, int, int, int, int, int, int, int, PaddingMode> ConvCasesOnTheOtherVector128Tile => Conv2DTests.Cases;

    [SkippableTheory]
    [MemberData(nameof(ConvCasesOnTheOtherVector128Tile))]
    public void Convolution_on_the_vector128_tile_of_the_other_architecture_matches_reference(int n, int h, int w, int cin, int cout, int kh, int kw, int stride, PaddingMode padding)
    {
        // KernelSet.For(Vector128) runs the tile of this CPU through Conv2DTests; this runs the other one (3 rows on ARM64, 6 on x64).
        var kernels = Resolve(SimdLevel.Vector128, Vector128Kernels.TileRowsForThisCpu == 6 ? 3 : 6);
        using var pool = new WorkerPool(3);
        var geometry = new WindowGeometry(kh, kw, stride, stride, padding);
        var x = TestData.Uniform(n * h * w * cin, 1);
        var kernel = TestData.Uniform(kh * kw * cin * cout, 2);
        var bias = TestData.Uniform(cout, 3);
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, kh, kw, cout, bias, geometry, relu: true);
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        var y = new float[n * oh * ow * cout];
        Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), new PackedConvWeights(kernel, kh, kw, cin, cout, bias), geometry,
            TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: true), kernels, pool);
        Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, 5e-5);
    }

    [SkippableFact]
    public void Vector_sets_with_fma_give_bit_identical_convolutions()
    {
        // Every vector micro-kernel accumulates each output as one fused multiply-add per reduction step, in the same
        // order whatever the tile: the width changes the speed, not the numbers (the scalar set rounds the product first).
        var sets = KernelSet.AllVariants.Where(s => s.Level != SimdLevel.Scalar && s.Level <= Simd.Best).ToArray();
        Skip.If(sets.Length < 2 || !(Fma.IsSupported || AdvSimd.IsSupported), "needs two vector sets with FMA");
        var first = ThreeConvolutions(sets[0], 91);
        Assert.All(sets.Skip(1), set => Assert.Equal(first, ThreeConvolutions(set, 91)));
    }

    // A stride-2 3×3 over 17 channels, a Winograd-sized 3×3 (70 → 40), and a 1×1 over one ragged column (5 → 96), through
    // `set` on two workers, with data from `seed` on: the outputs one after another.
    private static float[] ThreeConvolutions(KernelSet set, int seed)
    {
        using var pool = new WorkerPool(2);
        var outputs = new List<float>();
        foreach (var (n, h, w, cin, cout, k, stride) in new[] { (1, 17, 15, 17, 33, 3, 2), (2, 9, 9, 70, 40, 3, 1), (1, 97, 1, 5, 96, 1, 1) })
        {
            var geometry = WindowGeometry.Square(k, stride, PaddingMode.Same);
            var x = TestData.Uniform(n * h * w * cin, seed);
            var packed = new PackedConvWeights(TestData.Uniform(k * k * cin * cout, seed + 1), k, k, cin, cout, TestData.Uniform(cout, seed + 2));
            var (oh, ow, _, _) = geometry.Resolve(h, w);
            var y = new float[n * oh * ow * cout];
            Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), packed, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: true), set, pool);
            outputs.AddRange(y);
        }

        return [.. outputs];
    }

    [SkippableFact]
    public void Without_fma_the_vector128_set_gives_the_scalar_sets_convolutions_bit_for_bit()
    {
        // A CPU without FMA (x64 without AVX: .ci/run's DOTNET_EnableAVX=0 pass) rounds each product before adding it, as
        // the scalar set does, in the same reduction order, so the 128-bit set must give the scalar set's exact bits
        // (stride 1 and 2, 1x1 and 3x3, Winograd-sized channel counts, ragged tiles).
        SimdLevels.SkipIfUnavailable(SimdLevel.Vector128);
        Skip.If(Fma.IsSupported || AdvSimd.IsSupported, "this CPU fuses x·y + z; runs where there is no FMA (DOTNET_EnableAVX=0 on x64)");
        Assert.Equal(ThreeConvolutions(KernelSet.For(SimdLevel.Scalar), 94).Select(BitConverter.SingleToInt32Bits),
            ThreeConvolutions(KernelSet.For(SimdLevel.Vector128), 94).Select(BitConverter.SingleToInt32Bits));
    }

    [SkippableFact]
    public void Dotnet_enable_avx_0_turns_avx_and_fma_off_for_the_process()
    {
        // .ci/run's no-AVX pass counts on the runtime's switch: ignored or renamed, the pass would quietly rerun AVX2 code.
        Skip.IfNot(Environment.GetEnvironmentVariable("DOTNET_EnableAVX") == "0", "runs in .ci/run's DOTNET_EnableAVX=0 pass");
        Skip.IfNot(Sse41.IsSupported, "x64 only");
        Assert.False(Avx.IsSupported);
        Assert.False(Fma.IsSupported);
        Assert.Equal(SimdLevel.Vector128, Simd.Best);
    }

    [SkippableFact]
    public void Simd_128_selects_the_vector128_set()
    {
        SimdLevels.SkipIfUnavailable(SimdLevel.Vector128);
        var kernels = KernelSet.For(Simd.Select("128"));
        Assert.Equal(SimdLevel.Vector128, kernels.Level);
        Assert.IsType<Vector128Kernels>(kernels);
        Assert.Equal(AdvSimd.Arm64.IsSupported ? 6 : 3, kernels.TileRows);
    }

    [Fact]
    public void Environment_values_cap_the_level_truthfully()
    {
        Assert.Equal(SimdLevel.Scalar, Simd.Select("0"));
        Assert.Equal(Simd.Clamp(SimdLevel.Vector128), Simd.Select("128"));
        Assert.Equal(Simd.Clamp(SimdLevel.Vector256), Simd.Select(" 256 "));
        Assert.Equal(Simd.Best, Simd.Select("512"));
        Assert.Equal(Simd.Best, Simd.Select(null));
        Assert.Equal(Simd.Best, Simd.Select("")); // documented: empty or unrecognized means no cap
        Assert.Equal(Simd.Best, Simd.Select("fast"));
        foreach (var level in Enum.GetValues<SimdLevel>())
        {
            Assert.Equal(Simd.Clamp(level), KernelSet.For(level).Level);
        }
    }

    [Fact]
    public void The_process_default_set_is_the_one_the_environment_variable_selects()
    {
        // Under INCEPTIONNET_SIMD=128 (the CI pass) this proves the whole run used the Vector128 set.
        var selected = Simd.Select(Environment.GetEnvironmentVariable(Simd.EnvironmentVariable));
        Assert.Equal(selected, Simd.Default);
        Assert.Same(KernelSet.For(selected), KernelSet.Default);
    }

    [Fact]
    public void Tile_shapes_are_properties_of_the_sets()
    {
        Assert.Equal(1, KernelSet.For(SimdLevel.Scalar).TileRows);
        Assert.All(KernelSet.AllVariants, s => Assert.True(s.TileRows <= KernelSet.MaxTileRows && Conv2D.RowBlock % s.TileRows == 0, s.ToString()));
        Assert.Equal(5, KernelSet.AllVariants.Select(s => (s.Level, s.TileRows)).Distinct().Count());
    }
}
