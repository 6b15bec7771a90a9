using System.Diagnostics;
using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.TestSupport;

/// <summary>
/// Sums GC.GetAllocatedBytesForCurrentThread over the caller and each helper of a pool (the process-wide count also sees
/// the test host's and the runtime's background threads, which allocate whatever the code under test does).
/// </summary>
public sealed class PerThreadAllocations(WorkerPool pool)
{
    private readonly Snapshot _before = new(pool.WorkerCount);
    private readonly Snapshot _after = new(pool.WorkerCount);

    /// <summary>Bytes allocated while <paramref name="action"/> runs, on the calling thread and the pool's helpers.</summary>
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
