using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;
using Xunit.Abstractions;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models.Tests;

/// <summary>
/// A warm forward pass allocates nothing on any thread that runs it: the caller and every helper of its worker pool.
/// Allocations are read per thread (the process-wide count also sees the test host's and the runtime's background
/// threads, which allocate a few hundred bytes every few tens of milliseconds whatever we do).
/// </summary>
public sealed class ForwardAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public void A_warm_forward_pass_allocates_nothing_on_any_of_its_threads()
    {
        using var pool = new WorkerPool(3);
        var model = FaceNetInceptionResNetV1.Load(SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5"), new ExecutionContext(pool));
        var counter = new PerThreadAllocations(pool);
        var image = TestData.Uniform(160 * 160 * 3, 7).Select(v => (v + 1) / 2).ToArray();
        foreach (int batch in new[] { 1, 4 })
        {
            var input = Enumerable.Repeat(image, batch).SelectMany(x => x).ToArray();
            var raw = new float[batch * 128];
            model.Forward(input, batch, raw); // the first pass of this batch size sizes the pools
            long allocated = counter.Measure(() => model.Forward(input, batch, raw));
            output.WriteLine($"batch {batch}: {allocated} bytes allocated by a warm pass on the caller and the pool's {pool.WorkerCount - 1} helpers");
            Assert.Equal(0, allocated);
        }
    }

    [Fact]
    public void The_count_sees_allocations_made_on_helper_threads()
    {
        using var pool = new WorkerPool(2);
        var counter = new PerThreadAllocations(pool);
        var work = new AllocatingWork();
        // Two items, each waiting for the other to start: one runs on the caller, one on the helper.
        long allocated = counter.Measure(() => pool.Run(work, 2));
        Assert.True(allocated >= 2 * 4096, $"only {allocated} bytes counted for two 4 KiB arrays");
        Assert.Equal(2, work.Threads.Distinct().Count());
    }

    private sealed class AllocatingWork : IParallelWork
    {
        private int _started;

        public int[] Threads { get; } = new int[2];

        public object? Sink { get; private set; }

        public void Execute(int item, int worker)
        {
            Threads[item] = Environment.CurrentManagedThreadId;
            PerThreadAllocations.Rendezvous(ref _started, 2);
            Sink = new byte[4096];
        }
    }
}
