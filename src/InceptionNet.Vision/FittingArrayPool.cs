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
/// higher than over its largest photo alone. Here the pool counts the large arrays out on loan and remembers the most
/// that were ever out at once; when a miss would make free plus lent-out arrays exceed that, the shortest free large
/// array is let go before the new one is made. So it holds no more large arrays than were ever in use at once, and a
/// photo a little larger than the last reuses most of its buffers (the longer ones serve the shorter rents) instead of
/// replacing each one. New arrays are rounded up to an eighth of their octave (at most 12.5 % spare), so photos of
/// nearly the same size share them.
/// <para>
/// A small rent (below <see cref="LargeLength"/> elements) takes a free array only if it is at most twice as long or
/// itself small, so that a row buffer does not hold on to a photo's plane. Arrays longer than the pool's maximum are
/// neither made nor kept by it, and at most <see cref="MaxKept"/> free arrays are kept. Thread-safe (one lock; rents
/// are per decode, not per row, so it is not contended).
/// </para>
/// </remarks>
/// <typeparam name="T">Element type.</typeparam>
internal sealed class FittingArrayPool<T> : ArrayPool<T>
{
    /// <summary>Requests at least this long (elements) may be served by any longer free array.</summary>
    public const int LargeLength = 1 << 16;

    /// <summary>
    /// Free arrays kept at most; a return beyond that lets the shortest go (the cheapest to make again). A backstop for
    /// small arrays, which the high-water rule does not count: one decode uses under ten, so 32 leaves room for a few
    /// decodes at once.
    /// </summary>
    public const int MaxKept = 32;

    private readonly List<T[]> _free = []; // shortest first
    private readonly Lock _gate = new();
    private readonly int _maxLength;
    private int _lentLarge;   // large arrays handed out and not yet returned
    private int _mostLent;    // the most large arrays ever out at once

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

        bool large = minimumLength >= LargeLength;
        int length = RoundUp(minimumLength, _maxLength);
        lock (_gate)
        {
            int at = FirstAtLeast(minimumLength);
            long fits = large ? long.MaxValue : Math.Max(2L * minimumLength, LargeLength);
            if (at < _free.Count && _free[at].Length <= fits)
            {
                var found = _free[at];
                _free.RemoveAt(at);
                Lend(found.Length);
                return found;
            }

            if (length >= LargeLength)
            {
                Lend(length);
                int shortest = FirstAtLeast(LargeLength);
                if (shortest < _free.Count && _free.Count - shortest + _lentLarge > _mostLent)
                {
                    _free.RemoveAt(shortest); // more large arrays than were ever needed at once: the new one replaces it
                }
            }
        }

        return new T[length];
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
            if (array.Length >= LargeLength && _lentLarge > 0)
            {
                _lentLarge--;
            }

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

    private void Lend(int length)
    {
        if (length >= LargeLength)
        {
            _lentLarge++;
            _mostLent = Math.Max(_mostLent, _lentLarge);
        }
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
