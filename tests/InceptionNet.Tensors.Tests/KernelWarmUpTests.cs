using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// <see cref="KernelSet.WarmUp"/>: the kernels of a set are called on zeros inside the buffer it reserves (a canary past
/// its end stays untouched, the buffer stays zero), with no managed allocation, and beside real work on another thread
/// (a load runs it on a thread-pool thread while the model is built) that work keeps its bits.
/// </summary>
public sealed class KernelWarmUpTests : IDisposable
{
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    public static TheoryData<SimdLevel> Levels => SimdLevels.All;

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public unsafe void Warm_up_stays_inside_its_buffer_leaves_it_zero_and_allocates_nothing(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // The buffer, then a canary of NaNs: a kernel called with room it does not have writes past the end (every kernel
        // writes zeros here, so a write inside the buffer shows only as a non-zero value, which a wrong stride would give
        // from the canary's NaNs read back in).
        const int Canary = 1024;
        var memory = GC.AllocateArray<float>(KernelSet.WarmUpFloats + Canary + 16, pinned: true);
        fixed (float* start = memory)
        {
            float* buffer = (float*)(((nint)start + 63) & ~(nint)63); // 64-byte aligned, as the public form allocates it
            int offset = (int)(buffer - start);
            // Every tile shape of the level, including the one picked for other CPUs (the 128-bit set's 3- and 6-row forms).
            foreach (var set in KernelSet.AllVariants.Where(s => s.Level == level))
            {
                memory.AsSpan().Fill(float.NaN);
                set.WarmUp(buffer);
                var inside = memory.AsSpan(offset, KernelSet.WarmUpFloats).ToArray();
                Assert.All(inside, v => Assert.Equal(0f, Math.Abs(v)));
                Assert.All(memory.AsSpan(offset + KernelSet.WarmUpFloats, Canary).ToArray(), v => Assert.True(float.IsNaN(v)));

                set.WarmUp(); // the public form: its first call compiles what is left; the second is measured
                long before = GC.GetAllocatedBytesForCurrentThread();
                set.WarmUp();
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
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
        // A thread of its own, not the thread pool's: under a loaded test run (CI: 2 cores, test classes in parallel) a
        // queued task could wait longer than the bound below for a pool thread.
        var beside = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                kernels.WarmUp();
                Interlocked.Increment(ref warmUps);
            }
        }) { IsBackground = true, Name = "warm-up beside the convolutions" };
        beside.Start();
        try
        {
            // Until the other thread has warmed up at least twice during the passes. Bounded at 60 s, far above the
            // milliseconds this takes on a quiet machine, so only a warm-up that never runs fails it.
            var deadline = DateTime.UtcNow.AddSeconds(60);
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
            beside.Join();
        }
    }
}
