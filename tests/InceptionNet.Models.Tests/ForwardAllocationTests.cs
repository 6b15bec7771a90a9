using System.Diagnostics;
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

    /// <summary>Sums GC.GetAllocatedBytesForCurrentThread over the caller and each helper of a pool.</summary>
    private sealed class PerThreadAllocations(WorkerPool pool)
    {
        private readonly Snapshot _before = new(pool.WorkerCount);
        private readonly Snapshot _after = new(pool.WorkerCount);

        public long Measure(Action action)
        {
            _before.Take(pool);
            action();
            _after.Take(pool);
            long total = 0;
            for (int i = 0; i < _before.Threads.Length; i++)
            {
                int j = Array.IndexOf(_after.Threads, _before.Threads[i]);
                Assert.True(j >= 0, "the pool's threads changed between two snapshots");
                total += _after.Bytes[j] - _before.Bytes[i];
            }

            return total;
        }

        // Items wait for each other (deadline 30 s), so each of the pool's threads runs exactly one of them.
        public static void Rendezvous(ref int arrived, int count)
        {
            Interlocked.Increment(ref arrived);
            long deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
            while (Volatile.Read(ref arrived) < count)
            {
                Assert.True(Stopwatch.GetTimestamp() < deadline, "the pool's threads did not all take an item");
                Thread.SpinWait(20);
            }
        }

        private sealed class Snapshot(int workers) : IParallelWork
        {
            private int _arrived;

            public long[] Bytes { get; } = new long[workers];

            public int[] Threads { get; } = new int[workers];

            public void Take(WorkerPool pool)
            {
                _arrived = 0;
                pool.Run(this, Bytes.Length);
                for (int i = 0; i < Threads.Length; i++)
                {
                    for (int j = 0; j < i; j++)
                    {
                        // Checked without LINQ: whatever this thread allocates after the snapshot counts in the next window.
                        Assert.True(Threads[i] != Threads[j], "two snapshot items ran on the same thread");
                    }
                }
            }

            public void Execute(int item, int worker)
            {
                Threads[item] = Environment.CurrentManagedThreadId;
                Bytes[item] = GC.GetAllocatedBytesForCurrentThread();
                Rendezvous(ref _arrived, Bytes.Length);
            }
        }
    }
}
