namespace InceptionNet.Tensors;

/// <summary>Work that is split into independent items, run by <see cref="WorkerPool"/>.</summary>
public interface IParallelWork
{
    /// <summary>Runs item <paramref name="item"/> on worker <paramref name="worker"/> (0 is the calling thread).</summary>
    void Execute(int item, int worker);
}

/// <summary>
/// A fixed set of threads (one per core by default) that run the items of one <see cref="IParallelWork"/> at a
/// time. Unlike <c>Parallel.For</c> it allocates nothing per call, and it never oversubscribes: the caller is
/// worker 0 and the other cores are the pool's own threads. Each worker also owns a scratch buffer that kernels
/// use for packing, so kernels need not allocate.
/// </summary>
/// <remarks>
/// A forward pass issues one <see cref="Run"/> per layer, often a few hundred per image, so handing work over must cost
/// far less than a thread wake-up (tens of µs on a VM). Work is published by bumping a generation counter that idle
/// helpers watch while spinning; a helper blocks on its own semaphore only after <see cref="SpinMicroseconds"/> without
/// work, and <see cref="Run"/> wakes just the helpers that went to sleep. Items are claimed from one 64-bit ticket
/// (generation in the high half, items left in the low half) by compare-and-swap, so a helper that arrives late — descheduled, or still
/// spinning up — simply finds nothing to claim: the caller runs every unclaimed item itself and waits only for items
/// that are actually in flight on another core.
/// <para>
/// A <see cref="Run"/> issued from inside an item of this pool (a pyramid level whose network runs its own layers, say)
/// runs its items inline on the thread that issued it, as the worker running the outer item: the other workers are busy
/// with, or waiting on, the outer run, so there is nobody to hand the inner items to. Such an item must not keep its
/// <see cref="Scratch"/> across the nested call, since the nested items use the same worker's buffers.
/// </para>
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle helper watches for the next layer's work before it blocks.</summary>
    public const int SpinMicroseconds = 2000;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private readonly Lock _runLock = new();
    private readonly float[][] _scratch;
    private readonly float[][] _tailScratch;
    private readonly long _spinTicks = SpinMicroseconds * System.Diagnostics.Stopwatch.Frequency / 1_000_000;

    // The pool whose item this thread is running, and as which worker: a Run of that pool from inside the item goes inline.
    [ThreadStatic]
    private static WorkerPool? t_itemPool;
    [ThreadStatic]
    private static int t_itemWorker;

    private IParallelWork? _work;
    private int _itemCount;
    private long _ticket;
    private int _completed;
    private int _generation;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <summary>Creates a pool with <paramref name="workers"/> workers, the calling thread included.</summary>
    public WorkerPool(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        WorkerCount = workers;
        _scratch = new float[workers][];
        _tailScratch = new float[workers][];
        for (int i = 0; i < workers; i++)
        {
            _scratch[i] = [];
            _tailScratch[i] = [];
        }

        _threads = new Thread[workers - 1];
        _wake = new SemaphoreSlim[workers - 1];
        _sleeping = new int[workers - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int helper = i;
            _wake[i] = new SemaphoreSlim(0, 1);
            _threads[i] = new Thread(() => HelperLoop(helper)) { IsBackground = true, Name = $"InceptionNet worker {helper + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>
    /// The process-wide pool: one worker per core, or <c>INCEPTIONNET_THREADS</c> workers when that variable is set.
    /// </summary>
    public static WorkerPool Shared { get; } = new(ThreadsFromEnvironment());

    /// <summary>Number of workers, the calling thread included.</summary>
    public int WorkerCount { get; }

    /// <summary>Runs items [0, <paramref name="itemCount"/>) of <paramref name="work"/> and waits for all of them.</summary>
    public void Run(IParallelWork work, int itemCount)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (itemCount <= 0)
        {
            return;
        }

        if (t_itemPool == this)
        {
            // Nested inside one of our items: the lock and the ticket belong to the outer run.
            int worker = t_itemWorker;
            for (int i = 0; i < itemCount; i++)
            {
                work.Execute(i, worker);
            }

            return;
        }

        lock (_runLock)
        {
            if (_threads.Length == 0 || itemCount == 1)
            {
                for (int i = 0; i < itemCount; i++)
                {
                    work.Execute(i, 0);
                }

                return;
            }

            _work = work;
            _itemCount = itemCount;
            _failure = null;
            _completed = 0;
            int generation = _generation + 1;
            Interlocked.Exchange(ref _ticket, ((long)generation << 32) | (uint)itemCount); // publishes the fields above
            Volatile.Write(ref _generation, generation);
            WakeSleepers();
            Drain(0, generation);
            var spinner = default(SpinWait);
            while (Volatile.Read(ref _completed) != itemCount)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }

            _work = null;
            if (_failure is not null)
            {
                throw new AggregateException("A parallel kernel failed.", _failure);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> for 0 ≤ i &lt; <paramref name="count"/> on the workers (for coarse, independent jobs
    /// such as pyramid levels or face crops; it allocates a small wrapper per call, so kernels implement
    /// <see cref="IParallelWork"/> instead).
    /// </summary>
    public void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Run(new DelegateWork(body), count);
    }

    /// <summary>
    /// The scratch buffer of <paramref name="worker"/>, at least <paramref name="length"/> floats long. Only the
    /// worker itself may use it, and only during the current item.
    /// </summary>
    public float[] Scratch(int worker, int length)
    {
        // The slot is read once: another thread's ReserveScratch (outside any run) may replace it meanwhile, and a second
        // read could return its shorter buffer. Whatever is returned here is at least `length` long.
        var buffer = _scratch[worker];
        if (buffer.Length < length)
        {
            _scratch[worker] = buffer = new float[length];
        }

        return buffer;
    }

    /// <summary>
    /// Grows every worker's <see cref="Scratch"/> to at least <paramref name="length"/> floats and its
    /// <see cref="TailScratch"/> to at least <paramref name="tailLength"/>, before a run: which worker claims which item
    /// changes from run to run, so a buffer grown only by the worker that happened to need it would make a later, warm
    /// run allocate. Call from the thread that issues the run, not from inside an item.
    /// </summary>
    public void ReserveScratch(int length, int tailLength)
    {
        for (int worker = 0; worker < WorkerCount; worker++)
        {
            Scratch(worker, length);
            TailScratch(worker, tailLength);
        }
    }

    /// <summary>A second per-worker buffer, for data that must live alongside <see cref="Scratch"/>.</summary>
    public float[] TailScratch(int worker, int length)
    {
        var buffer = _tailScratch[worker]; // read once, as in Scratch
        if (buffer.Length < length)
        {
            _tailScratch[worker] = buffer = new float[length];
        }

        return buffer;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        lock (_runLock)
        {
            _disposed = true;
            Interlocked.Increment(ref _generation);
            WakeSleepers();
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        foreach (var wake in _wake)
        {
            wake.Dispose();
        }
    }

    private static int ThreadsFromEnvironment()
    {
        string? value = Environment.GetEnvironmentVariable("INCEPTIONNET_THREADS");
        return int.TryParse(value, out int n) && n >= 1 ? n : Environment.ProcessorCount;
    }

    // A helper that announced it is going to sleep is claimed (flag 1 → 0) and released exactly once.
    private void WakeSleepers()
    {
        for (int i = 0; i < _sleeping.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _sleeping[i], 0, 1) == 1)
            {
                _wake[i].Release();
            }
        }
    }

    private void HelperLoop(int helper)
    {
        int seen = 0;
        while (true)
        {
            seen = AwaitGeneration(helper, seen);
            if (_disposed)
            {
                return;
            }

            Drain(helper + 1, seen);
        }
    }

    // Spins until the generation differs from `seen`, blocking on the helper's semaphore once the spin budget is spent.
    private int AwaitGeneration(int helper, int seen)
    {
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        for (int spins = 1; ; spins++)
        {
            int generation = Volatile.Read(ref _generation);
            if (generation != seen)
            {
                return generation;
            }

            Thread.SpinWait(8);
            if ((spins & 255) != 0 || System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
            {
                continue;
            }

            Interlocked.Exchange(ref _sleeping[helper], 1); // full fence before the generation is read again
            if (Volatile.Read(ref _generation) != seen && Interlocked.CompareExchange(ref _sleeping[helper], 0, 1) == 1)
            {
                continue; // work arrived before anyone saw the flag: withdraw it and go
            }

            _wake[helper].Wait(); // released by Run (or Dispose) after it claimed the flag
            deadline = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        }
    }

    // Runs items of `generation` with this thread marked as the pool's worker, so that a Run from inside an item goes inline.
    private void Drain(int worker, int generation)
    {
        var (outerPool, outerWorker) = (t_itemPool, t_itemWorker); // an item of another pool may be running this one
        t_itemPool = this;
        t_itemWorker = worker;
        try
        {
            ClaimAndExecute(worker, generation);
        }
        finally
        {
            (t_itemPool, t_itemWorker) = (outerPool, outerWorker);
        }
    }

    // Claims items of `generation` until none are left. A claim is a compare-and-swap of the ticket, so a helper still
    // draining an older generation can never take an item of a newer one. A successful claim means the item is
    // unfinished, so Run is still waiting and _work/_itemCount still belong to this generation.
    private void ClaimAndExecute(int worker, int generation)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref _ticket);
            int left = (int)(uint)ticket;
            if ((int)(ticket >> 32) != generation || left == 0)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _ticket, ticket - 1, ticket) != ticket)
            {
                continue;
            }

            int item = _itemCount - left;
            try
            {
                _work!.Execute(item, worker);
            }
#pragma warning disable CA1031 // The failure is rethrown on the calling thread.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
            }

            Interlocked.Increment(ref _completed);
        }
    }

    private sealed class DelegateWork(Action<int> body) : IParallelWork
    {
        public void Execute(int item, int worker) => body(item);
    }
}
