using System.Buffers;
using System.Numerics;

namespace InceptionNet.Vision;

/// <summary>
/// An array pool for work whose buffer sizes change from call to call (photos of different sizes): a large rent is
/// served by the shortest free array that is long enough, whatever its size, so the pool holds about as many large
/// arrays as were in use at once, not one set per size class.
/// </summary>
/// <remarks>
/// <see cref="ArrayPool{T}.Create(int, int)"/> keeps arrays per power-of-two class: a stream of photos of a few
/// different sizes left a full set of decode buffers in every class it touched (the JPEG coefficients of a 2 MP photo
/// are 6 MB, and the class rounds them up to 8 MB), which is what made the CLI's peak over 60 varied photos ~50 MB
/// higher than over its largest photo alone. Here, on a miss, the longest free array that was too short is let go
/// before the new one is allocated: it is the one the new array replaces. New arrays are rounded up to an eighth of
/// their octave (at most 12.5 % spare), so photos of nearly the same size share them.
/// <para>
/// A small rent (below <see cref="LargeLength"/> elements) takes a free array only if it is at most twice as long, so
/// that a row buffer does not hold on to a photo's plane. Arrays longer than the pool's maximum are neither made nor
/// kept by it, and at most <see cref="MaxKept"/> free arrays are kept. Thread-safe (one lock; rents are per decode, not
/// per row, so it is not contended).
/// </para>
/// </remarks>
/// <typeparam name="T">Element type.</typeparam>
public sealed class FittingArrayPool<T> : ArrayPool<T>
{
    /// <summary>Requests at least this long (elements) may be served by any longer free array.</summary>
    public const int LargeLength = 1 << 16;

    /// <summary>Free arrays kept at most; a return beyond that lets the shortest go (the cheapest to make again).</summary>
    public const int MaxKept = 32;

    private readonly List<T[]> _free = []; // shortest first
    private readonly Lock _gate = new();
    private readonly int _maxLength;

    /// <summary>Creates a pool that keeps arrays of up to <paramref name="maxLength"/> elements.</summary>
    public FittingArrayPool(int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        _maxLength = maxLength;
    }

    /// <summary>Free arrays held now (for tests and diagnostics).</summary>
    public int FreeCount
    {
        get
        {
            lock (_gate)
            {
                return _free.Count;
            }
        }
    }

    /// <summary>Elements held in free arrays now (for tests and diagnostics).</summary>
    public long FreeElements
    {
        get
        {
            lock (_gate)
            {
                long sum = 0;
                foreach (var array in _free)
                {
                    sum += array.Length;
                }

                return sum;
            }
        }
    }

    /// <inheritdoc/>
    public override T[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength == 0)
        {
            return [];
        }

        if (minimumLength > _maxLength)
        {
            return new T[minimumLength];
        }

        lock (_gate)
        {
            int at = FirstAtLeast(minimumLength);
            long fits = minimumLength >= LargeLength ? long.MaxValue : Math.Max(2L * minimumLength, LargeLength);
            if (at < _free.Count && _free[at].Length <= fits)
            {
                var found = _free[at];
                _free.RemoveAt(at);
                return found;
            }

            if (at > 0 && minimumLength >= LargeLength && _free[at - 1].Length >= LargeLength)
            {
                _free.RemoveAt(at - 1); // the longest that was too short: the new array takes its place
            }
        }

        return new T[RoundUp(minimumLength, _maxLength)];
    }

    /// <inheritdoc/>
    public override void Return(T[] array, bool clearArray = false)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length == 0 || array.Length > _maxLength)
        {
            return;
        }

        if (clearArray)
        {
            Array.Clear(array);
        }

        lock (_gate)
        {
            _free.Insert(FirstAtLeast(array.Length), array);
            if (_free.Count > MaxKept)
            {
                _free.RemoveAt(0);
            }
        }
    }

    /// <summary>
    /// The length a new array for <paramref name="length"/> elements gets: a power of two up to 4096, then the next
    /// multiple of an eighth of the octave (never past <paramref name="max"/>, never below <paramref name="length"/>).
    /// </summary>
    internal static int RoundUp(int length, int max)
    {
        long rounded;
        if (length <= 16)
        {
            rounded = 16;
        }
        else if (length <= 4096)
        {
            rounded = (long)BitOperations.RoundUpToPowerOf2((uint)length);
        }
        else
        {
            int step = 1 << (BitOperations.Log2((uint)length) - 3);
            rounded = ((long)length + step - 1) / step * step;
        }

        return (int)Math.Max(length, Math.Min(rounded, max));
    }

    // Index of the first free array at least `length` long (binary search over the sorted list).
    private int FirstAtLeast(int length)
    {
        int lo = 0, hi = _free.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_free[mid].Length < length)
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
