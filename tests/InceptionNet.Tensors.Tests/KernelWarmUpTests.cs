using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// <see cref="KernelSet.WarmUp"/>: every kernel of a set is called once on zeros, inside the buffer it reserves (a call out
/// of it would corrupt the heap or fault), with no managed allocation, and beside real work on another thread without
/// changing that work's bits (a load runs it on a thread-pool thread while the model is built).
/// </summary>
public sealed class KernelWarmUpTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    public static TheoryData<SimdLevel> Levels => SimdLevels.All;

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Warm_up_runs_every_kernel_of_the_set_and_allocates_nothing(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // Every tile shape of the level, including the one picked for other CPUs (the 128-bit set's 3- and 6-row forms).
        foreach (var set in KernelSet.AllVariants.Where(s => s.Level == level))
        {
            set.WarmUp(); // the first call compiles; the second is measured
            long before = GC.GetAllocatedBytesForCurrentThread();
            set.WarmUp();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Warm_up_beside_a_convolution_leaves_its_values_unchanged(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var kernels = KernelSet.For(level);
        const int N = 2, H = 19, W = 23, Cin = 24, Cout = 40;
        var x = TestData.Uniform(N * H * W * Cin, 91);
        var weights = new PackedConvWeights(TestData.Uniform(9 * Cin * Cout, 92), 3, 3, Cin, Cout, TestData.Uniform(Cout, 93));
        var geometry = new WindowGeometry(3, 3, 1, 1, PaddingMode.Same);
        float[] Run()
        {
            var y = new float[N * H * W * Cout];
            Conv2D.Forward(TensorSlice.Dense(x, N, H, W, Cin), weights, geometry, TensorSlice.Dense(y, N, H, W, Cout),
                ConvEpilogue.Bias(relu: true), kernels, _pool);
            return y;
        }

        var alone = Run();
        using var stop = new CancellationTokenSource();
        int warmUps = 0;
        var beside = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                kernels.WarmUp();
                Interlocked.Increment(ref warmUps);
            }
        });
        try
        {
            // Until the other thread has warmed up at least once during the passes (bounded: 10 s).
            var deadline = DateTime.UtcNow.AddSeconds(10);
            int startedAt = Volatile.Read(ref warmUps);
            do
            {
                Assert.Equal(alone.Select(BitConverter.SingleToInt32Bits), Run().Select(BitConverter.SingleToInt32Bits));
            }
            while (Volatile.Read(ref warmUps) - startedAt < 2 && DateTime.UtcNow < deadline);

            Assert.True(Volatile.Read(ref warmUps) - startedAt >= 2, "the warm-up thread never ran beside the convolutions");
        }
        finally
        {
            stop.Cancel();
            beside.Wait();
        }
    }
}
