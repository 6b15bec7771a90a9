using System.Buffers;

namespace InceptionNet.Vision;

/// <summary>
/// The pool the decoders borrow their scratch buffers from (file bytes, coefficients, planes, inflated rows).
/// </summary>
/// <remarks>
/// Not <see cref="ArrayPool{T}.Shared"/>: that pool caches one array per size class in every thread that returned one,
/// and a stream of photos decoded on whichever thread-pool thread an await resumed on left a set of multi-megabyte
/// buffers behind in each of them, so a long run's resident memory rose by ~200 MB over a short one's. This pool has no
/// thread-local caches and keeps at most <see cref="ArraysPerSize"/> arrays per power-of-two size class, and only as many as were in use at once; arrays over
/// <see cref="MaxPooledLength"/> elements are not kept at all.
/// </remarks>
internal static class DecodeBuffers<T>
{
    /// <summary>
    /// Arrays kept per size class. One decode holds several arrays of one class at once (a plane per component, its
    /// upsampled copy), so this leaves room for two or three decodes at a time; more than that allocate and let go.
    /// </summary>
    public const int ArraysPerSize = 8;

    /// <summary>Longest array kept (elements): the coefficients of a ~40-megapixel 4:2:0 photo.</summary>
    public const int MaxPooledLength = 1 << 26;

    /// <summary>The shared instance.</summary>
    public static readonly ArrayPool<T> Pool = ArrayPool<T>.Create(MaxPooledLength, ArraysPerSize);
}
