namespace InceptionNet.Tensors;

/// <summary>
/// Recycles activation buffers between forward passes. After the first pass of a given batch size every
/// rent is served from the pool, so inference does not allocate. Not thread-safe: one pool per model
/// instance, used under that model's lock.
/// </summary>
/// <remarks>
/// By default a buffer serves only tensors of its exact length, which fits a model whose sizes never change (a face
/// encoder). A pool created with <c>reuseLarger</c> serves each rent with the smallest free buffer that is long enough,
/// for work whose sizes change from call to call (a detector's pyramid levels and candidate batches): there, exact lengths
/// would keep a set of buffers for every size ever seen. On a miss it lets go of the largest free buffer (too short, or
/// it would have been taken) before allocating, so it never holds more buffers than were rented at once.
/// </remarks>
public sealed class TensorPool
{
    private readonly Dictionary<int, Stack<float[]>> _free = [];
    private readonly List<float[]> _bySize = []; // reuseLarger: the free buffers, shortest first
    private readonly bool _reuseLarger;

    /// <summary>Creates a pool; <paramref name="reuseLarger"/> lets a buffer serve shorter tensors (see remarks).</summary>
    public TensorPool(bool reuseLarger = false) => _reuseLarger = reuseLarger;

    /// <summary>Rents a dense [N, H, W, C] tensor. Contents are unspecified unless <paramref name="clear"/>.</summary>
    public TensorSlice Rent(int n, int h, int w, int c, bool clear = false)
    {
        int length = checked(n * h * w * c);
        float[]? buffer = _reuseLarger ? TakeShortestAtLeast(length) : TakeExactly(length);
        if (buffer is null)
        {
            buffer = new float[length];
            HugePages.AdviseNew(buffer); // a batch's large activations: huge pages, populated in one call (Linux)
        }
        else if (clear)
        {
            Array.Clear(buffer, 0, length);
        }

        return TensorSlice.Dense(buffer, n, h, w, c);
    }

    /// <summary>Gives a rented tensor back. Only whole rented tensors may be returned.</summary>
    public void Return(TensorSlice slice)
    {
        var buffer = slice.Buffer;
        if (_reuseLarger)
        {
            int at = FirstAtLeast(buffer.Length);
            _bySize.Insert(at, buffer);
            return;
        }

        if (!_free.TryGetValue(buffer.Length, out var stack))
        {
            stack = new Stack<float[]>();
            _free[buffer.Length] = stack;
        }

        stack.Push(buffer);
    }

    private float[]? TakeExactly(int length) =>
        _free.TryGetValue(length, out var stack) && stack.Count > 0 ? stack.Pop() : null;

    private float[]? TakeShortestAtLeast(int length)
    {
        int at = FirstAtLeast(length);
        if (at < _bySize.Count)
        {
            var buffer = _bySize[at];
            _bySize.RemoveAt(at);
            return buffer;
        }

        if (_bySize.Count > 0)
        {
            _bySize.RemoveAt(_bySize.Count - 1); // too short for this size; the new buffer takes its place
        }

        return null;
    }

    // Index of the first free buffer at least `length` long (binary search over the sorted list).
    private int FirstAtLeast(int length)
    {
        int lo = 0, hi = _bySize.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_bySize[mid].Length < length)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
