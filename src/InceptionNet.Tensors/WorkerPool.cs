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
public sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 2000;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _start;
    private readonly ManualResetEventSlim _done = new(false);
    private readonly Lock _runLock = new();
    private readonly float[][] _scratch;
    private readonly float[][] _tailScratch;
    private IParallelWork? _work;
    private int _itemCount;
    private int _nextItem;
    private int _pendingHelpers;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <summary>Creates a pool with <paramref name="workers"/> workers, the calling thread included.</summary>
    public WorkerPool(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        WorkerCount = workers;
        _start = new SemaphoreSlim(0, workers);
        _scratch = new float[workers][];
        _tailScratch = new float[workers][];
        for (int i = 0; i < workers; i++)
        {
            _scratch[i] = [];
            _tailScratch[i] = [];
        }

        _threads = new Thread[workers - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _threads[i] = new Thread(() => HelperLoop(worker)) { IsBackground = true, Name = $"InceptionNet worker {worker}" };
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

        lock (_runLock)
        {
            int helpers = Math.Min(WorkerCount - 1, itemCount - 1);
            if (helpers == 0)
            {
                for (int i = 0; i < itemCount; i++)
                {
                    work.Execute(i, 0);
                }

                return;
            }

            _work = work;
            _itemCount = itemCount;
            _nextItem = 0;
            _failure = null;
            _pendingHelpers = helpers;
            _done.Reset();
            _start.Release(helpers);
            Drain(0);
            _done.Wait();
            _work = null;
            if (_failure is not null)
            {
                throw new AggregateException("A parallel kernel failed.", _failure);
            }
        }
    }

    /// <summary>
    /// The scratch buffer of <paramref name="worker"/>, at least <paramref name="length"/> floats long. Only the
    /// worker itself may use it, and only during the current item.
    /// </summary>
    public float[] Scratch(int worker, int length)
    {
        if (_scratch[worker].Length < length)
        {
            _scratch[worker] = new float[length];
        }

        return _scratch[worker];
    }

    /// <summary>A second per-worker buffer, for data that must live alongside <see cref="Scratch"/>.</summary>
    public float[] TailScratch(int worker, int length)
    {
        if (_tailScratch[worker].Length < length)
        {
            _tailScratch[worker] = new float[length];
        }

        return _tailScratch[worker];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _start.Release(_threads.Length);
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _start.Dispose();
        _done.Dispose();
    }

    private static int ThreadsFromEnvironment()
    {
        string? value = Environment.GetEnvironmentVariable("INCEPTIONNET_THREADS");
        return int.TryParse(value, out int n) && n >= 1 ? n : Environment.ProcessorCount;
    }

    private void HelperLoop(int worker)
    {
        while (true)
        {
            // Kernels come back to back during a forward pass: spin briefly (~tens of µs) before sleeping, so a helper is
            // awake for the next layer instead of paying a thread wake-up per convolution.
            if (!_start.Wait(0))
            {
                var spinner = new SpinWait();
                bool started = false;
                for (int i = 0; i < SpinIterations && !started; i++)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                    started = _start.Wait(0);
                }

                if (!started)
                {
                    _start.Wait();
                }
            }

            if (_disposed)
            {
                return;
            }

            Drain(worker);
            if (Interlocked.Decrement(ref _pendingHelpers) == 0)
            {
                _done.Set();
            }
        }
    }

    private void Drain(int worker)
    {
        var work = _work!;
        int item;
        while ((item = Interlocked.Increment(ref _nextItem) - 1) < _itemCount)
        {
            try
            {
                work.Execute(item, worker);
            }
#pragma warning disable CA1031 // The failure is rethrown on the calling thread.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
            }
        }
    }
}
