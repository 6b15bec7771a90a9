using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// Stride-1 3×3 convolutions through the Winograd F(2×2, 3×3) form, 1×7 / 7×1 ones through F(2, 7) and stride-2 3×3 ones
/// through their parity form, against the
/// double reference and against the direct GEMM of the same kernel, at every SIMD level, on shapes that leave odd tiles,
/// partial panels, padded patches, several reduction slices and short runs.
/// </summary>
public sealed class WinogradTests : IDisposable
{
    // Empirical, with a reason for its size: V = Bᵀ d B sums up to 16 inputs (|V| ≤ 16·max|d|), U = G g Gᵀ is rounded
    // to float32, and the way back sums 9 products, so each output is a float32 sum of 16·C products several times the
    // direct ones' and its rounding error is a few times the direct path's (whose bound, Conv2DTests, is 5e-5). Measured
    // here with inputs and weights in [−1, 1]: ≤ 5.3e-5 at C = 300, ≤ 1.5e-5 at C ≤ 96, against a double reference (the
    // direct path: 1.3e-4 at C = 300, where its one accumulator takes all 2700 taps).
    // 2e-4 leaves 4× room; a wrong tap, channel or tile is off by the size of a product, ~0.1 or more.
    private const double Tolerance = 2e-4;

    // The direct path's own bound: Conv2DTests' 5e-5 for reductions up to ~600 taps, growing with the reduction length
    // as a float32 sum's error does (K·2⁻²⁴·Σ|terms|). Counted as 9 taps a channel: 9/7 loose for 7-tap kernels.
    private static double DirectTolerance(int cin) => 5e-5 * Math.Max(1, 9.0 * cin / 600);

    private readonly WorkerPool _pool = new(3); // more workers than cores: exercises the runs and panel groups

    public void Dispose() => _pool.Dispose();

    public static IEnumerable<object[]> CasesAtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int, int, int, PaddingMode>
    {
        // n, h, w, cin, cout, padding
        { 1, 9, 9, 32, 32, PaddingMode.Same },     // one panel, odd map: the last tile row and column are half outside
        { 2, 15, 17, 33, 65, PaddingMode.Same },   // three panels, the last one a single channel; odd channels
        { 1, 8, 12, 40, 64, PaddingMode.Valid },   // valid: every patch read in place
        { 1, 1, 1, 32, 32, PaddingMode.Same },     // a single pixel: one tile, all padding but its centre
        { 3, 5, 4, 96, 40, PaddingMode.Valid },    // 3×2 outputs per image, tiles across images in one run
        { 1, 17, 17, 300, 33, PaddingMode.Same },  // C = 300: two reduction slices, runs cut short by the patch budget
        { 1, 38, 38, 80, 192, PaddingMode.Valid }, // FaceNet's Conv2d_4a: 18 tiles a row, runs crossing tile rows
        { 2, 4, 40, 32, 32, PaddingMode.Same },    // wide rows: a run ends mid tile row
        { 2, 8, 8, 256, 256, PaddingMode.Same },   // FaceNet's Mixed_7a 3×3 past the default cap (prepared on request)
        { 1, 8, 8, 64, 200, PaddingMode.Same },    // 16 tiles and seven panels (the last 8 channels): one run, split by panels
    });

    [SkippableTheory]
    [MemberData(nameof(CasesAtEveryLevel))]
    public void Winograd_matches_the_reference_and_the_direct_convolution(int n, int h, int w, int cin, int cout, PaddingMode padding, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        MatchesReferenceAndDirect(n, h, w, cin, cout, 3, 3, padding, level, Tolerance, seed: 11);
    }

    // The stride-2 form: V = T d Tᵀ only subtracts pairs of inputs (|V| ≤ 4·max|d|, against 16 for F(2×2, 3×3)), U = H g Hᵀ
    // sums at most four taps, and the way back sums 9 products, so its float32 sums run on terms no larger than
    // F(2×2, 3×3)'s; the same 2e-4 bound applies. Measured on these cases against the double reference, inputs and weights
    // in [−1, 1], at every level: ≤ 3.8e-5 at C = 256, 3.2e-5 at C = 192, 3.4e-5 at C = 300, ≤ 1.2e-5 at C ≤ 96 (5.9e-5 with
    // Mixed_6a's full 384 outputs, more sums to take the maximum over). 2e-4 leaves 3× room over the largest.
    public static IEnumerable<object[]> Stride2CasesAtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int, int, int, PaddingMode>
    {
        // n, h, w, cin, cout, padding
        // FaceNet's shapes with fewer output channels (the arm64 run emulates these tests; the outputs add nothing the
        // three panels below do not):
        { 1, 36, 36, 192, 64, PaddingMode.Valid },  // Conv2d_4b's map: 17×17 outputs, the last tile row and column half outside
        { 2, 17, 17, 256, 96, PaddingMode.Valid },  // Mixed_6a's branch 0 at batch 2: 8×8 outputs, whole tiles
        { 1, 9, 9, 32, 32, PaddingMode.Same },      // same: 5×5 outputs, a padding row and column on each side
        { 2, 10, 11, 33, 65, PaddingMode.Same },    // even height (padding below only), odd width; three panels, odd channels
        { 1, 2, 3, 32, 32, PaddingMode.Same },      // 1×2 outputs: one tile, mostly padding (a single pixel would be exact
                                                    // both ways: only the odd-odd product is nonzero, so no rounding differs)
        { 3, 6, 5, 96, 40, PaddingMode.Valid },     // 2×2 outputs per image, tiles across images in one run
        { 1, 12, 13, 300, 33, PaddingMode.Valid },  // C = 300: two reduction slices (the patch budget binds in the 36×36 case)
        { 1, 17, 17, 48, 200, PaddingMode.Valid },  // Mixed_6a's 8×8 outputs at batch 1 with seven panels: one run, split by panels
    });

    [SkippableTheory]
    [MemberData(nameof(Stride2CasesAtEveryLevel))]
    public void Stride2_winograd_matches_the_reference_and_the_direct_convolution(int n, int h, int w, int cin, int cout, PaddingMode padding, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        MatchesReferenceAndDirect(n, h, w, cin, cout, 3, 3, padding, level, Tolerance, seed: 17, stride: 2);
    }

    // The convolution through the Winograd form (prepared even past the cap) against the double reference within
    // `tolerance`, the direct GEMM of the same kernel within its own bound, different from it (so the transform ran), and
    // the same on a second run (deterministic, whichever worker took which run).
    private void MatchesReferenceAndDirect(int n, int h, int w, int cin, int cout, int kh, int kw, PaddingMode padding, SimdLevel level,
        double tolerance, int seed, int stride = 1)
    {
        var geometry = new WindowGeometry(kh, kw, stride, stride, padding);
        var x = TestData.Uniform(n * h * w * cin, seed);
        var kernel = TestData.Uniform(kh * kw * cin * cout, seed + 1);
        var bias = TestData.Uniform(cout, seed + 2);
        // No ReLU: it would hide every error in outputs that are negative both ways.
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, kh, kw, cout, bias, geometry, relu: false);
        var direct = new PackedConvWeights(kernel, kh, kw, cin, cout, bias);
        var winograd = new PackedConvWeights(kernel, kh, kw, cin, cout, bias);
        Assert.True(winograd.PrepareWinograd(evenIfLarge: true, stride));
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        float[] Run(PackedConvWeights weights)
        {
            var y = new float[n * oh * ow * cout];
            Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), weights, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: false),
                KernelSet.For(level), _pool);
            return y;
        }

        var fast = Run(winograd);
        var plain = Run(direct);
        Assert.InRange(TestData.MaxAbsDiff(fast, expected), 0, tolerance);
        Assert.InRange(TestData.MaxAbsDiff(plain, expected), 0, DirectTolerance(cin));
        Assert.NotEqual(plain.Select(BitConverter.SingleToInt32Bits), fast.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(fast, Run(winograd));
    }

    // F(2, 7), empirical like the bound above: V = Bᵀ d sums up to 8 inputs with integer weights (|V| ≤ 50·max|d|), U = G g
    // is rounded to float32 and small (|G| ≤ 16/45 per tap), and the way back sums 8 products with weights up to 2, so the
    // float32 sums over C run on terms tens of times the outputs. Measured with inputs and weights in [−1, 1], at every
    // level: ≤ 1.03e-4 at C = 128 (16 images of 8×8; 6e-5 for 1) and at C = 300, ≤ 2e-5 at C ≤ 40, against a double reference — about
    // twice F(2×2, 3×3)'s error. 3e-4 leaves 3× room; a wrong tap, channel or tile is off by ~0.1 or more.
    private const double Tolerance7 = 3e-4;

    public static IEnumerable<object[]> Cases7AtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int, int, int, int, int, PaddingMode>
    {
        // n, h, w, cin, cout, kh, kw, padding
        { 4, 8, 8, 128, 128, 1, 7, PaddingMode.Same },   // FaceNet's Block17 1×7 at batch 4: several runs per worker
        { 4, 8, 8, 128, 128, 7, 1, PaddingMode.Same },   // and its 7×1
        { 1, 8, 8, 128, 128, 1, 7, PaddingMode.Same },   // batch 1: 32 tiles, short runs on every worker
        { 2, 5, 9, 33, 65, 1, 7, PaddingMode.Same },     // odd width: the last tile's second output is outside; 3 panels
        { 2, 9, 5, 33, 65, 7, 1, PaddingMode.Same },     // odd height, the same for columns
        { 1, 3, 10, 40, 32, 1, 7, PaddingMode.Valid },   // valid: 4 outputs a row, every patch read in place
        { 1, 10, 3, 40, 32, 7, 1, PaddingMode.Valid },
        { 1, 1, 1, 32, 32, 7, 1, PaddingMode.Same },     // a single pixel: one tile, all padding but the centre tap
        { 2, 20, 40, 300, 33, 1, 7, PaddingMode.Same },  // C = 300: two reduction slices; 800 tiles, runs of 27 set by the patch budget
        { 1, 8, 8, 32, 200, 7, 1, PaddingMode.Same },    // 32 tiles and seven panels: one run, split by panels
    });

    [SkippableTheory]
    [MemberData(nameof(Cases7AtEveryLevel))]
    public void Winograd7_matches_the_reference_and_the_direct_convolution(int n, int h, int w, int cin, int cout, int kh, int kw, PaddingMode padding, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        MatchesReferenceAndDirect(n, h, w, cin, cout, kh, kw, padding, level, Tolerance7, seed: 14);
    }

    public static IEnumerable<object[]> KernelShapesAtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int> { { 3, 3, 1 }, { 1, 7, 1 }, { 7, 1, 1 }, { 3, 3, 2 } });

    [SkippableTheory]
    [MemberData(nameof(KernelShapesAtEveryLevel))]
    public void Winograd_reads_channel_slices_and_stores_through_the_full_epilogue(int kh, int kw, int stride, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // Input: channels 4..4+cin of a wider tensor (as FaceNet's Block17 1×7 reads its branch of the fused heads), on a
        // map large enough that some patches are read in place through the slice's pixel stride (an 8-wide patch fits a
        // 12-wide row) and the others are gathered. Output written in place over the residual (scaled, ReLU), then a split
        // sending the channels from 32 on to a channel slice of a second tensor. At stride 2 the 5×5 patches of the
        // 12×13 map are read in place inside and gathered at the edges the same way.
        const int n = 2, h = 12, w = 13, cin = 35, cout = 64, wide = 41, split = 32;
        double tolerance = kh * kw == 7 ? Tolerance7 : Tolerance;
        var geometry = new WindowGeometry(kh, kw, stride, stride, PaddingMode.Same);
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        var wideInput = TestData.Uniform(n * h * w * wide, 21);
        var input = new TensorSlice(wideInput, 4, n, h, w, cin, wide);
        var dense = input.ToArray();
        var kernel = TestData.Uniform(kh * kw * cin * cout, 22);
        var bias = TestData.Uniform(cout, 23);
        var residual = TestData.Uniform(n * oh * ow * cout, 24);
        var full = ReferenceOps.Conv2D(dense, n, h, w, cin, kernel, kh, kw, cout, bias, geometry, relu: false);
        var weights = new PackedConvWeights(kernel, kh, kw, cin, cout, bias);
        Assert.True(weights.PrepareWinograd(stride: stride));

        var output = (float[])residual.Clone();
        var main = TensorSlice.Dense(output, n, oh, ow, cout);
        Conv2D.Forward(input, weights, geometry, main, ConvEpilogue.ScaledResidual(main, 0.25f, relu: true), KernelSet.For(level), _pool);
        var first = new double[full.Length];
        for (int i = 0; i < full.Length; i++)
        {
            first[i] = Math.Max(0, residual[i] + 0.25 * full[i]);
        }

        Assert.InRange(TestData.MaxAbsDiff(output, first), 0, tolerance);
        // And through the transform, not the direct GEMM: the direct path rounds differently somewhere.
        var direct = (float[])residual.Clone();
        var directMain = TensorSlice.Dense(direct, n, oh, ow, cout);
        Conv2D.Forward(input, new PackedConvWeights(kernel, kh, kw, cin, cout, bias), geometry, directMain,
            ConvEpilogue.ScaledResidual(directMain, 0.25f, relu: true), KernelSet.For(level), _pool);
        Assert.NotEqual(direct.Select(BitConverter.SingleToInt32Bits), output.Select(BitConverter.SingleToInt32Bits));

        var low = new float[n * oh * ow * split];
        var restWide = new float[n * oh * ow * 40];
        var rest = new TensorSlice(restWide, 3, n, oh, ow, cout - split, 40);
        Conv2D.Forward(input, weights, geometry, TensorSlice.Dense(low, n, oh, ow, split), ConvEpilogue.Bias(relu: false).WithSplit(split, rest),
            KernelSet.For(level), _pool);
        for (int p = 0; p < n * oh * ow; p++)
        {
            for (int c = 0; c < cout; c++)
            {
                float actual = c < split ? low[p * split + c] : restWide[p * 40 + 3 + c - split];
                Assert.InRange(Math.Abs(actual - full[p * cout + c]), 0, tolerance);
            }

            for (int c = 0; c < 40; c++)
            {
                if (c < 3 || c >= 3 + cout - split)
                {
                    Assert.Equal(0f, restWide[p * 40 + c]); // channels outside the slice are untouched
                }
            }
        }
    }

    [Theory]
    [InlineData(3, 3, 1)]
    [InlineData(1, 7, 1)]
    [InlineData(7, 1, 1)]
    [InlineData(3, 3, 2)]
    public void Every_kernel_set_variant_gives_the_same_winograd_outputs(int kh, int kw, int stride)
    {
        // Both Vector128 tile heights (3 and 6 rows) and every level this CPU has: runs are rounded to each set's tile
        // height, and the transforms and micro-kernels are bit-identical across the vector sets with FMA, so every vector
        // variant must give the same bits (the scalar set, which rounds each product first, the same values to rounding).
        const int n = 1, h = 13, w = 11, cin = 36, cout = 40;
        var geometry = new WindowGeometry(kh, kw, stride, stride, PaddingMode.Same);
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        var x = TestData.Uniform(n * h * w * cin, 41);
        var kernel = TestData.Uniform(kh * kw * cin * cout, 42);
        var bias = TestData.Uniform(cout, 43);
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, kh, kw, cout, bias, geometry, relu: false);
        var weights = new PackedConvWeights(kernel, kh, kw, cin, cout, bias);
        Assert.True(weights.PrepareWinograd(stride: stride));
        float[]? firstVector = null;
        foreach (var set in KernelSet.AllVariants.Where(s => s.Level <= Simd.Best))
        {
            var y = new float[n * oh * ow * cout];
            Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), weights, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: false), set, _pool);
            Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, kh * kw == 7 ? Tolerance7 : Tolerance);
            if (set.Level != SimdLevel.Scalar && (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported))
            {
                firstVector ??= y;
                Assert.True(firstVector.SequenceEqual(y), $"{set} differs from the first vector set");
            }
        }
    }

    [Fact]
    public void Only_wide_3x3_1x7_and_7x1_kernels_up_to_192_by_192_channels_unless_asked_take_a_winograd_form()
    {
        Assert.False(new PackedConvWeights(new float[9 * 16 * 32], 3, 3, 16, 32, default).PrepareWinograd()); // too few inputs
        Assert.False(new PackedConvWeights(new float[9 * 32 * 16], 3, 3, 32, 16, default).PrepareWinograd()); // narrow panel
        Assert.False(new PackedConvWeights(new float[3 * 32 * 32], 1, 3, 32, 32, default).PrepareWinograd()); // no transform for 1×3
        Assert.False(new PackedConvWeights(new float[25 * 32 * 32], 5, 5, 32, 32, default).PrepareWinograd()); // nor 5×5
        Assert.False(new PackedConvWeights(new float[7 * 16 * 32], 1, 7, 16, 32, default).PrepareWinograd()); // 1×7, too few inputs
        Assert.True(new PackedConvWeights(new float[7 * 128 * 128], 1, 7, 128, 128, default).PrepareWinograd()); // FaceNet's Block17
        Assert.True(new PackedConvWeights(new float[7 * 128 * 128], 7, 1, 128, 128, default).PrepareWinograd());
        Assert.False(new PackedConvWeights(new float[9 * 256 * 160], 3, 3, 256, 160, default).PrepareWinograd()); // past 192 × 192
        Assert.True(new PackedConvWeights(new float[9 * 256 * 256], 3, 3, 256, 256, default).PrepareWinograd(evenIfLarge: true)); // FaceNet's Mixed_7a, asked for
        Assert.False(new PackedConvWeights(new float[9 * 16 * 256], 3, 3, 16, 256, default).PrepareWinograd(evenIfLarge: true)); // still too few inputs
        Assert.True(new PackedConvWeights(new float[9 * 192 * 192], 3, 3, 192, 192, default).PrepareWinograd()); // FaceNet's Mixed_6a
        var weights = new PackedConvWeights(new float[9 * 32 * 32], 3, 3, 32, 32, default);
        Assert.True(weights.PrepareWinograd());
        Assert.True(weights.PrepareWinograd()); // idempotent
        Assert.False(weights.PrepareWinograd(stride: 2)); // one form per weights: these keep their stride-1 form

        // At stride 2, only 3×3 kernels, with the same channel rules.
        Assert.True(new PackedConvWeights(new float[9 * 32 * 32], 3, 3, 32, 32, default).PrepareWinograd(stride: 2));
        Assert.False(new PackedConvWeights(new float[9 * 16 * 32], 3, 3, 16, 32, default).PrepareWinograd(stride: 2)); // too few inputs
        Assert.False(new PackedConvWeights(new float[7 * 128 * 128], 1, 7, 128, 128, default).PrepareWinograd(stride: 2)); // no stride-2 1×7
        Assert.False(new PackedConvWeights(new float[9 * 192 * 256], 3, 3, 192, 256, default).PrepareWinograd(stride: 2)); // past 192 × 192
        Assert.True(new PackedConvWeights(new float[9 * 192 * 256], 3, 3, 192, 256, default).PrepareWinograd(evenIfLarge: true, stride: 2)); // FaceNet's Conv2d_4b
        Assert.False(new PackedConvWeights(new float[9 * 32 * 32], 3, 3, 32, 32, default).PrepareWinograd(stride: 3));
    }

    [Fact]
    public void A_form_runs_only_at_its_own_stride_and_the_other_stride_takes_the_direct_path()
    {
        // Weights holding the stride-2 form, run at stride 1, and weights holding the stride-1 form, run at stride 2, give
        // the direct GEMM's bits exactly (the same weights without a form, same kernel set and pool).
        const int n = 1, h = 9, w = 10, cin = 32, cout = 40;
        var x = TestData.Uniform(n * h * w * cin, 51);
        var kernel = TestData.Uniform(9 * cin * cout, 52);
        var bias = TestData.Uniform(cout, 53);
        foreach (var (prepared, run) in new[] { (2, 1), (1, 2) })
        {
            var geometry = new WindowGeometry(3, 3, run, run, PaddingMode.Same);
            var (oh, ow, _, _) = geometry.Resolve(h, w);
            float[] Run(PackedConvWeights weights)
            {
                var y = new float[n * oh * ow * cout];
                Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), weights, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: false),
                    KernelSet.Default, _pool);
                return y;
            }

            var withForm = new PackedConvWeights(kernel, 3, 3, cin, cout, bias);
            Assert.True(withForm.PrepareWinograd(stride: prepared));
            Assert.Equal(Run(new PackedConvWeights(kernel, 3, 3, cin, cout, bias)).Select(BitConverter.SingleToInt32Bits),
                Run(withForm).Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void Performed_multiply_adds_count_whole_transformed_tiles_and_direct_pixels_otherwise()
    {
        // 3×3, 64 → 48 on a 5×7 output: 3 × 4 tiles of 2×2 (the last row and column partial, computed whole), 16 elements.
        var k3 = new PackedConvWeights(new float[9 * 64 * 48], 3, 3, 64, 48, default);
        Assert.Equal(5L * 7 * 9 * 64 * 48, k3.PerformedMultiplyAdds(5, 7, 1, 1)); // no form prepared yet: the direct count
        Assert.True(k3.PrepareWinograd());
        Assert.Equal(3L * 4 * 16 * 64 * 48, k3.PerformedMultiplyAdds(5, 7, 1, 1));
        Assert.Equal(5L * 7 * 9 * 64 * 48, k3.PerformedMultiplyAdds(5, 7, 2, 2)); // stride 2 runs direct
        Assert.Equal(0, k3.PerformedMultiplyAdds(0, 7, 1, 1));

        // 1×7 on an 8×5 output: 1×2 tiles along rows, 8 × 3 of them, 8 elements; 7×1: 2×1 tiles, 4 × 5.
        var k17 = new PackedConvWeights(new float[7 * 128 * 64], 1, 7, 128, 64, default);
        var k71 = new PackedConvWeights(new float[7 * 128 * 64], 7, 1, 128, 64, default);
        Assert.True(k17.PrepareWinograd() && k71.PrepareWinograd());
        Assert.Equal(8L * 3 * 8 * 128 * 64, k17.PerformedMultiplyAdds(8, 5, 1, 1));
        Assert.Equal(4L * 5 * 8 * 128 * 64, k71.PerformedMultiplyAdds(8, 5, 1, 1));

        // Stride 2: 9 × 9 tiles of 2×2 over a 17×17 output (the last row and column partial), 25 elements; stride 1 counts
        // direct for these weights.
        var s2 = new PackedConvWeights(new float[9 * 64 * 48], 3, 3, 64, 48, default);
        Assert.True(s2.PrepareWinograd(stride: 2));
        Assert.Equal(9L * 9 * 25 * 64 * 48, s2.PerformedMultiplyAdds(17, 17, 2, 2));
        Assert.Equal(17L * 17 * 9 * 64 * 48, s2.PerformedMultiplyAdds(17, 17, 1, 1));

        // A kernel that takes no form counts direct at any stride.
        var narrow = new PackedConvWeights(new float[9 * 16 * 32], 3, 3, 16, 32, default);
        Assert.False(narrow.PrepareWinograd());
        Assert.Equal(5L * 7 * 9 * 16 * 32, narrow.PerformedMultiplyAdds(5, 7, 1, 1));
    }

    [Fact]
    public void Transformed_weights_are_g_g_gt_in_double()
    {
        // One input and one output channel's worth, read back from the packed 1×1 kernels: U = G g Gᵀ element by element.
        const int cin = 32, cout = 33;
        var kernel = TestData.Uniform(9 * cin * cout, 31);
        var weights = new PackedConvWeights(kernel, 3, 3, cin, cout, default);
        var transformed = new WinogradWeights(weights);
        double[,] gm = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
        foreach (var (ci, co) in new[] { (0, 0), (31, 32), (5, 17) })
        {
            for (int i = 0; i < 4; i++)
            {
                for (int j = 0; j < 4; j++)
                {
                    double u = 0;
                    for (int y = 0; y < 3; y++)
                    {
                        for (int x = 0; x < 3; x++)
                        {
                            u += gm[i, y] * kernel[((3 * y + x) * cin + ci) * cout + co] * gm[j, x];
                        }
                    }

                    // One float32 rounding of the double value: within half an ulp, 2⁻²⁴·|u| (the test's own double sum
                    // differs from the implementation's by ~1e-16 relative, hence the 1e-9 slack).
                    float actual = transformed[4 * i + j].UnpackKernel()[ci * cout + co];
                    Assert.InRange(Math.Abs(actual - u), 0, Math.ScaleB(Math.Abs(u), -24) * (1 + 1e-9));
                }
            }
        }
    }

    [Fact]
    public void Transformed_stride_2_weights_are_h_g_ht_in_double_for_all_25_elements()
    {
        // U = H g Hᵀ, H = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0], element ξ = 5i + j through the indexer (rows and columns 3
        // and 4 share a kernel), each rounded once to float32.
        const int cin = 32, cout = 33;
        var kernel = TestData.Uniform(9 * cin * cout, 33);
        var transformed = new WinogradWeights(new PackedConvWeights(kernel, 3, 3, cin, cout, default), stride: 2);
        Assert.Equal((25, 16, 2), (transformed.Elements, transformed.Kernels, transformed.Stride));
        double[,] hm = { { 1, 0, 0 }, { 1, 0, 1 }, { 0, 0, 1 }, { 0, 1, 0 }, { 0, 1, 0 } };
        foreach (var (ci, co) in new[] { (0, 0), (31, 32), (5, 17) })
        {
            for (int i = 0; i < 5; i++)
            {
                for (int j = 0; j < 5; j++)
                {
                    double u = 0;
                    for (int y = 0; y < 3; y++)
                    {
                        for (int x = 0; x < 3; x++)
                        {
                            u += hm[i, y] * kernel[((3 * y + x) * cin + ci) * cout + co] * hm[j, x];
                        }
                    }

                    float actual = transformed[5 * i + j].UnpackKernel()[ci * cout + co];
                    Assert.InRange(Math.Abs(actual - u), 0, Math.ScaleB(Math.Abs(u), -24) * (1 + 1e-9));
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(7, 1)]
    public void Transformed_7_tap_weights_are_g_g_in_double(int kh, int kw)
    {
        // U = G g with G the scaled Vandermonde rows of 0, 1, −1, ½, −½, 2, −2 and the last tap alone (∞), each element
        // rounded once to float32.
        const int cin = 32, cout = 33;
        var kernel = TestData.Uniform(7 * cin * cout, 32);
        var transformed = new WinogradWeights(new PackedConvWeights(kernel, kh, kw, cin, cout, default));
        Assert.Equal(8, transformed.Elements);
        double[] points = [0, 1, -1, 0.5, -0.5, 2, -2];
        double[] scales = [1.0 / 4, 1.0 / 18, 1.0 / 18, 16.0 / 45, 16.0 / 45, 1.0 / 360, 1.0 / 360];
        foreach (var (ci, co) in new[] { (0, 0), (31, 32), (5, 17) })
        {
            for (int xi = 0; xi < 8; xi++)
            {
                double u = 0;
                for (int tap = 0; tap < 7; tap++)
                {
                    double g = xi == 7 ? (tap == 6 ? 0.25 : 0) : scales[xi] * Math.Pow(points[xi], tap);
                    u += g * kernel[(tap * cin + ci) * cout + co];
                }

                float actual = transformed[xi].UnpackKernel()[ci * cout + co];
                Assert.InRange(Math.Abs(actual - u), 0, Math.ScaleB(Math.Abs(u), -24) * (1 + 1e-9));
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Vector_3x3_transforms_give_the_reference_bits_at_every_length(bool stride2)
    {
        // Plane lengths (input × output channels) below, at and past one vector of floats (4 to 16 lanes), and long ones
        // that leave every tail; kernels with signed zeros, subnormals, large and tiny values beside uniform ones, where a
        // reordered sum or another narrowing would change a float32 rounding.
        foreach (int plane in new[] { 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 32 * 33, 64 * 33 + 5 })
        {
            var kernel = TestData.Uniform(9 * plane, 40 + plane);
            float[] special = [-0f, 0f, 1e-40f, -3e-39f, 3.4e38f, -1.7e38f, 1e-30f, 16777217f, 0.1f, -1f / 3];
            for (int i = 0; i < kernel.Length; i += 7)
            {
                kernel[i] = special[i / 7 % special.Length];
            }

            // Sums that another grouping would round differently: (2³⁰ + (1 + 2⁻²³)) − 2³⁰ is 1 in double (a tie, to
            // even), 2³⁰ + ((1 + 2⁻²³) − 2³⁰) is 1 + 2⁻²³, and half of each is a different float. Down a kernel column
            // (the first pass) for some channel pairs, along a kernel row (the second pass) for others.
            for (int i = 2; i < plane; i += 5)
            {
                int step = i % 10 == 2 ? 3 : 1;
                (kernel[i], kernel[step * plane + i], kernel[2 * step * plane + i]) = (MathF.ScaleB(1f, 30), 1f + MathF.ScaleB(1f, -23), -MathF.ScaleB(1f, 30));
            }

            var expected = new float[16 * plane];
            WinogradWeights.TransformBothWaysScalar(kernel, plane, expected, stride2);
            var actual = new float[16 * plane];
            int done = WinogradWeights.TransformBothWaysVector(kernel, plane, actual, stride2);
            Assert.Equal(System.Numerics.Vector.IsHardwareAccelerated ? plane - plane % System.Numerics.Vector<float>.Count : 0, done);
            WinogradWeights.TransformBothWaysScalar(kernel, plane, actual, stride2, done);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        }
    }
}
