using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InceptionNet.Tensors;

/// <summary>
/// 8-bit pixel values as floats or doubles (exact: every byte is both). A detector resizes a photo in float32 as its
/// reference does, reading the photo's rows through this a band at a time instead of keeping a float copy of the whole
/// photo (12 bytes per pixel), so the conversion runs once per pyramid level and must be cheap; its crops are resized in
/// double, from boxes read the same way.
/// </summary>
public static class PixelConversion
{
    /// <summary>Writes <paramref name="source"/>'s values into the first <c>source.Length</c> floats of <paramref name="destination"/>.</summary>
    public static void ToFloats(ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckFits(source.Length, destination.Length, nameof(destination));
        if (Vectorized)
        {
            ToFloatsVector128(source, destination);
        }
        else
        {
            ToFloatsScalar(source, destination);
        }
    }

    /// <summary>The reference: one cast per value.</summary>
    internal static void ToFloatsScalar(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = source[i];
        }
    }

    // Sixteen at a time (Widen16), then int → float, exact for 0..255 as the cast is. Every vector level uses this form;
    // the tail goes through the reference.
    internal static void ToFloatsVector128(ReadOnlySpan<byte> source, Span<float> destination)
    {
        int i = 0;
        for (; i <= source.Length - Vector128<byte>.Count; i += Vector128<byte>.Count)
        {
            var (a, b, c, d) = Widen16(source[i..]);
            Vector128.ConvertToSingle(a.AsInt32()).CopyTo(destination[i..]);
            Vector128.ConvertToSingle(b.AsInt32()).CopyTo(destination[(i + 4)..]);
            Vector128.ConvertToSingle(c.AsInt32()).CopyTo(destination[(i + 8)..]);
            Vector128.ConvertToSingle(d.AsInt32()).CopyTo(destination[(i + 12)..]);
        }

        ToFloatsScalar(source[i..], destination[i..]);
    }

    /// <summary>Writes <paramref name="source"/>'s values into the first <c>source.Length</c> doubles of <paramref name="destination"/>.</summary>
    public static void ToDoubles(ReadOnlySpan<byte> source, Span<double> destination)
    {
        CheckFits(source.Length, destination.Length, nameof(destination));
        if (Vectorized)
        {
            ToDoublesVector128(source, destination);
        }
        else
        {
            ToDoublesScalar(source, destination);
        }
    }

    /// <summary>The reference: one cast per value.</summary>
    internal static void ToDoublesScalar(ReadOnlySpan<byte> source, Span<double> destination)
    {
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = source[i];
        }
    }

    // Sixteen at a time (Widen16), to floats as ToFloatsVector128 converts them, then each float widened to a double
    // (exact, as every step is for 0..255). Every vector level uses this form; the tail goes through the reference.
    internal static void ToDoublesVector128(ReadOnlySpan<byte> source, Span<double> destination)
    {
        int i = 0;
        for (; i <= source.Length - Vector128<byte>.Count; i += Vector128<byte>.Count)
        {
            var (a, b, c, d) = Widen16(source[i..]);
            WidenToDoubles(a, destination[i..]);
            WidenToDoubles(b, destination[(i + 4)..]);
            WidenToDoubles(c, destination[(i + 8)..]);
            WidenToDoubles(d, destination[(i + 12)..]);
        }

        ToDoublesScalar(source[i..], destination[i..]);
    }

    // Four values (below 256) as doubles: to float, then widened, both exact.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidenToDoubles(Vector128<uint> values, Span<double> destination)
    {
        var (low, high) = Vector128.Widen(Vector128.ConvertToSingle(values.AsInt32()));
        low.CopyTo(destination);
        high.CopyTo(destination[2..]);
    }

    // The vector forms run at every level from 128 bits (INCEPTIONNET_SIMD=0 runs the references).
    private static bool Vectorized => Simd.Default >= SimdLevel.Vector128 && Vector128.IsHardwareAccelerated;

    private static void CheckFits(int values, int room, string parameter)
    {
        if (room < values)
        {
            throw new ArgumentException($"{values} values do not fit in {room}.", parameter);
        }
    }

    // The first sixteen bytes of `source` as four vectors of four: byte → ushort → uint, zero-extended, so a conversion
    // from int sees the same values.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<uint> A, Vector128<uint> B, Vector128<uint> C, Vector128<uint> D) Widen16(ReadOnlySpan<byte> source)
    {
        var (low, high) = Vector128.Widen(Vector128.Create(source[..Vector128<byte>.Count]));
        var (a, b) = Vector128.Widen(low);
        var (c, d) = Vector128.Widen(high);
        return (a, b, c, d);
    }
}
