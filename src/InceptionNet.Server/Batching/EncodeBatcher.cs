using System.Threading.Channels;
using InceptionNet.Models;
using InceptionNet.Vision;

namespace InceptionNet.Server.Batching;

/// <summary>
/// Encodes face chips from concurrent requests together: the first chip waiting opens a batch, which closes when it holds
/// <see cref="MaxBatch"/> chips or <see cref="MaxWait"/> has passed, and one forward pass encodes it. The queue is
/// bounded: when <see cref="Capacity"/> chips wait, <see cref="TryEncodeAsync"/> refuses at once instead of queueing
/// without bound (the service answers 503 with Retry-After).
/// </summary>
public sealed class EncodeBatcher : IAsyncDisposable
{
    private readonly FaceEncoder _encoder;
    private readonly Channel<Pending> _queue;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();
    private int _depth;

    /// <summary>Starts the batching loop over <paramref name="encoder"/>.</summary>
    public EncodeBatcher(FaceEncoder encoder, int maxBatch = 16, TimeSpan? maxWait = null, int capacity = 256)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _encoder = encoder;
        MaxBatch = maxBatch;
        MaxWait = maxWait ?? TimeSpan.FromMilliseconds(5);
        if (MaxWait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(maxWait), "The batch wait cannot be negative.");
        }

        Capacity = capacity;
        _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
        _loop = Task.Factory.StartNew(() => RunAsync(_stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Most chips per forward pass.</summary>
    public int MaxBatch { get; }

    /// <summary>Longest a batch stays open for more chips after its first.</summary>
    public TimeSpan MaxWait { get; }

    /// <summary>Most chips waiting; more are refused.</summary>
    public int Capacity { get; }

    /// <summary>Chips waiting now.</summary>
    public int Depth => Volatile.Read(ref _depth);

    /// <summary>Called after each forward pass with its batch size (for metrics).</summary>
    public Action<int>? BatchEncoded { get; set; }

    /// <summary>
    /// Encodes <paramref name="chips"/> (all of one request, kept together). Returns null, without queueing anything,
    /// when the queue cannot take them.
    /// </summary>
    public Task<FaceEncoding[]>? TryEncodeAsync(IReadOnlyList<RgbImage> chips, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(chips);
        if (chips.Count == 0)
        {
            return Task.FromResult(Array.Empty<FaceEncoding>());
        }

        // Reserve room for all the request's chips at once, or for none.
        while (true)
        {
            int depth = Volatile.Read(ref _depth);
            if (depth + chips.Count > Capacity && depth > 0)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _depth, depth + chips.Count, depth) == depth)
            {
                break;
            }
        }

        var pending = new Pending(chips, new FaceEncoding[chips.Count], cancellation);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Add(ref _depth, -chips.Count);
            throw new ObjectDisposedException(nameof(EncodeBatcher));
        }

        return pending.Done.Task;
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var batch = new List<Pending>();
        var chips = new List<RgbImage>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                batch.Clear();
                int count = 0;
                var deadline = DateTime.UtcNow + MaxWait;
                while (count < MaxBatch)
                {
                    if (_queue.Reader.TryRead(out var next))
                    {
                        batch.Add(next);
                        count += next.Chips.Count;
                        continue;
                    }

                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || batch.Count == 0)
                    {
                        if (batch.Count == 0 && await _queue.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
                        {
                            continue;
                        }

                        break;
                    }

                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    wait.CancelAfter(left);
                    try
                    {
                        await _queue.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        break; // the wait is over: encode what came
                    }
                }

                Encode(batch, chips);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetException(new ObjectDisposedException(nameof(EncodeBatcher), "The service is stopping."));
        }
    }

    private void Encode(List<Pending> batch, List<RgbImage> chips)
    {
        // A request whose client went away is dropped before the forward pass, not encoded for no one.
        var live = new List<Pending>(batch.Count);
        foreach (var p in batch)
        {
            Interlocked.Add(ref _depth, -p.Chips.Count);
            if (p.Cancellation.IsCancellationRequested)
            {
                p.Done.TrySetCanceled(p.Cancellation);
            }
            else
            {
                live.Add(p);
            }
        }

        if (live.Count == 0)
        {
            return;
        }

        chips.Clear();
        foreach (var p in live)
        {
            chips.AddRange(p.Chips);
        }

        try
        {
            var encodings = _encoder.Encode(chips, MaxBatch);
            BatchEncoded?.Invoke(chips.Count);
            int at = 0;
            foreach (var p in live)
            {
                for (int i = 0; i < p.Chips.Count; i++)
                {
                    p.Results[i] = encodings[at++];
                }

                p.Done.TrySetResult(p.Results);
            }
        }
#pragma warning disable CA1031 // the failure belongs to the requests of this batch; the loop must go on serving others
        catch (Exception failure)
#pragma warning restore CA1031
        {
            foreach (var p in live)
            {
                p.Done.TrySetException(failure);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private sealed record Pending(IReadOnlyList<RgbImage> Chips, FaceEncoding[] Results, CancellationToken Cancellation)
    {
        public TaskCompletionSource<FaceEncoding[]> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
