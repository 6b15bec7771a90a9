using Xunit;

namespace InceptionNet.Tensors.Tests;

public sealed class WorkerPoolTests
{
    // A hang in the hand-over protocol must fail the test, not stall the suite.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Every_item_runs_exactly_once_on_a_valid_worker(int workers)
    {
        using var pool = new WorkerPool(workers);
        var work = new CountingWork(1000);
        RunWithDeadline(() =>
        {
            var random = new Random(workers);
            for (int run = 0; run < 3000; run++)
            {
                int items = run % 50 == 0 ? 1000 : random.Next(0, 40);
                work.Reset(items);
                pool.Run(work, items);
                work.AssertEachRanOnce(items, workers);
            }
        });
    }

    [Fact]
    public void Reserving_scratch_sizes_every_workers_buffers_so_no_later_item_allocates()
    {
        using var pool = new WorkerPool(3);
        pool.ReserveScratch(1000, 70);
        var before = Enumerable.Range(0, pool.WorkerCount).Select(w => (pool.Scratch(w, 0), pool.TailScratch(w, 0))).ToArray();
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int w = 0; w < pool.WorkerCount; w++)
        {
            Assert.Same(before[w].Item1, pool.Scratch(w, 1000));
            Assert.Same(before[w].Item2, pool.TailScratch(w, 70));
            Assert.True(pool.Scratch(w, 0).Length >= 1000 && pool.TailScratch(w, 0).Length >= 70);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        Assert.NotSame(before[0].Item1, before[1].Item1); // one buffer per worker, not one shared
    }

    [Fact]
    public void Helpers_that_went_to_sleep_are_woken_for_the_next_run()
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork(64);
        RunWithDeadline(() =>
        {
            for (int run = 0; run < 12; run++)
            {
                // Idle well past the spin budget on some runs so the helper blocks; just around it on others to hit
                // the race between a helper announcing sleep and Run claiming it.
                Thread.Sleep(run % 3 == 0 ? 3 * WorkerPool.SpinMicroseconds / 1000 + 1 : (run % 3) * WorkerPool.SpinMicroseconds / 1000);
                work.Reset(64);
                work.ItemDelay = TimeSpan.FromMilliseconds(0.2);
                pool.Run(work, 64);
                work.AssertEachRanOnce(64, 2);
            }
        });
        Assert.True(work.HelperRan, "no item ran on the helper thread: the pool did not hand work over");
    }

    [Fact]
    public void A_failing_item_is_rethrown_on_the_caller_and_the_pool_stays_usable()
    {
        using var pool = new WorkerPool(2);
        var work = new CountingWork(100) { FailAt = 37 };
        work.Reset(100);
        var error = Assert.Throws<AggregateException>(() => pool.Run(work, 100));
        Assert.Contains("item 37", error.InnerException!.Message, StringComparison.Ordinal);

        work.FailAt = -1;
        work.Reset(100);
        pool.Run(work, 100);
        work.AssertEachRanOnce(100, 2);
    }

    [Fact]
    public void Dispose_returns_with_helpers_asleep_and_further_runs_are_refused()
    {
        var pool = new WorkerPool(3);
        pool.Run(new CountingWork(8), 8);
        Thread.Sleep(3 * WorkerPool.SpinMicroseconds / 1000 + 1);
        RunWithDeadline(pool.Dispose);
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new CountingWork(2), 2));
    }

    [Fact]
    public void For_runs_the_body_once_per_index_and_rethrows_its_failure()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[257];
        pool.For(hits.Length, i => Interlocked.Increment(ref hits[i]));
        Assert.All(hits, h => Assert.Equal(1, h));
        var error = Assert.Throws<AggregateException>(() => pool.For(10, i => _ = i == 7 ? throw new ArgumentException("seven") : 0));
        Assert.IsType<ArgumentException>(error.InnerException);
    }

    // Two outer items that wait for each other, so one runs on the caller (worker 0) and one on the helper; the one on
    // `nestingWorker` issues a Run of 64 items on the same pool. Before nested runs went inline, a nested Run on the
    // helper waited forever for the lock the outer Run holds, and one on the caller overwrote the outer run's ticket.
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_run_issued_inside_an_item_runs_inline_on_that_thread(int nestingWorker)
    {
        NestingWork? outer = null;
        RunWithDeadline(2, pool =>
        {
            outer = new NestingWork(pool, nestingWorker, useFor: false);
            pool.Run(outer, 2);
        });
        outer!.AssertNestedRanInline();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_for_issued_inside_a_for_runs_inline_on_that_thread(int nestingWorker)
    {
        NestingWork? outer = null;
        RunWithDeadline(2, pool =>
        {
            int caller = Environment.CurrentManagedThreadId;
            outer = new NestingWork(pool, nestingWorker, useFor: true);
            pool.For(2, i => outer.Execute(i, Environment.CurrentManagedThreadId == caller ? 0 : 1));
        });
        outer!.AssertNestedRanInline();
    }

    [Fact]
    public void Nested_runs_on_every_worker_many_times_over_leave_the_pool_usable()
    {
        var inner = new CountingWork(64);
        var totals = new int[3];
        RunWithDeadline(3, pool =>
        {
            for (int run = 0; run < 200; run++)
            {
                pool.For(6, i =>
                {
                    var hits = new int[5 + i];
                    pool.For(hits.Length, j => Interlocked.Increment(ref hits[j]));
                    Assert.All(hits, h => Assert.Equal(1, h));
                    Interlocked.Increment(ref totals[i % 3]);
                });
            }

            inner.Reset(64);
            pool.Run(inner, 64); // an ordinary run afterwards still uses every worker's claim path
            inner.AssertEachRanOnce(64, 3);
        });
        Assert.Equal([400, 400, 400], totals);
    }

    [Fact]
    public void A_failure_inside_a_nested_run_reaches_the_outer_caller()
    {
        RunWithDeadline(2, pool =>
        {
            var error = Assert.Throws<AggregateException>(() =>
                pool.For(4, i => pool.For(3, j => _ = i == 2 && j == 1 ? throw new ArgumentException("inner") : 0)));
            Assert.IsType<ArgumentException>(error.InnerException);
            var hits = new int[10];
            pool.For(hits.Length, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        });
    }

    // A nested run that deadlocks holds the pool's lock forever, so the pool is disposed only when the body finished.
    private static void RunWithDeadline(int workers, Action<WorkerPool> body)
    {
        var pool = new WorkerPool(workers);
        RunWithDeadline(() => body(pool));
        pool.Dispose();
    }

    private static void RunWithDeadline(Action action)
    {
        var task = Task.Run(action);
        Assert.True(task.Wait(Deadline), $"the pool did not finish within {Deadline.TotalSeconds} s (hang)");
    }

    private sealed class NestingWork(WorkerPool pool, int nestingWorker, bool useFor) : IParallelWork
    {
        private const int InnerItems = 64;
        private readonly int[] _innerRuns = new int[InnerItems];
        private readonly int[] _innerThreads = new int[InnerItems];
        private readonly int[] _innerWorkers = new int[InnerItems];
        private int _arrived;
        private int _nestingThread;

        public void Execute(int item, int worker)
        {
            // Both outer items are in flight at once: the caller's and the helper's.
            Interlocked.Increment(ref _arrived);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref _arrived) < 2)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the helper never took an outer item");
                Thread.SpinWait(20);
            }

            if (worker != nestingWorker)
            {
                return;
            }

            _nestingThread = Environment.CurrentManagedThreadId;
            if (useFor)
            {
                pool.For(InnerItems, i => Record(i, -1));
            }
            else
            {
                pool.Run(new DelegatingWork(Record), InnerItems);
            }
        }

        public void AssertNestedRanInline()
        {
            for (int i = 0; i < InnerItems; i++)
            {
                Assert.True(_innerRuns[i] == 1, $"inner item {i} ran {_innerRuns[i]} times");
                Assert.Equal(_nestingThread, _innerThreads[i]);
                if (_innerWorkers[i] >= 0)
                {
                    Assert.Equal(nestingWorker, _innerWorkers[i]);
                }
            }
        }

        private void Record(int item, int worker)
        {
            Interlocked.Increment(ref _innerRuns[item]);
            _innerThreads[item] = Environment.CurrentManagedThreadId;
            _innerWorkers[item] = worker;
        }

        private sealed class DelegatingWork(Action<int, int> body) : IParallelWork
        {
            public void Execute(int item, int worker) => body(item, worker);
        }
    }

    private sealed class CountingWork(int capacity) : IParallelWork
    {
        private readonly int[] _runs = new int[capacity];
        private readonly int[] _workers = new int[capacity];

        public int FailAt { get; set; } = -1;

        public TimeSpan ItemDelay { get; set; }

        public bool HelperRan { get; private set; }

        public void Reset(int items) => Array.Clear(_runs, 0, Math.Max(items, 0));

        public void Execute(int item, int worker)
        {
            Interlocked.Increment(ref _runs[item]);
            _workers[item] = worker;
            if (worker != 0)
            {
                HelperRan = true;
            }

            if (ItemDelay > TimeSpan.Zero)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (clock.Elapsed < ItemDelay)
                {
                }
            }

            if (item == FailAt)
            {
                throw new InvalidOperationException($"item {item} failed on purpose");
            }
        }

        public void AssertEachRanOnce(int items, int workers)
        {
            for (int i = 0; i < items; i++)
            {
                Assert.True(_runs[i] == 1, $"item {i} of {items} ran {_runs[i]} times");
                Assert.InRange(_workers[i], 0, workers - 1);
            }
        }
    }
}
