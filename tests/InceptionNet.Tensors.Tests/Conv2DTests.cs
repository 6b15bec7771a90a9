using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

public sealed class Conv2DTests : IDisposable
{
    // Float32 accumulation over K ≤ ~600 terms of magnitude ≤ 1 vs a double reference: |error| ≲ K·2^-24·Σ|terms| ≈ 1e-5.
    private const double Tolerance = 5e-5;

    private readonly WorkerPool _pool = new(3); // more workers than cores: exercises the item split and the helpers

    public static TheoryData<SimdLevel> Levels => SimdLevels.All;

    public static IEnumerable<object[]> CasesAtEveryLevel => SimdLevels.Cross(Cases);

    public void Dispose() => _pool.Dispose();

    public static TheoryData<int, int, int, int, int, int, int, int, PaddingMode> Cases => new()
    {
        // n, h, w, cin, cout, kh, kw, stride, padding
        { 1, 1, 1, 1, 1, 1, 1, 1, PaddingMode.Valid },
        { 1, 7, 7, 3, 7, 3, 3, 2, PaddingMode.Valid },
        { 2, 15, 17, 7, 15, 3, 3, 1, PaddingMode.Same },
        { 1, 17, 15, 17, 33, 3, 3, 2, PaddingMode.Same },   // stride 2, odd size: asymmetric "same" padding
        { 1, 16, 16, 16, 31, 3, 3, 2, PaddingMode.Same },   // even size, stride 2: extra row/column at bottom/right
        { 3, 9, 8, 33, 17, 1, 1, 1, PaddingMode.Valid },    // 1×1: GEMM straight on the input
        { 1, 11, 13, 5, 65, 1, 7, 1, PaddingMode.Same },
        { 1, 13, 11, 5, 63, 7, 1, 1, PaddingMode.Same },
        { 1, 9, 9, 4, 16, 1, 3, 1, PaddingMode.Same },
        { 1, 9, 9, 4, 16, 3, 1, 1, PaddingMode.Same },
        { 2, 12, 12, 6, 32, 5, 5, 2, PaddingMode.Same },
        { 1, 22, 22, 3, 8, 7, 7, 2, PaddingMode.Valid },
        { 1, 40, 40, 3, 1001, 1, 1, 1, PaddingMode.Valid }, // 1600 rows, 1001 columns: many row blocks and panels
        { 1, 9, 9, 70, 40, 3, 3, 1, PaddingMode.Same },     // K = 630: three reduction slices, the last one partial
        { 2, 5, 7, 600, 33, 1, 1, 1, PaddingMode.Valid },   // K = 600 read in place
        { 1, 8, 12, 9, 64, 3, 3, 1, PaddingMode.Same },     // 96 rows: the largest single row block, split over panels only
        { 1, 97, 1, 5, 96, 1, 1, 1, PaddingMode.Valid },    // 97 rows: back to 48-row blocks, last one a 1-row tail
        // 7 to 12 output pixels on wide panels, which the 512-bit set takes through its tall tile: a 3×3 map read in place
        // (Block8's 1×1s, the last of three panels one channel), gathered with same padding (its 1×3), a valid stride-2
        // window that would be read in place but is gathered for the tall tile (Mixed_7a), and 7 and 12 rows.
        { 1, 3, 3, 70, 65, 1, 1, 1, PaddingMode.Valid },
        { 1, 3, 3, 40, 64, 1, 3, 1, PaddingMode.Same },
        { 1, 7, 7, 33, 40, 3, 3, 2, PaddingMode.Valid },
        { 1, 1, 7, 9, 32, 1, 1, 1, PaddingMode.Valid },
        { 2, 2, 3, 300, 33, 1, 1, 1, PaddingMode.Valid },   // 12 rows over two images, K = 300 in one pass
    };

    [SkippableTheory]
    [MemberData(nameof(CasesAtEveryLevel))]
    public void Fast_path_matches_reference_at_every_simd_level(int n, int h, int w, int cin, int cout, int kh, int kw, int stride, PaddingMode padding, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var geometry = new WindowGeometry(kh, kw, stride, stride, padding);
        var x = TestData.Uniform(n * h * w * cin, 1);
        var kernel = TestData.Uniform(kh * kw * cin * cout, 2);
        var bias = TestData.Uniform(cout, 3);
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, kh, kw, cout, bias, geometry, relu: true);
        var packed = new PackedConvWeights(kernel, kh, kw, cin, cout, bias);
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        var y = new float[n * oh * ow * cout];
        Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), packed, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: true), KernelSet.For(level), _pool);
        Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, Tolerance);
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Explicit_asymmetric_padding_matches_reference(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var geometry = new WindowGeometry(3, 3, 2, 2, PaddingMode.Explicit, padTop: 1, padBottom: 2, padLeft: 0, padRight: 1);
        var x = TestData.Uniform(2 * 7 * 9 * 5, 4);
        var kernel = TestData.Uniform(3 * 3 * 5 * 6, 5);
        var expected = ReferenceOps.Conv2D(x, 2, 7, 9, 5, kernel, 3, 3, 6, null, geometry, relu: false);
        var (oh, ow, _, _) = geometry.Resolve(7, 9);
        var y = new float[2 * oh * ow * 6];
        Conv2D.Forward(TensorSlice.Dense(x, 2, 7, 9, 5), new PackedConvWeights(kernel, 3, 3, 5, 6, default), geometry,
            TensorSlice.Dense(y, 2, oh, ow, 6), ConvEpilogue.Bias(relu: false), KernelSet.For(level), _pool);
        Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, Tolerance);
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Split_output_sends_channels_from_the_split_on_to_the_second_tensor(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // 64 + 41 output channels: the first two panels to a channel slice of a wider tensor, the rest (one full panel and
        // a partial one) to a dense tensor.
        const int n = 1, h = 6, w = 5, cin = 12, cout = 105, split = 64;
        var x = TestData.Uniform(n * h * w * cin, 31);
        var kernel = TestData.Uniform(cin * cout, 32);
        var bias = TestData.Uniform(cout, 33);
        var geometry = WindowGeometry.Square(1, 1, PaddingMode.Valid);
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, 1, 1, cout, bias, geometry, relu: true);
        var wide = new float[n * h * w * 70];
        var rest = new float[n * h * w * (cout - split)];
        var first = new TensorSlice(wide, 3, n, h, w, split, 70);
        var second = TensorSlice.Dense(rest, n, h, w, cout - split);
        var packed = new PackedConvWeights(kernel, 1, 1, cin, cout, bias);
        Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), packed, geometry, first, ConvEpilogue.Bias(relu: true).WithSplit(split, second), KernelSet.For(level), _pool);
        for (int p = 0; p < h * w; p++)
        {
            for (int c = 0; c < cout; c++)
            {
                float actual = c < split ? wide[p * 70 + 3 + c] : rest[p * (cout - split) + c - split];
                Assert.InRange(Math.Abs(actual - expected[p * cout + c]), 0, Tolerance);
            }
        }

        Assert.Equal(0f, wide[0]); // channels outside the slice are untouched
        var ragged = TensorSlice.Dense(new float[n * h * w * (cout - 40)], n, h, w, cout - 40);
        Assert.Throws<ArgumentException>(() => Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), packed, geometry,
            TensorSlice.Dense(new float[n * h * w * 40], n, h, w, 40), ConvEpilogue.Bias(true).WithSplit(40, ragged), KernelSet.For(level), _pool));
    }

    public static IEnumerable<object[]> NarrowCasesAtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int, int, int, int, int>
    {
        // n, h, w, cin, cout, k, stride: MTCNN's P-Net layers (10 and 16 channels, 6-channel heads) on ragged maps, a
        // single row block, a 1-row tail, K = 630 over three reduction slices, and one output channel.
        { 1, 31, 29, 3, 10, 3, 1 },
        { 2, 13, 11, 10, 16, 3, 1 },
        { 1, 97, 1, 32, 6, 1, 1 },
        { 1, 8, 12, 9, 16, 3, 1 },
        { 1, 9, 9, 70, 13, 3, 1 },
        { 1, 7, 7, 5, 1, 3, 2 },
    });

    [SkippableTheory]
    [MemberData(nameof(NarrowCasesAtEveryLevel))]
    public void Narrow_panels_give_the_values_of_wide_panels_bit_for_bit(int n, int h, int w, int cin, int cout, int k, int stride, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var geometry = WindowGeometry.Square(k, stride, PaddingMode.Valid);
        var x = TestData.Uniform(n * h * w * cin, 51);
        var kernel = TestData.Uniform(k * k * cin * cout, 52);
        var bias = TestData.Uniform(cout, 53);
        var slopes = TestData.Uniform(cout, 54);
        var narrow = new PackedConvWeights(kernel, k, k, cin, cout, bias);
        var wide = new PackedConvWeights(kernel, k, k, cin, cout, bias, default, PackedConvWeights.PanelWidth);
        Assert.Equal((PackedConvWeights.NarrowPanelWidth, PackedConvWeights.PanelWidth), (narrow.Width, wide.Width));
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        float[] Run(PackedConvWeights weights)
        {
            var y = new float[n * oh * ow * cout];
            Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), weights, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Prelu(slopes),
                KernelSet.For(level), _pool);
            return y;
        }

        var expected = Run(wide);
        var actual = Run(narrow);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }

    public static IEnumerable<object[]> InPlaceCasesAtEveryLevel => SimdLevels.Cross(new TheoryData<int, int, int, int, int, int, int, int, int>
    {
        // n, h, w, cin, cout, kh, kw, sh, sw (valid windows): P-Net's first layer, a stride-2 stem, rows shorter than a
        // tile, tiles crossing output rows and images, a kernel row of 270 taps (cut at the 256-long reduction slice),
        // wide and narrow panels, narrow panels of more than 4096 values (slice by slice), and windows and strides that
        // differ between the axes.
        { 1, 31, 29, 3, 10, 3, 3, 1, 1 },
        { 2, 17, 15, 32, 64, 3, 3, 2, 2 },
        { 3, 5, 6, 7, 40, 3, 3, 1, 1 },
        { 2, 9, 9, 90, 33, 3, 3, 1, 1 },
        { 1, 24, 24, 28, 48, 3, 3, 1, 1 },
        { 1, 12, 11, 16, 16, 2, 2, 1, 1 },
        { 1, 11, 13, 70, 13, 3, 3, 1, 1 },
        { 2, 13, 19, 5, 24, 3, 2, 2, 1 },
        { 1, 19, 13, 4, 9, 2, 4, 1, 3 },
    });

    [SkippableTheory]
    [MemberData(nameof(InPlaceCasesAtEveryLevel))]
    public void Valid_windows_read_in_place_give_the_gathered_values_bit_for_bit(int n, int h, int w, int cin, int cout, int kh, int kw, int sh, int sw,
        SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var geometry = new WindowGeometry(kh, kw, sh, sw, PaddingMode.Valid);
        var x = TestData.Uniform(n * h * w * cin, 55);
        // The same input as channels 0..cin of a wider tensor: not dense, so it is gathered — the path it must agree with.
        var wide = new float[n * h * w * (cin + 3)];
        for (int p = 0; p < n * h * w; p++)
        {
            Array.Copy(x, p * cin, wide, p * (cin + 3), cin);
        }

        // And dense, but starting 5 floats into its buffer.
        var shifted = new float[x.Length + 5];
        x.CopyTo(shifted, 5);

        var weights = new PackedConvWeights(TestData.Uniform(kh * kw * cin * cout, 56), kh, kw, cin, cout, TestData.Uniform(cout, 57));
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        float[] Run(TensorSlice input)
        {
            var y = new float[n * oh * ow * cout];
            // The GEMM's in-place path, also for P-Net's first layer, which the product sends to the direct kernel
            // (DirectSmallInputTests holds that to these bits).
            Conv2D.DirectSmallInputEnabled = false;
            try
            {
                Conv2D.Forward(input, weights, geometry, TensorSlice.Dense(y, n, oh, ow, cout), ConvEpilogue.Bias(relu: false), KernelSet.For(level), _pool);
            }
            finally
            {
                Conv2D.DirectSmallInputEnabled = true;
            }

            return y;
        }

        var gathered = Run(new TensorSlice(wide, 0, n, h, w, cin, cin + 3));
        var inPlace = Run(TensorSlice.Dense(x, n, h, w, cin));
        Assert.Equal(gathered.Select(BitConverter.SingleToInt32Bits), inPlace.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(inPlace, Run(new TensorSlice(shifted, 5, n, h, w, cin, cin)));
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, weights.UnpackKernel(), kh, kw, cout, weights.UnpackBias(), geometry, relu: false);
        Assert.InRange(TestData.MaxAbsDiff(inPlace, expected), 0, Tolerance);
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Fused_prelu_matches_conv_then_parametric_relu(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // 75 output channels: two full 32-wide panels (vector store) and a partial one (reference store); inputs of both
        // signs so both sides of every slope are taken.
        const int n = 2, h = 9, w = 11, cin = 10, cout = 75;
        var geometry = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        var x = TestData.Uniform(n * h * w * cin, 21);
        var kernel = TestData.Uniform(9 * cin * cout, 22);
        var bias = TestData.Uniform(cout, 23);
        var slopes = TestData.Uniform(cout, 24);
        var expected = ReferenceOps.Conv2D(x, n, h, w, cin, kernel, 3, 3, cout, bias, geometry, relu: false);
        int negatives = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] <= 0f)
            {
                expected[i] *= slopes[i % cout];
                negatives++;
            }
        }

        Assert.InRange(negatives, expected.Length / 10, expected.Length * 9 / 10);
        var y = new float[expected.Length];
        Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), new PackedConvWeights(kernel, 3, 3, cin, cout, bias), geometry,
            TensorSlice.Dense(y, n, h - 2, w - 2, cout), ConvEpilogue.Prelu(slopes), KernelSet.For(level), _pool);
        Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, Tolerance);
        Assert.Throws<ArgumentException>(() => Conv2D.Forward(TensorSlice.Dense(x, n, h, w, cin), new PackedConvWeights(kernel, 3, 3, cin, cout, bias),
            geometry, TensorSlice.Dense(y, n, h - 2, w - 2, cout), ConvEpilogue.Prelu(new float[cout - 1]), KernelSet.For(level), _pool));
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Residual_scale_add_in_place_and_channel_slices_match_reference(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // Input is a channel slice of a wider tensor; the output is written in place over the residual.
        const int n = 2, h = 5, w = 3, cin = 7, cout = 17, wide = 30;
        var wideInput = TestData.Uniform(n * h * w * wide, 6);
        var input = new TensorSlice(wideInput, 4, n, h, w, cin, wide);
        var dense = input.ToArray();
        var kernel = TestData.Uniform(cin * cout, 7);
        var bias = TestData.Uniform(cout, 8);
        var residual = TestData.Uniform(n * h * w * cout, 9);
        var expected = ReferenceOps.Conv2D(dense, n, h, w, cin, kernel, 1, 1, cout, bias, WindowGeometry.Square(1, 1, PaddingMode.Valid), relu: true, residual, 0.17f);
        var output = (float[])residual.Clone();
        var outSlice = TensorSlice.Dense(output, n, h, w, cout);
        Conv2D.Forward(input, new PackedConvWeights(kernel, 1, 1, cin, cout, bias), WindowGeometry.Square(1, 1, PaddingMode.Valid), outSlice,
            ConvEpilogue.ScaledResidual(outSlice, 0.17f, relu: true), KernelSet.For(level), _pool);
        Assert.InRange(TestData.MaxAbsDiff(output, expected), 0, Tolerance);
    }

    [Fact]
    public void Output_into_a_channel_slice_leaves_other_channels_alone()
    {
        const int cout = 5, wide = 12;
        var kernel = TestData.Uniform(3 * cout, 10);
        var x = TestData.Uniform(4 * 3, 11);
        var y = Enumerable.Repeat(42f, 4 * wide).ToArray();
        Conv2D.Forward(TensorSlice.Dense(x, 1, 2, 2, 3), new PackedConvWeights(kernel, 1, 1, 3, cout, default), WindowGeometry.Square(1, 1, PaddingMode.Valid),
            new TensorSlice(y, 3, 1, 2, 2, cout, wide), ConvEpilogue.Bias(false), KernelSet.Default, _pool);
        for (int p = 0; p < 4; p++)
        {
            for (int c = 0; c < wide; c++)
            {
                bool written = c >= 3 && c < 3 + cout;
                Assert.Equal(!written, y[p * wide + c] == 42f);
            }
        }
    }

    [Fact]
    public void Zero_batch_is_a_no_op_and_shape_mismatches_are_reported()
    {
        var packed = new PackedConvWeights(new float[9 * 2 * 4], 3, 3, 2, 4, default);
        Conv2D.Forward(TensorSlice.Dense([], 0, 5, 5, 2), packed, WindowGeometry.Square(3, 1, PaddingMode.Same), TensorSlice.Dense([], 0, 5, 5, 4),
            ConvEpilogue.Bias(false), KernelSet.Default, _pool);
        var ex = Assert.Throws<ArgumentException>(() => Conv2D.Forward(TensorSlice.Dense(new float[50], 1, 5, 5, 2), packed,
            WindowGeometry.Square(3, 1, PaddingMode.Valid), TensorSlice.Dense(new float[100], 1, 5, 5, 4), ConvEpilogue.Bias(false), KernelSet.Default, _pool));
        Assert.Contains("should be [1, 3, 3, 4]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Packing_round_trips_the_kernel()
    {
        var kernel = TestData.Uniform(2 * 3 * 5 * 33, 12);
        var bias = TestData.Uniform(33, 13);
        var packed = new PackedConvWeights(kernel, 2, 3, 5, 33, bias);
        Assert.Equal(2, packed.Panels);
        Assert.Equal(kernel, packed.UnpackKernel());
        Assert.Equal(bias, packed.UnpackBias());
    }

    [Theory]
    [InlineData(160, 3, 2, PaddingMode.Valid, 79, 0)]
    [InlineData(17, 3, 2, PaddingMode.Same, 9, 1)]  // total pad 2: 1 top, 1 bottom
    [InlineData(16, 3, 2, PaddingMode.Same, 8, 0)]  // total pad 1: 0 top, 1 bottom (Keras/TF)
    [InlineData(8, 7, 1, PaddingMode.Same, 8, 3)]
    [InlineData(5, 1, 2, PaddingMode.Same, 3, 0)]
    public void Keras_same_and_valid_output_sizes(int input, int kernel, int stride, PaddingMode padding, int expectedOut, int expectedTop)
    {
        var (outH, _, top, _) = WindowGeometry.Square(kernel, stride, padding).Resolve(input, input);
        Assert.Equal(expectedOut, outH);
        Assert.Equal(expectedTop, top);
    }
}
