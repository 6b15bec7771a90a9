using System.Buffers;

namespace InceptionNet.Vision;

/// <summary>
/// The pool the decoders borrow their scratch buffers from (file bytes, coefficients, planes, inflated rows).
/// </summary>
/// <remarks>
/// Not <see cref="ArrayPool{T}.Shared"/>: that pool caches one array per size class in every thread that returned one,
/// and a stream of photos decoded on whichever thread-pool thread an await resumed on left a set of multi-megabyte
/// buffers behind in each of them, so a long run's resident memory rose by ~200 MB over a short one's. Nor a pool of
/// power-of-two classes (<see cref="ArrayPool{T}.Create(int, int)"/>): photos of different sizes left a set in each
/// class they touched. A <see cref="FittingArrayPool{T}"/> serves a photo's buffers from those of the photos before it,
/// whatever their sizes, and holds about as many as one decode (or the few decodes at once) uses.
/// </remarks>
internal static class DecodeBuffers<T>
{
    /// <summary>Longest array kept (elements): the coefficients of a ~40-megapixel 4:2:0 photo.</summary>
    public const int MaxPooledLength = 1 << 26;

    /// <summary>The shared instance.</summary>
    public static readonly ArrayPool<T> Pool = new FittingArrayPool<T>(MaxPooledLength);
}
