using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// The direct convolution of inputs with few channels (P-Net's first layer): it must give the GEMM path's values bit for
/// bit at every level, on maps whose rows are no whole number of its calls, and be taken only where it applies.
/// </summary>
public sealed class DirectSmallInputTests : IDisposable
{
    // Float32 sums of at most 196 terms of magnitude ≤ 1 against a double reference: |error| ≲ K·2^-24·Σ|terms| ≈ 2e-6;
    // the bound Conv2DTests uses for every convolution.
    private const double Tolerance = 5e-5;

    private readonly WorkerPool _pool = new(3); // more workers than cores: exercises the item split and the helpers

    public void Dispose() => _pool.Dispose();

    public static IEnumerable<object[]> CasesAtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int, int, int, int, int, int>
    {
        // n, h, w, cin, cout, kh, kw, activation (0 none, 1 ReLU, 2 PReLU). A call covers 8 pixels (reference), 8, 16 or
        // 32 (two vectors of the width); the widths below leave every one of them a partial last call.
        { 1, 31, 29, 3, 10, 3, 3, 2 },   // P-Net's first layer on a ragged map: 27 outputs a row
        { 1, 12, 12, 3, 10, 3, 3, 2 },   // 10 outputs a row: less than one call at 256 bits and up
        { 2, 9, 40, 3, 16, 3, 3, 1 },    // two images; 16 channels, so the last group of five carries one
        { 1, 5, 70, 1, 1, 1, 1, 0 },     // one channel in and out, 1×1
        { 3, 7, 18, 4, 11, 2, 4, 2 },    // four input channels, a window wider than tall
        { 1, 20, 3, 2, 6, 7, 1, 1 },     // a 7×1 window on a 3-wide map
        { 1, 40, 37, 3, 5, 7, 7, 2 },    // 147 taps, one whole group
        { 1, 33, 33, 4, 16, 7, 7, 0 },   // 196 taps: the most that runs direct
        { 1, 200, 9, 3, 10, 3, 3, 2 },   // 198 output rows over 3 workers: runs of 8 rows and a short last one
        { 1, 400, 5, 3, 10, 3, 3, 2 },   // 398 rows: runs of the most an item takes, 16, and a short last one
    });

    [SkippableTheory]
    [MemberData(nameof(CasesAtEveryLevel))]
    public void Direct_kernel_gives_the_gemm_values_bit_for_bit_and_matches_the_reference(int n, int h, int w, int cin, int cout, int kh, int kw,
        int activation, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var geometry = new WindowGeometry(kh, kw, 1, 1, PaddingMode.Valid);
        var x = TestData.Uniform(n * h * w * cin, 61);
        var kernel = TestData.Uniform(kh * kw * cin * cout, 62);
        var bias = TestData.Uniform(cout, 63);
        var slopes = TestData.Uniform(cout, 64);
        var weights = new PackedConvWeights(kernel, kh, kw, cin, cout, bias);
        var epilogue = activation == 2 ? ConvEpilogue.Prelu(slopes) : ConvEpilogue.Bias(relu: activation == 1);
        var (direct, gemm, oh, ow) = RunBothWays(x, n, h, w, cin, weights, geometry, epilogue, level);
        Assert.Equal(gemm.Select(BitConverter.SingleToInt32Bits), direct.Select(BitConverter.SingleToInt32Bits));

        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, kh, kw, cout, bias, geometry, relu: activation == 1);
        if (activation == 2)
        {
            for (int i = 0; i < expected.Length; i++)
            {
                expected[i] = expected[i] > 0f ? expected[i] : slopes[i % cout] * expected[i];
            }
        }

        Assert.Equal(n * oh * ow * cout, direct.Length);
        Assert.InRange(TestData.MaxAbsDiff(direct, expected), 0, Tolerance);
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Infinities_and_nan_come_out_as_the_gemm_gives_them(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        const int n = 1, h = 14, w = 37, cin = 3, cout = 10;
        var geometry = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        var x = TestData.Uniform(n * h * w * cin, 71);
        float[] special = [float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, float.NaN, 3e38f, -3e38f, 1e-40f];
        for (int i = 0; i < x.Length; i += 7)
        {
            x[i] = special[i / 7 % special.Length];
        }

        var kernel = TestData.Uniform(9 * cin * cout, 72);
        kernel[5] = 0f; // infinity × 0 makes a NaN of its own
        var weights = new PackedConvWeights(kernel, 3, 3, cin, cout, TestData.Uniform(cout, 73));
        foreach (var epilogue in new[] { ConvEpilogue.Prelu(TestData.Uniform(cout, 74)), ConvEpilogue.Bias(relu: true), ConvEpilogue.Bias(relu: false) })
        {
            var (direct, gemm, _, _) = RunBothWays(x, n, h, w, cin, weights, geometry, epilogue, level);
            Assert.Contains(direct, float.IsNaN);
            Assert.Contains(direct, float.IsInfinity);
            // Bit for bit, except that any NaN matches any NaN: where two NaNs meet in one sum, which of them the hardware
            // passes on depends on the operands' order in the instruction, which the two kernels need not share.
            Assert.Equal(gemm.Select(Bits), direct.Select(Bits));
        }

        static int Bits(float value) => float.IsNaN(value) ? int.MinValue : BitConverter.SingleToInt32Bits(value);
    }

    public static TheoryData<SimdLevel> Levels => SimdLevels.All;

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Windows_of_negative_zeros_under_a_negative_zero_bias_come_out_as_the_gemm_gives_them(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // Every sum starts from +0, as the GEMM's: (−0)·w + (+0) = +0 through all taps, +0 + (−0) bias = +0, and PReLU's
        // negative slopes turn that into −0 (+0 is not above zero). A sum started from the first product would stay −0,
        // and −0 + (−0) = −0 would leave the slope's product +0.
        const int n = 1, h = 6, w = 21, cin = 3, cout = 10;
        var geometry = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        var x = Enumerable.Repeat(-0f, n * h * w * cin).ToArray();
        var kernel = TestData.Uniform(9 * cin * cout, 75).Select(v => Math.Abs(v) + 0.1f).ToArray();
        var weights = new PackedConvWeights(kernel, 3, 3, cin, cout, Enumerable.Repeat(-0f, cout).ToArray());
        var slopes = TestData.Uniform(cout, 76).Select(v => -Math.Abs(v) - 0.1f).ToArray();
        foreach (var (epilogue, expected) in new[] { (ConvEpilogue.Prelu(slopes), -0f), (ConvEpilogue.Bias(relu: true), 0f), (ConvEpilogue.Bias(relu: false), 0f) })
        {
            var (direct, gemm, _, _) = RunBothWays(x, n, h, w, cin, weights, geometry, epilogue, level);
            Assert.All(direct, value => Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(value)));
            Assert.Equal(gemm.Select(BitConverter.SingleToInt32Bits), direct.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Into_a_channel_slice_from_an_input_inside_a_longer_buffer_gives_the_gemm_values_and_leaves_the_rest(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // P-Net's layer reads its bands at an offset into a pyramid level; the output here is channels 2..12 of a
        // 13-channel tensor, whose other channels hold a sentinel that must survive.
        const int n = 2, h = 9, w = 23, cin = 3, cout = 10, wide = 13, first = 2, shift = 5;
        const float sentinel = 7.25f;
        var geometry = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        var x = new float[shift + n * h * w * cin];
        TestData.Uniform(n * h * w * cin, 77).CopyTo(x, shift);
        var input = new TensorSlice(x, shift, n, h, w, cin, cin);
        var weights = new PackedConvWeights(TestData.Uniform(9 * cin * cout, 78), 3, 3, cin, cout, TestData.Uniform(cout, 79));
        var epilogue = ConvEpilogue.Prelu(TestData.Uniform(cout, 80));
        int oh = h - 2, ow = w - 2;
        Assert.True(Conv2D.FitsDirectSmallInput(input, weights, geometry, oh, ow, 0, 0, epilogue));
        float[] Run(bool direct)
        {
            var y = Enumerable.Repeat(sentinel, n * oh * ow * wide).ToArray();
            Conv2D.DirectSmallInputEnabled = direct;
            try
            {
                Conv2D.Forward(input, weights, geometry, new TensorSlice(y, first, n, oh, ow, cout, wide), epilogue, KernelSet.For(level), _pool);
            }
            finally
            {
                Conv2D.DirectSmallInputEnabled = true;
            }

            return y;
        }

        var viaDirect = Run(direct: true);
        Assert.Equal(Run(direct: false).Select(BitConverter.SingleToInt32Bits), viaDirect.Select(BitConverter.SingleToInt32Bits));
        var dense = new float[n * oh * ow * cout];
        Conv2D.Forward(TensorSlice.Dense(x.AsSpan(shift).ToArray(), n, h, w, cin), weights, geometry, TensorSlice.Dense(dense, n, oh, ow, cout), epilogue,
            KernelSet.For(level), _pool);
        for (int p = 0; p < n * oh * ow; p++)
        {
            for (int c = 0; c < wide; c++)
            {
                float value = viaDirect[p * wide + c];
                if (c < first || c >= first + cout)
                {
                    Assert.Equal(sentinel, value);
                }
                else
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(dense[p * cout + c - first]), BitConverter.SingleToInt32Bits(value));
                }
            }
        }
    }

    [Fact]
    public void Only_stride_one_windows_inside_a_dense_few_channel_input_take_the_direct_kernel()
    {
        var pnet = new PackedConvWeights(TestData.Uniform(9 * 3 * 10, 81), 3, 3, 3, 10, TestData.Uniform(10, 82));
        var input = TensorSlice.Dense(new float[12 * 12 * 3], 1, 12, 12, 3);
        var valid = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        bool Fits(TensorSlice x, PackedConvWeights weights, WindowGeometry geometry, ConvEpilogue epilogue)
        {
            var (oh, ow, top, left) = geometry.Resolve(x.H, x.W);
            return Conv2D.FitsDirectSmallInput(x, weights, geometry, oh, ow, top, left, epilogue);
        }

        Assert.True(Fits(input, pnet, valid, ConvEpilogue.Prelu(new float[10])));
        Assert.NotNull(pnet.DirectForm);

        // Weights it does not take: five input channels, 17 output channels, more than 196 taps.
        Assert.Null(new PackedConvWeights(new float[9 * 5 * 10], 3, 3, 5, 10, default).DirectForm);
        Assert.Null(new PackedConvWeights(new float[9 * 3 * 17], 3, 3, 3, 17, default).DirectForm);
        Assert.Null(new PackedConvWeights(new float[8 * 7 * 4 * 10], 8, 7, 4, 10, default).DirectForm);

        // Windows and tensors it does not take: stride 2, padded windows (also those padded only at the bottom and right,
        // which start inside the input but reach past its last row and column), an input that is a channel slice, a
        // residual, a split.
        Assert.False(Fits(input, pnet, WindowGeometry.Square(3, 2, PaddingMode.Valid), ConvEpilogue.Bias(false)));
        Assert.False(Fits(input, pnet, WindowGeometry.Square(3, 1, PaddingMode.Same), ConvEpilogue.Bias(false)));
        Assert.False(Fits(input, pnet, new WindowGeometry(3, 3, 1, 1, PaddingMode.Explicit, padBottom: 2, padRight: 2), ConvEpilogue.Bias(false)));
        Assert.False(Fits(input, pnet, new WindowGeometry(3, 3, 1, 1, PaddingMode.Explicit, padBottom: 1), ConvEpilogue.Bias(false)));
        Assert.False(Fits(input, pnet, new WindowGeometry(3, 3, 1, 1, PaddingMode.Explicit, padRight: 1), ConvEpilogue.Bias(false)));
        var twoByTwo = new PackedConvWeights(new float[4 * 3 * 10], 2, 2, 3, 10, default);
        Assert.NotNull(twoByTwo.DirectForm);
        Assert.False(Fits(input, twoByTwo, WindowGeometry.Square(2, 1, PaddingMode.Same), ConvEpilogue.Bias(false)));
        Assert.True(Fits(input, twoByTwo, WindowGeometry.Square(2, 1, PaddingMode.Valid), ConvEpilogue.Bias(false)));
        var wide = new TensorSlice(new float[12 * 12 * 4], 0, 1, 12, 12, 3, 4);
        Assert.False(Fits(wide, pnet, valid, ConvEpilogue.Bias(false)));
        var residual = TensorSlice.Dense(new float[10 * 10 * 10], 1, 10, 10, 10);
        Assert.False(Fits(input, pnet, valid, ConvEpilogue.ScaledResidual(residual, 1f, false)));
        var rest = TensorSlice.Dense(new float[10 * 10 * 5], 1, 10, 10, 5);
        Assert.False(Fits(input, pnet, valid, ConvEpilogue.Bias(false).WithSplit(5, rest)));

        // Switched off on this thread: the GEMM path.
        Conv2D.DirectSmallInputEnabled = false;
        try
        {
            Assert.False(Fits(input, pnet, valid, ConvEpilogue.Bias(false)));
        }
        finally
        {
            Conv2D.DirectSmallInputEnabled = true;
        }
    }

    [Fact]
    public void A_warm_direct_convolution_allocates_nothing()
    {
        using var pool = new WorkerPool(1); // the calling thread runs every item, so its allocation counter sees them all
        var weights = new PackedConvWeights(TestData.Uniform(9 * 3 * 10, 91), 3, 3, 3, 10, TestData.Uniform(10, 92));
        var geometry = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        var x = TensorSlice.Dense(TestData.Uniform(40 * 41 * 3, 93), 1, 40, 41, 3);
        var y = TensorSlice.Dense(new float[38 * 39 * 10], 1, 38, 39, 10);
        var epilogue = ConvEpilogue.Prelu(TestData.Uniform(10, 94));
        Assert.True(Conv2D.FitsDirectSmallInput(x, weights, geometry, 38, 39, 0, 0, epilogue));
        Conv2D.Forward(x, weights, geometry, y, epilogue, KernelSet.Default, pool); // makes the direct form, sizes the scratch
        long before = GC.GetAllocatedBytesForCurrentThread();
        Conv2D.Forward(x, weights, geometry, y, epilogue, KernelSet.Default, pool);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    // The convolution through the direct kernel and, switched off on this thread, through the GEMM; the case must be one
    // the direct kernel takes, or the comparison would compare the GEMM with itself.
    private (float[] Direct, float[] Gemm, int OutH, int OutW) RunBothWays(float[] x, int n, int h, int w, int cin, PackedConvWeights weights,
        WindowGeometry geometry, ConvEpilogue epilogue, SimdLevel level)
    {
        var (oh, ow, top, left) = geometry.Resolve(h, w);
        var input = TensorSlice.Dense(x, n, h, w, cin);
        Assert.True(Conv2D.FitsDirectSmallInput(input, weights, geometry, oh, ow, top, left, epilogue));
        float[] Run()
        {
            var y = new float[n * oh * ow * weights.OutChannels];
            Conv2D.Forward(input, weights, geometry, TensorSlice.Dense(y, n, oh, ow, weights.OutChannels), epilogue, KernelSet.For(level), _pool);
            return y;
        }

        var direct = Run();
        Conv2D.DirectSmallInputEnabled = false;
        try
        {
            return (direct, Run(), oh, ow);
        }
        finally
        {
            Conv2D.DirectSmallInputEnabled = true;
        }
    }
}
