using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

public sealed class PoolingAndElementwiseTests
{
    private static readonly WorkerPool Workers = new(3);

    public static TheoryData<int, int, int, int, int, int, PaddingMode> PoolCases => new()
    {
        // n, h, w, c, k, stride, padding
        { 1, 1, 1, 1, 1, 1, PaddingMode.Valid },
        { 1, 7, 7, 3, 3, 2, PaddingMode.Valid },
        { 2, 15, 17, 7, 3, 2, PaddingMode.Same },
        { 1, 17, 17, 33, 3, 2, PaddingMode.Same },
        { 1, 16, 15, 31, 3, 1, PaddingMode.Same },
        { 1, 12, 12, 1000, 3, 3, PaddingMode.Valid },
        { 1, 9, 9, 65, 2, 2, PaddingMode.Same },
        { 3, 6, 6, 15, 3, 3, PaddingMode.Valid },
        { 2, 40, 37, 64, 3, 2, PaddingMode.Same },          // 2·20·19·64 = 48,640 outputs: shared among the workers
    };

    public static IEnumerable<object[]> PoolCasesAtEveryLevel => SimdLevels.Cross(PoolCases);

    [SkippableTheory]
    [MemberData(nameof(PoolCasesAtEveryLevel))]
    public void Max_and_average_pooling_match_reference_at_every_level(int n, int h, int w, int c, int k, int stride, PaddingMode padding, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var geometry = WindowGeometry.Square(k, stride, padding);
        var x = TestData.Uniform(n * h * w * c, 21);
        var (oh, ow, _, _) = geometry.Resolve(h, w);
        foreach (bool max in new[] { true, false })
        {
            var expected = ReferenceOps.Pool(x, n, h, w, c, geometry, max);
            var y = new float[n * oh * ow * c];
            var input = TensorSlice.Dense(x, n, h, w, c);
            var output = TensorSlice.Dense(y, n, oh, ow, c);
            if (max)
            {
                Pooling.MaxPool(input, geometry, output, KernelSet.For(level));
                Assert.Equal(expected, y); // max is exact
            }
            else
            {
                Pooling.AvgPool(input, geometry, output, KernelSet.For(level));
                Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, 1e-6); // ≤ 9 float additions vs double
            }

            // Rows shared among workers: each output value is computed the same way, so bit-identical.
            var shared = new float[y.Length];
            if (max)
            {
                Pooling.MaxPool(input, geometry, TensorSlice.Dense(shared, n, oh, ow, c), KernelSet.For(level), Workers);
            }
            else
            {
                Pooling.AvgPool(input, geometry, TensorSlice.Dense(shared, n, oh, ow, c), KernelSet.For(level), Workers);
            }

            Assert.Equal(y, shared);
        }
    }

    [Fact]
    public void Same_average_pooling_excludes_padding_from_the_count()
    {
        // 2×2 input of ones, 3×3 same pooling: every window sees only real pixels, so every mean is exactly 1.
        var y = new float[4];
        Pooling.AvgPool(TensorSlice.Dense([1, 1, 1, 1], 1, 2, 2, 1), WindowGeometry.Square(3, 1, PaddingMode.Same), TensorSlice.Dense(y, 1, 2, 2, 1), KernelSet.Default);
        Assert.All(y, v => Assert.Equal(1f, v));
    }

    public static IEnumerable<object[]> L2PoolChannels => SimdLevels.CrossValues(1, 7, 17, 64);

    [SkippableTheory]
    [MemberData(nameof(L2PoolChannels))]
    public void L2_pool_is_sqrt_of_nine_times_mean_square(int channels, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var x = TestData.Uniform(6 * 6 * channels, 22);
        var geometry = WindowGeometry.Square(3, 3, PaddingMode.Valid);
        var squares = x.Select(v => v * v).ToArray();
        var mean = ReferenceOps.Pool(squares, 1, 6, 6, channels, geometry, max: false);
        var expected = mean.Select(v => MathF.Sqrt(9 * v)).ToArray();
        var y = new float[2 * 2 * channels];
        Pooling.L2Pool(TensorSlice.Dense(x, 1, 6, 6, channels), geometry, TensorSlice.Dense(y, 1, 2, 2, channels), KernelSet.For(level));
        Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, 1e-6);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(11)]
    [InlineData(64)]
    [InlineData(192)]
    public void Lrn_matches_the_tf_formula(int channels)
    {
        var x = TestData.Uniform(3 * channels, 23).Select(v => v * 30).ToArray(); // large values so the denominator matters
        var expected = ReferenceOps.LocalResponseNorm(x, 3, channels, 5, 1, 1e-4, 0.75);
        var y = new float[x.Length];
        ElementwiseOps.LocalResponseNorm(TensorSlice.Dense(x, 1, 1, 3, channels), TensorSlice.Dense(y, 1, 1, 3, channels), 5, 1f, 1e-4f, 0.75f);
        Assert.InRange(TestData.MaxAbsDiff(y, expected), 0, 1e-5);
    }

    [Fact]
    public void Lrn_window_is_eleven_channels_with_alpha_not_divided()
    {
        // One nonzero channel v at c = 0: channels 0..5 see v² in their window, channel 6 does not.
        var x = new float[12];
        x[0] = 10f;
        x[6] = 1f;
        var y = new float[12];
        ElementwiseOps.LocalResponseNorm(TensorSlice.Dense(x, 1, 1, 1, 12), TensorSlice.Dense(y, 1, 1, 1, 12), 5, 1f, 1e-4f, 0.75f);
        Assert.Equal(10 / Math.Pow(1 + 1e-4 * 100, 0.75), y[0], 5);
        Assert.Equal(1 / Math.Pow(1 + 1e-4 * 1, 0.75), y[6], 6); // channel 0 is 6 away: outside the window
    }

    [Fact]
    public void Zero_pad_writes_the_input_at_the_offset_and_zeros_around_it()
    {
        var x = new float[] { 1, 2, 3, 4 };
        var y = Enumerable.Repeat(9f, 5 * 4).ToArray();
        ElementwiseOps.ZeroPad(TensorSlice.Dense(x, 1, 2, 2, 1), 1, 1, TensorSlice.Dense(y, 1, 5, 4, 1));
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, y);
    }

    [Fact]
    public void L2_normalize_rows_and_distance()
    {
        var y = new float[4];
        ElementwiseOps.L2NormalizeRows([3, 4, 0, 0], 2, 2, y);
        Assert.Equal(new float[] { 0.6f, 0.8f, 0, 0 }, y); // zero row stays zero thanks to the 1e-12 floor
        Assert.Equal(5.0, ElementwiseOps.Distance([3, 0], [0, 4]), 12);
    }

    public static IEnumerable<object[]> ReluLengths => SimdLevels.CrossValues(0, 1, 3, 7, 15, 17, 31, 33, 127, 1000);

    [SkippableTheory]
    [MemberData(nameof(ReluLengths))]
    public void Relu_vector_and_scalar_agree(int length, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var x = TestData.Uniform(length, 24);
        var expected = x.Select(v => Math.Max(v, 0f)).ToArray();
        var y = (float[])x.Clone();
        ElementwiseOps.Relu(y, KernelSet.For(level));
        Assert.Equal(expected, y);
    }

    [Fact]
    public void Simd_environment_values_parse()
    {
        Assert.Equal(SimdLevel.Scalar, Simd.Parse("0"));
        Assert.Equal(SimdLevel.Scalar, Simd.Parse("off"));
        Assert.Equal(SimdLevel.Vector128, Simd.Parse("128"));
        Assert.Equal(SimdLevel.Vector256, Simd.Parse("256"));
        Assert.Equal(SimdLevel.Vector512, Simd.Parse("512"));
        Assert.Equal(SimdLevel.Vector512, Simd.Parse(null));
        Assert.Equal(SimdLevel.Scalar, Simd.Clamp(SimdLevel.Scalar));
        Assert.Equal(Simd.Best, Simd.Clamp(SimdLevel.Vector512)); // a cap above the hardware falls back to what it has
    }

    [Fact]
    public void Worker_pool_runs_every_item_once_and_reports_failures()
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork(1000);
        pool.Run(work, 1000);
        Assert.All(work.Counts, c => Assert.Equal(1, c));
        var failing = new CountingWork(10) { FailAt = 3 };
        var ex = Assert.Throws<AggregateException>(() => pool.Run(failing, 10));
        Assert.IsType<InvalidOperationException>(ex.InnerException);
        pool.Run(work, 0);
    }

    private sealed class CountingWork(int items) : IParallelWork
    {
        public int[] Counts { get; } = new int[items];

        public int FailAt { get; init; } = -1;

        public void Execute(int item, int worker)
        {
            if (item == FailAt)
            {
                throw new InvalidOperationException("boom");
            }

            Interlocked.Increment(ref Counts[item]);
        }
    }
}
