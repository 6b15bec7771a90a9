using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using InceptionNet.Tensors;

namespace InceptionNet.Vision;

/// <summary>
/// <c>cv2.resize</c> on floating-point images (HWC), bit-exact with OpenCV 4.6.0 on x86-64 (SSE2 baseline, no IPP):
/// INTER_AREA (area-weighted decimation tables when shrinking by a non-integer factor, block sums in OpenCV's order for
/// integer factors, and the area-style linear weights when enlarging) and INTER_LINEAR. The element type is also the
/// accumulation type (float or double), as in OpenCV for float and double images. Swept against cv2.resize for one to
/// four channels (OpenCV's INTER_AREA decimation accepts at most four); more channels follow the same code.
/// </summary>
public static class OpenCvResize
{
    /// <summary><c>cv2.resize(src, (dw, dh), interpolation=cv2.INTER_AREA)</c>.</summary>
    public static T[] Area<T>(ReadOnlySpan<T> src, int sw, int sh, int cn, int dw, int dh)
        where T : struct, IFloatingPointIeee754<T>
    {
        Check(src.Length, sw, sh, cn, dw, dh);
        var dst = new T[dw * dh * cn];
        Area(src, sw, sh, cn, dw, dh, dst);
        return dst;
    }

    /// <summary>
    /// <c>cv2.resize(src, (dw, dh), interpolation=cv2.INTER_AREA)</c> into the first dw·dh·cn values of
    /// <paramref name="dst"/> (for callers that reuse their buffers; the result is the same as the allocating overload's).
    /// </summary>
    public static void Area<T>(ReadOnlySpan<T> src, int sw, int sh, int cn, int dw, int dh, Span<T> dst)
        where T : struct, IFloatingPointIeee754<T> =>
        Area(src, sw, sh, cn, dw, dh, dst, new ResizeScratch<T>());

    /// <summary>
    /// As <see cref="Area{T}(ReadOnlySpan{T}, int, int, int, int, int, Span{T})"/>, with the weight tables and row buffers
    /// taken from <paramref name="scratch"/>, which keeps them for the next call: a caller that resizes often (a pyramid,
    /// face crops) allocates nothing once its scratch has grown to its sizes. One scratch serves one call at a time.
    /// </summary>
    public static void Area<T>(ReadOnlySpan<T> src, int sw, int sh, int cn, int dw, int dh, Span<T> dst, ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T>
    {
        Check(src.Length, sw, sh, cn, dw, dh);
        Area(new SpanRows<T>(src, sw * cn), sw, sh, cn, dw, dh, dst, scratch);
    }

    /// <summary>
    /// As <see cref="Area{T}(ReadOnlySpan{T}, int, int, int, int, int, Span{T}, ResizeScratch{T})"/>, reading the
    /// <paramref name="sw"/>×<paramref name="sh"/> source from <paramref name="rows"/> a few rows at a time, so that a source
    /// made on the fly (a window of a larger image, zero-padded where it leaves it) is never held whole. The result is the
    /// same as resizing the whole source. It asks for one row at a time, or for at most <see cref="RowsAtOnce{T}"/>.
    /// </summary>
    public static void Area<T, TRows>(TRows rows, int sw, int sh, int cn, int dw, int dh, Span<T> dst, ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T>
        where TRows : IImageRows<T>, allows ref struct
    {
        ArgumentNullException.ThrowIfNull(scratch);
        Check(sw * sh * cn, sw, sh, cn, dw, dh);
        if (dst.Length < dw * dh * cn)
        {
            throw new ArgumentException($"A {dw}x{dh}x{cn} result needs {dw * dh * cn} values, the destination holds {dst.Length}.", nameof(dst));
        }

        dst = dst[..(dw * dh * cn)];
        if (sw == dw && sh == dh)
        {
            for (int y = 0; y < sh; y++)
            {
                Row<T, TRows>(ref rows, y, 1, sw * cn).CopyTo(dst.Slice(y * sw * cn, sw * cn)); // cv::resize copies when the sizes match
            }

            return;
        }

        double invScaleX = (double)dw / sw, invScaleY = (double)dh / sh;
        double scaleX = 1.0 / invScaleX, scaleY = 1.0 / invScaleY;
        if (scaleX >= 1 && scaleY >= 1)
        {
            if (IsAreaFast(scaleX, scaleY, out int iscaleX, out int iscaleY))
            {
                AreaFast(ref rows, sw, sh, cn, dw, dh, iscaleX, iscaleY, dst, scratch);
            }
            else
            {
                AreaDecimate(ref rows, sw, sh, cn, dw, dh, scaleX, scaleY, dst, scratch);
            }

            return;
        }

        Linear(ref rows, sw, sh, cn, dw, dh, scaleX, scaleY, invScaleX, invScaleY, areaMode: true, dst, scratch);
    }

    /// <summary>
    /// The most rows the band-reading <see cref="Area{T, TRows}(TRows, int, int, int, int, int, Span{T}, ResizeScratch{T})"/>
    /// asks its source for at once with <paramref name="scratch"/>: the block's rows when both sides shrink by integer
    /// factors, two when three float channels of at least two rows shrink otherwise at 256 bits and up (the horizontal
    /// pass takes two rows at once), else one. For callers that size the buffer their rows are handed out in.
    /// </summary>
    public static int RowsAtOnce<T>(int sw, int sh, int cn, int dw, int dh, ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(scratch);
        Check(sw * sh * cn, sw, sh, cn, dw, dh);
        double scaleX = 1.0 / ((double)dw / sw), scaleY = 1.0 / ((double)dh / sh);
        if ((sw == dw && sh == dh) || scaleX < 1 || scaleY < 1)
        {
            return 1; // a copy, or linear weights: row by row
        }

        if (IsAreaFast(scaleX, scaleY, out _, out int iscaleY))
        {
            return iscaleY;
        }

        return cn == 3 && typeof(T) == typeof(float) && PairedRows(scratch) && sh >= 2 ? 2 : 1;
    }

    // Whether the decimation's three-channel float pass takes two rows at once with this scratch.
    private static bool PairedRows<T>(ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T> =>
        scratch.Level >= SimdLevel.Vector256 && Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated;

    /// <summary>
    /// <c>cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR)</c>. An exact halving of both sides is computed as
    /// INTER_AREA's block average, as cv::hal::resize does (the two agree on the weights, not on the rounding).
    /// </summary>
    public static T[] Linear<T>(ReadOnlySpan<T> src, int sw, int sh, int cn, int dw, int dh)
        where T : struct, IFloatingPointIeee754<T>
    {
        Check(src.Length, sw, sh, cn, dw, dh);
        if (sw == dw && sh == dh)
        {
            return src.ToArray();
        }

        double invScaleX = (double)dw / sw, invScaleY = (double)dh / sh;
        double scaleX = 1.0 / invScaleX, scaleY = 1.0 / invScaleY;
        var dst = new T[dw * dh * cn];
        var rows = new SpanRows<T>(src, sw * cn);
        if (IsAreaFast(scaleX, scaleY, out int iscaleX, out int iscaleY) && iscaleX == 2 && iscaleY == 2)
        {
            AreaFast(ref rows, sw, sh, cn, dw, dh, 2, 2, dst, new ResizeScratch<T>());
        }
        else
        {
            Linear(ref rows, sw, sh, cn, dw, dh, scaleX, scaleY, invScaleX, invScaleY, areaMode: false, dst, new ResizeScratch<T>());
        }

        return dst;
    }

    // hal::resize: both scales (source / destination, via the reciprocal of dst / src) within DBL_EPSILON of the integers
    // they round to.
    private static bool IsAreaFast(double scaleX, double scaleY, out int iscaleX, out int iscaleY)
    {
        const double DblEpsilon = 2.220446049250313e-16; // C's DBL_EPSILON, not .NET's double.Epsilon (the smallest subnormal)
        iscaleX = (int)Math.Round(scaleX, MidpointRounding.ToEven); // saturate_cast<int>(double) = cvRound
        iscaleY = (int)Math.Round(scaleY, MidpointRounding.ToEven);
        return Math.Abs(scaleX - iscaleX) < DblEpsilon && Math.Abs(scaleY - iscaleY) < DblEpsilon;
    }

    private static void Check(int length, int sw, int sh, int cn, int dw, int dh)
    {
        if (sw < 1 || sh < 1 || cn < 1 || dw < 1 || dh < 1 || length != sw * sh * cn)
        {
            throw new ArgumentException($"Cannot resize {length} values as {sw}x{sh}x{cn} to {dw}x{dh}.");
        }
    }

    // resizeAreaFast_Invoker. Each output is its iscaleX × iscaleY block times the float 1/area, summed in OpenCV's order:
    // the block's cells row by row, four at a time — sum += ((c0 + c1) + c2) + c3 — then the rest one by one. Float 2×2
    // with one or four channels takes ResizeAreaFastVec_SIMD_32f instead, for every group of four output values of a row
    // (SSE2 baseline: 4 lanes): ((top left + top right) + (bottom left + bottom right)) · 0.25. Other float layouts and all
    // double images use the scalar loop.
    private static void AreaFast<T, TRows>(ref TRows rows, int sw, int sh, int cn, int dw, int dh, int sx, int sy, Span<T> dst, ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T>
        where TRows : IImageRows<T>, allows ref struct
    {
        int area = sx * sy;
        T scale = T.CreateChecked(1f / area); // OpenCV: float scale = 1.f / area, even for double images
        var offsets = ResizeScratch<T>.Grow(ref scratch.Offsets, area); // the block's cells, row-major, relative to its top-left element
        for (int j = 0, k = 0; j < sy; j++)
        {
            for (int i = 0; i < sx; i++)
            {
                offsets[k++] = j * sw * cn + i * cn;
            }
        }

        int rowWidth = dw * cn;
        int fullWidth = sw / sx * cn; // output values whose block lies inside the row
        bool pairs = typeof(T) == typeof(float) && sx == 2 && sy == 2 && (cn == 1 || cn == 4);
        for (int y = 0; y < dh; y++)
        {
            int sy0 = y * sy;
            var output = dst.Slice(y * rowWidth, rowWidth);
            if (sy0 >= sh)
            {
                output.Clear(); // OpenCV writes zeros; only reachable for a non-integer ratio, which never comes here
                continue;
            }

            int w = sy0 + sy <= sh ? fullWidth : 0;
            var top = Row<T, TRows>(ref rows, sy0, Math.Min(sy, sh - sy0), sw * cn); // this output row's band of source rows
            int dx = 0;
            if (pairs)
            {
                int stride = sw * cn;
                int groups = w / 4 * 4;
                for (; dx < groups; dx++)
                {
                    int s = dx / cn * 2 * cn + dx % cn;
                    output[dx] = ((top[s] + top[s + cn]) + (top[stride + s] + top[stride + s + cn])) * scale;
                }
            }

            for (; dx < w; dx++)
            {
                var block = top[(dx / cn * sx * cn + dx % cn)..];
                T sum = T.Zero;
                int k = 0;
                for (; k <= area - 4; k += 4)
                {
                    sum += block[offsets[k]] + block[offsets[k + 1]] + block[offsets[k + 2]] + block[offsets[k + 3]];
                }

                for (; k < area; k++)
                {
                    sum += block[offsets[k]];
                }

                output[dx] = sum * scale;
            }

            // Partial blocks at the right or bottom edge: the mean of the cells inside, divided in float.
            for (; dx < rowWidth; dx++)
            {
                int sx0 = dx / cn * sx * cn + dx % cn;
                T sum = T.Zero;
                int count = 0;
                for (int j = 0; j < sy && sy0 + j < sh; j++)
                {
                    for (int i = 0; i < sx && sx0 + i * cn < sw * cn; i++)
                    {
                        sum += top[j * sw * cn + sx0 + i * cn];
                        count++;
                    }
                }

                output[dx] = T.CreateChecked(float.CreateTruncating(sum) / count);
            }
        }
    }

    // `count` source rows from row `y`, checked to be as long as the resize reads.
    private static ReadOnlySpan<T> Row<T, TRows>(ref TRows rows, int y, int count, int rowLength)
        where T : struct, IFloatingPointIeee754<T>
        where TRows : IImageRows<T>, allows ref struct
    {
        var band = rows.Rows(y, count);
        if (band.Length < count * rowLength)
        {
            throw new InvalidOperationException($"The row source gave {band.Length} values for {count} rows of {rowLength}.");
        }

        return band;
    }

    // A whole source in memory.
    private readonly ref struct SpanRows<T>(ReadOnlySpan<T> src, int rowLength) : IImageRows<T>
    {
        private readonly ReadOnlySpan<T> _src = src;

        public ReadOnlySpan<T> Rows(int y, int count) => _src.Slice(y * rowLength, count * rowLength);
    }

    internal readonly record struct Decimate(int Di, int Si, double Alpha);

    // computeResizeAreaTab, into `tab` (grown to its bound: each destination cell takes the source cells it covers, which
    // no two cells share, plus at most two partial ones, so at most ssize + 2·dsize entries). Returns the entry count.
    internal static int AreaTable(int ssize, int dsize, int cn, double scale, ref Decimate[] tab)
    {
        var entries = ResizeScratch<float>.Grow(ref tab, ssize + 2 * dsize);
        int count = 0;
        for (int dx = 0; dx < dsize; dx++)
        {
            double fsx1 = dx * scale;
            double fsx2 = fsx1 + scale;
            double cellWidth = Math.Min(scale, ssize - fsx1);
            int sx1 = (int)Math.Ceiling(fsx1), sx2 = (int)Math.Floor(fsx2);
            sx2 = Math.Min(sx2, ssize - 1);
            sx1 = Math.Min(sx1, sx2);
            if (sx1 - fsx1 > 1e-3)
            {
                entries[count++] = new Decimate(dx * cn, (sx1 - 1) * cn, (float)((sx1 - fsx1) / cellWidth));
            }

            for (int sx = sx1; sx < sx2; sx++)
            {
                entries[count++] = new Decimate(dx * cn, sx * cn, (float)(1.0 / cellWidth));
            }

            if (fsx2 - sx2 > 1e-3)
            {
                entries[count++] = new Decimate(dx * cn, sx2 * cn, (float)(Math.Min(Math.Min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
            }
        }

        return count;
    }

    // resizeArea_Invoker: weights are float (OpenCV stores alpha as float), products accumulated in T.
    private static void AreaDecimate<T, TRows>(ref TRows rows, int sw, int sh, int cn, int dw, int dh, double scaleX, double scaleY, Span<T> dst,
        ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T>
        where TRows : IImageRows<T>, allows ref struct
    {
        dst.Clear(); // rows no source row reaches stay zero, as in a new array
        int taps = AreaTable(sw, dw, cn, scaleX, ref scratch.XTable);
        int yTaps = AreaTable(sh, dh, 1, scaleY, ref scratch.YTable);
        var xtab = scratch.XTable;
        var ytab = scratch.YTable;
        var xSrc = ResizeScratch<T>.Grow(ref scratch.Offsets, taps);
        var xDst = ResizeScratch<T>.Grow(ref scratch.Offsets2, taps);
        var xAlpha = ResizeScratch<T>.Grow(ref scratch.Alpha, taps);
        for (int k = 0; k < taps; k++)
        {
            xSrc[k] = xtab[k].Si;
            xDst[k] = xtab[k].Di;
            xAlpha[k] = T.CreateChecked((float)xtab[k].Alpha);
        }

        int width = dw * cn;
        var sum = ResizeScratch<T>.Grow(ref scratch.Row1, width).AsSpan(0, width);
        sum.Clear(); // written before it is read, as a new array's zeros would be
        int prevDy = ytab[0].Di, prevSy = -1;
        bool vector = scratch.Level >= SimdLevel.Vector128 && Vector128.IsHardwareAccelerated && Vector128<T>.IsSupported; // float, double
        bool three = vector && cn == 3 && typeof(T) == typeof(float);
        // Three double channels at 256 bits and up: a pixel per 256-bit vector, as the float pass does at 128 (MTCNN's crops).
        bool threeDoubles = cn == 3 && typeof(T) == typeof(double) && scratch.Level >= SimdLevel.Vector256 && Vector256.IsHardwareAccelerated;
        // Three float channels at 256 bits: the horizontal pass of two source rows at once, one in each half of a vector.
        // The second row's values wait in `following`, marked with its row number, for when the table asks for that row
        // (decimation visits every source row in order, so it is the next one; any other row is computed afresh).
        bool pair = three && PairedRows(scratch);
        bool wide = vector && PairedRows(scratch); // the vertical passes in 256-bit vectors too (element-wise: the same values)
        var threeTable = three || threeDoubles ? scratch.ThreeChannel.Build(sw, dw, taps, xSrc, xDst, xAlpha) : null;
        T[] current = ResizeScratch<T>.Grow(ref scratch.Row0, width);
        T[] following = pair ? ResizeScratch<T>.Grow(ref scratch.Row2, width) : current;
        int followingSy = -1;
        for (int j = 0; j < yTaps; j++)
        {
            T beta = T.CreateChecked((float)ytab[j].Alpha);
            int dy = ytab[j].Di, sy = ytab[j].Si;

            // A source row straddling two destination rows is the last tap of one and the first of the next: its
            // horizontal pass is the same values both times, so it runs once (OpenCV runs it twice).
            if (sy != prevSy)
            {
                if (sy == followingSy)
                {
                    (current, following) = (following, current);
                    followingSy = -1;
                }
                else if (pair && sy + 1 < sh)
                {
                    var two = MemoryMarshal.Cast<T, float>(Row<T, TRows>(ref rows, sy, 2, sw * cn));
                    HorizontalArea3PairVector256(two[..(sw * 3)], two.Slice(sw * 3, sw * 3), (ThreeChannelTable<float>)(object)threeTable!,
                        MemoryMarshal.Cast<T, float>(current.AsSpan(0, width)), MemoryMarshal.Cast<T, float>(following.AsSpan(0, width)));
                    followingSy = sy + 1;
                }
                else if (three)
                {
                    HorizontalArea3Vector128(MemoryMarshal.Cast<T, float>(Row<T, TRows>(ref rows, sy, 1, sw * cn)[..(sw * cn)]), (ThreeChannelTable<float>)(object)threeTable!,
                        MemoryMarshal.Cast<T, float>(current.AsSpan(0, width)));
                }
                else if (threeDoubles)
                {
                    HorizontalArea3Vector256(MemoryMarshal.Cast<T, double>(Row<T, TRows>(ref rows, sy, 1, sw * cn)[..(sw * cn)]), (ThreeChannelTable<double>)(object)threeTable!,
                        MemoryMarshal.Cast<T, double>(current.AsSpan(0, width)));
                }
                else
                {
                    HorizontalAreaScalar(Row<T, TRows>(ref rows, sy, 1, sw * cn), cn, taps, xSrc, xDst, xAlpha, current.AsSpan(0, width));
                }

                prevSy = sy;
            }

            var buf = current.AsSpan(0, width);

            if (dy != prevDy)
            {
                var target = dst.Slice(prevDy * width, width);
                if (vector)
                {
                    VerticalStartVector128(sum, buf, beta, target, wide);
                }
                else
                {
                    VerticalStartScalar(sum, buf, beta, target, 0);
                }

                prevDy = dy;
            }
            else if (vector)
            {
                VerticalAddVector128(sum, buf, beta, wide);
            }
            else
            {
                VerticalAddScalar(sum, buf, beta, 0);
            }
        }

        sum.CopyTo(dst.Slice(prevDy * width, width));
    }

    // The reference horizontal pass of resizeArea_Invoker: buf[di + c] += row[si + c] · alpha, entry by entry, from zero.
    internal static void HorizontalAreaScalar<T>(ReadOnlySpan<T> row, int cn, int taps, int[] xSrc, int[] xDst, T[] xAlpha, Span<T> buf)
        where T : struct, IFloatingPointIeee754<T>
    {
        buf.Clear();
        if (cn == 3)
        {
            for (int k = 0; k < taps; k++)
            {
                int si = xSrc[k], di = xDst[k];
                T alpha = xAlpha[k];
                buf[di] += row[si] * alpha;
                buf[di + 1] += row[si + 1] * alpha;
                buf[di + 2] += row[si + 2] * alpha;
            }

            return;
        }

        for (int k = 0; k < taps; k++)
        {
            int si = xSrc[k], di = xDst[k];
            T alpha = xAlpha[k];
            for (int c = 0; c < cn; c++)
            {
                buf[di + c] += row[si + c] * alpha;
            }
        }
    }

    // The same pass for three float channels, a pixel per vector, with the table laid out a cell per row of `Group`
    // entries (ThreeChannelTable): lane c of the accumulator takes channel c of each of the cell's source pixels, in the
    // table's order, from the same zero, with a multiply and an add each (never fused), so each lane sees the products the
    // reference adds to buf[di + c]. Cells with fewer entries are padded with entries whose pixel is masked to +0 and
    // whose weight is +0: each adds +0, which leaves any sum started from +0 as it was (such a sum is never −0; NaN and
    // infinity stay what they are), so the padding changes no bit. Lane 3, the next pixel's first channel, is never kept:
    // it lands on the next cell's first value, which that cell's store overwrites. The fixed count per cell means no
    // data-dependent branch in the loop (the reference's "same cell?" test mispredicted at every irregular cell width).
    internal static void HorizontalArea3Vector128(ReadOnlySpan<float> row, ThreeChannelTable<float> table, Span<float> buf)
    {
        table.Check(row.Length, buf.Length);
        ref float source = ref MemoryMarshal.GetReference(row);
        ref float target = ref MemoryMarshal.GetReference(buf);
        ref int src = ref MemoryMarshal.GetArrayDataReference(table.Source);
        ref float alpha = ref MemoryMarshal.GetArrayDataReference(table.Alpha);
        ref float mask = ref MemoryMarshal.GetArrayDataReference(table.Mask);
        int group = table.Group;
        for (int cell = 0; cell < table.FastCells; cell++)
        {
            var acc = Vector128<float>.Zero;
            int e = cell * group;
            for (int t = 0; t < group; t++, e++)
            {
                var pixel = Vector128.LoadUnsafe(ref source, (nuint)Unsafe.Add(ref src, e)) & Vector128.Create(Unsafe.Add(ref mask, e));
                acc += pixel * Vector128.Create(Unsafe.Add(ref alpha, e));
            }

            acc.StoreUnsafe(ref target, (nuint)(cell * 3)); // in bounds: a fast cell is never the last (ThreeChannelTable)
        }

        table.Tail(row, buf);
    }

    // HorizontalArea3Vector128 on two rows at once: the low half of each 256-bit vector holds a pixel of `first`, the high
    // half the same pixel of `second`. The halves never mix (a broadcast weight and mask, lane-wise multiply and add), so
    // each gives exactly what the 128-bit pass gives on its own row, into `firstBuf` and `secondBuf`.
    internal static void HorizontalArea3PairVector256(ReadOnlySpan<float> first, ReadOnlySpan<float> second, ThreeChannelTable<float> table,
        Span<float> firstBuf, Span<float> secondBuf)
    {
        if (second.Length != first.Length || secondBuf.Length != firstBuf.Length)
        {
            throw new ArgumentException($"Rows of {first.Length} and {second.Length} values into buffers of {firstBuf.Length} and {secondBuf.Length}: both pairs must match.");
        }

        table.Check(first.Length, firstBuf.Length);
        ref float a = ref MemoryMarshal.GetReference(first);
        ref float b = ref MemoryMarshal.GetReference(second);
        ref float ta = ref MemoryMarshal.GetReference(firstBuf);
        ref float tb = ref MemoryMarshal.GetReference(secondBuf);
        ref int src = ref MemoryMarshal.GetArrayDataReference(table.Source);
        ref float alpha = ref MemoryMarshal.GetArrayDataReference(table.Alpha);
        ref float mask = ref MemoryMarshal.GetArrayDataReference(table.Mask);
        int group = table.Group;
        for (int cell = 0; cell < table.FastCells; cell++)
        {
            var acc = Vector256<float>.Zero;
            int e = cell * group;
            for (int t = 0; t < group; t++, e++)
            {
                nuint si = (nuint)Unsafe.Add(ref src, e);
                var pixels = Vector256.Create(Vector128.LoadUnsafe(ref a, si), Vector128.LoadUnsafe(ref b, si)) & Vector256.Create(Unsafe.Add(ref mask, e));
                acc += pixels * Vector256.Create(Unsafe.Add(ref alpha, e));
            }

            acc.GetLower().StoreUnsafe(ref ta, (nuint)(cell * 3)); // in bounds: a fast cell is never the last
            acc.GetUpper().StoreUnsafe(ref tb, (nuint)(cell * 3));
        }

        table.Tail(first, firstBuf);
        table.Tail(second, secondBuf);
    }

    // HorizontalArea3Vector128's pass for three double channels: a pixel per 256-bit vector (four doubles; the fourth, the
    // next pixel's first channel, lands where the next cell's store or the tail's clearing overwrites it, as the float
    // pass's lane 3 does), the same table, the same products added in the same order to the same zero, so each lane is
    // the reference's buf[di + c] bit for bit.
    internal static void HorizontalArea3Vector256(ReadOnlySpan<double> row, ThreeChannelTable<double> table, Span<double> buf)
    {
        table.Check(row.Length, buf.Length);
        ref double source = ref MemoryMarshal.GetReference(row);
        ref double target = ref MemoryMarshal.GetReference(buf);
        ref int src = ref MemoryMarshal.GetArrayDataReference(table.Source);
        ref double alpha = ref MemoryMarshal.GetArrayDataReference(table.Alpha);
        ref double mask = ref MemoryMarshal.GetArrayDataReference(table.Mask);
        int group = table.Group;
        for (int cell = 0; cell < table.FastCells; cell++)
        {
            var acc = Vector256<double>.Zero;
            int e = cell * group;
            for (int t = 0; t < group; t++, e++)
            {
                var pixel = Vector256.LoadUnsafe(ref source, (nuint)Unsafe.Add(ref src, e)) & Vector256.Create(Unsafe.Add(ref mask, e));
                acc += pixel * Vector256.Create(Unsafe.Add(ref alpha, e));
            }

            acc.StoreUnsafe(ref target, (nuint)(cell * 3)); // in bounds: a fast cell is never the last (ThreeChannelTable)
        }

        table.Tail(row, buf);
    }

    // A new destination row: the finished sum goes out, and the sum restarts at beta · buf.
    internal static void VerticalStartScalar<T>(Span<T> sum, ReadOnlySpan<T> buf, T beta, Span<T> target, int from)
        where T : struct, IFloatingPointIeee754<T>
    {
        for (int dx = from; dx < sum.Length; dx++)
        {
            target[dx] = sum[dx];
            sum[dx] = beta * buf[dx];
        }
    }

    internal static void VerticalAddScalar<T>(Span<T> sum, ReadOnlySpan<T> buf, T beta, int from)
        where T : struct, IFloatingPointIeee754<T>
    {
        for (int dx = from; dx < sum.Length; dx++)
        {
            sum[dx] += beta * buf[dx];
        }
    }

    // The vertical passes on whole vectors (element-wise: the same multiply and add per value; 256-bit ones first when
    // `wide256`), the tail by the reference.
    internal static void VerticalStartVector128<T>(Span<T> sum, ReadOnlySpan<T> buf, T beta, Span<T> target, bool wide256)
        where T : struct, IFloatingPointIeee754<T>
    {
        var b = Vector128.Create(beta);
        ref T s = ref MemoryMarshal.GetReference(sum);
        ref T u = ref MemoryMarshal.GetReference(buf);
        ref T t = ref MemoryMarshal.GetReference(target);
        int dx = 0;
        if (wide256)
        {
            var wide = Vector256.Create(beta);
            for (; dx <= sum.Length - Vector256<T>.Count; dx += Vector256<T>.Count)
            {
                Vector256.LoadUnsafe(ref s, (nuint)dx).StoreUnsafe(ref t, (nuint)dx);
                (wide * Vector256.LoadUnsafe(ref u, (nuint)dx)).StoreUnsafe(ref s, (nuint)dx);
            }
        }

        for (; dx <= sum.Length - Vector128<T>.Count; dx += Vector128<T>.Count)
        {
            Vector128.LoadUnsafe(ref s, (nuint)dx).StoreUnsafe(ref t, (nuint)dx);
            (b * Vector128.LoadUnsafe(ref u, (nuint)dx)).StoreUnsafe(ref s, (nuint)dx);
        }

        VerticalStartScalar(sum, buf, beta, target, dx);
    }

    internal static void VerticalAddVector128<T>(Span<T> sum, ReadOnlySpan<T> buf, T beta, bool wide256)
        where T : struct, IFloatingPointIeee754<T>
    {
        var b = Vector128.Create(beta);
        ref T s = ref MemoryMarshal.GetReference(sum);
        ref T u = ref MemoryMarshal.GetReference(buf);
        int dx = 0;
        if (wide256)
        {
            var wide = Vector256.Create(beta);
            for (; dx <= sum.Length - Vector256<T>.Count; dx += Vector256<T>.Count)
            {
                (Vector256.LoadUnsafe(ref s, (nuint)dx) + wide * Vector256.LoadUnsafe(ref u, (nuint)dx)).StoreUnsafe(ref s, (nuint)dx);
            }
        }

        for (; dx <= sum.Length - Vector128<T>.Count; dx += Vector128<T>.Count)
        {
            (Vector128.LoadUnsafe(ref s, (nuint)dx) + b * Vector128.LoadUnsafe(ref u, (nuint)dx)).StoreUnsafe(ref s, (nuint)dx);
        }

        VerticalAddScalar(sum, buf, beta, dx);
    }

    // resizeGeneric_ with HResizeLinear / VResizeLinear; area mode uses INTER_AREA's enlarging weights.
    private static void Linear<T, TRows>(ref TRows rows, int sw, int sh, int cn, int dw, int dh, double scaleX, double scaleY,
        double invScaleX, double invScaleY, bool areaMode, Span<T> dst, ResizeScratch<T> scratch)
        where T : struct, IFloatingPointIeee754<T>
        where TRows : IImageRows<T>, allows ref struct
    {
        var xofs = ResizeScratch<T>.Grow(ref scratch.Offsets, dw);
        var xAlpha = ResizeScratch<T>.Grow(ref scratch.Alpha, 2 * dw);
        int xmax = LinearTable(sw, dw, scaleX, invScaleX, areaMode, clampEdges: true, xofs, xAlpha);
        // Vertically OpenCV clamps the row indices but keeps the weights: at the edges both rows are the same row and
        // the result is row·(1 − f) + row·f, which is not always exactly row in floating point.
        var yofs = ResizeScratch<T>.Grow(ref scratch.Offsets2, dh);
        var yAlpha = ResizeScratch<T>.Grow(ref scratch.Alpha2, 2 * dh);
        LinearTable(sh, dh, scaleY, invScaleY, areaMode, clampEdges: false, yofs, yAlpha);
        var row0 = ResizeScratch<T>.Grow(ref scratch.Row0, dw * cn);
        var row1 = ResizeScratch<T>.Grow(ref scratch.Row1, dw * cn);
        for (int dy = 0; dy < dh; dy++)
        {
            int sy0 = Math.Clamp(yofs[dy], 0, sh - 1), sy1 = Math.Clamp(yofs[dy] + 1, 0, sh - 1);
            Horizontal(Row<T, TRows>(ref rows, sy0, 1, sw * cn), cn, dw, xofs, xAlpha, xmax, row0); // done before the next row is asked for
            Horizontal(Row<T, TRows>(ref rows, sy1, 1, sw * cn), cn, dw, xofs, xAlpha, xmax, row1);
            T b0 = yAlpha[2 * dy], b1 = yAlpha[2 * dy + 1];
            for (int x = 0; x < dw * cn; x++)
            {
                dst[dy * dw * cn + x] = row0[x] * b0 + row1[x] * b1;
            }
        }
    }

    private static void Horizontal<T>(ReadOnlySpan<T> row, int cn, int dw, int[] xofs, T[] alpha, int xmax, T[] output)
        where T : struct, IFloatingPointIeee754<T>
    {
        for (int dx = 0; dx < dw; dx++)
        {
            int sx = xofs[dx] * cn;
            for (int c = 0; c < cn; c++)
            {
                output[dx * cn + c] = dx < xmax
                    ? row[sx + c] * alpha[2 * dx] + row[sx + cn + c] * alpha[2 * dx + 1]
                    : row[sx + c] * alpha[2 * dx];
            }
        }
    }

    // The first dsize offsets and 2·dsize weights of `offsets` and `alpha`; returns the first cell whose right tap is clamped.
    private static int LinearTable<T>(int ssize, int dsize, double scale, double invScale, bool areaMode, bool clampEdges, int[] offsets, T[] alpha)
        where T : struct, IFloatingPointIeee754<T>
    {
        int max = dsize;
        for (int dx = 0; dx < dsize; dx++)
        {
            float fx;
            int sx;
            if (!areaMode)
            {
                fx = (float)((dx + 0.5) * scale - 0.5);
                sx = (int)MathF.Floor(fx);
                fx -= sx;
            }
            else
            {
                sx = (int)Math.Floor(dx * scale);
                fx = (float)((dx + 1) - (sx + 1) * invScale);
                fx = fx <= 0 ? 0f : fx - MathF.Floor(fx);
            }

            if (clampEdges && sx < 0)
            {
                fx = 0;
                sx = 0;
            }

            if (clampEdges && sx + 1 >= ssize)
            {
                max = Math.Min(max, dx);
                if (sx >= ssize - 1)
                {
                    fx = 0;
                    sx = ssize - 1;
                }
            }

            offsets[dx] = sx;
            alpha[2 * dx] = T.CreateChecked(1f - fx);
            alpha[2 * dx + 1] = T.CreateChecked(fx);
        }

        return max;
    }
}

/// <summary>
/// The rows of a resize's source, asked for a band at a time in increasing order (a band may be asked for again); see
/// <see cref="OpenCvResize.Area{T, TRows}(TRows, int, int, int, int, int, Span{T}, ResizeScratch{T})"/>.
/// </summary>
/// <typeparam name="T">The element type of the image.</typeparam>
public interface IImageRows<T>
{
    /// <summary>
    /// Rows <paramref name="y"/> to <paramref name="y"/> + <paramref name="count"/> − 1, contiguous (width·channels values
    /// each). The span may be overwritten by the next call.
    /// </summary>
    ReadOnlySpan<T> Rows(int y, int count);
}

/// <summary>
/// The weight tables and row buffers of <see cref="OpenCvResize"/>, kept between calls by a caller that resizes often. They
/// grow to the largest sizes seen and are never shrunk; one instance serves one resize at a time (keep one per thread).
/// </summary>
/// <typeparam name="T">The element type of the images resized with it.</typeparam>
public sealed class ResizeScratch<T>
    where T : struct, IFloatingPointIeee754<T>
{
    /// <summary>A scratch whose resizes use the process's vector width (<see cref="Simd.Default"/>).</summary>
    public ResizeScratch()
        : this(Simd.Default)
    {
    }

    /// <summary>
    /// A scratch whose resizes use at most <paramref name="level"/> (lowered to what the CPU has): the area decimation's
    /// loops have 128-bit forms, its three-channel float pass a 256-bit one that takes two source rows at once, and its
    /// three-channel double pass a 256-bit one; all
    /// give the scalar form's values bit for bit, so the level changes only the speed.
    /// </summary>
    public ResizeScratch(SimdLevel level) => Level = Simd.Clamp(level);

    /// <summary>The vector width this scratch's resizes use.</summary>
    public SimdLevel Level { get; }

    /// <summary>
    /// Grows the buffers to what resizing <paramref name="sw"/>×<paramref name="sh"/> to <paramref name="dw"/>×<paramref name="dh"/>
    /// with <paramref name="cn"/> channels needs (and to what any smaller source into the same destination needs), so that
    /// a later call of that shape allocates nothing. Callers that keep one scratch per worker reserve each for the largest
    /// job of a batch, since which worker takes which job changes from run to run.
    /// </summary>
    public void Reserve(int sw, int sh, int cn, int dw, int dh)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Math.Min(Math.Min(sw, sh), Math.Min(Math.Min(cn, dw), dh)), 1);
        // Decimation: a table entry per covered source cell plus two partial cells per destination cell. Integer-factor
        // block sums: one offset per cell of a block. Enlarging: one offset and two weights per destination cell.
        int xTaps = sw + 2 * dw, yTaps = sh + 2 * dh;
        int block = (int)Math.Min(int.MaxValue, (long)((sw + dw - 1) / dw + 1) * ((sh + dh - 1) / dh + 1));
        Grow(ref XTable, xTaps);
        Grow(ref YTable, yTaps);
        Grow(ref Offsets, Math.Max(Math.Max(xTaps, block), dw));
        Grow(ref Offsets2, Math.Max(xTaps, dh));
        Grow(ref Alpha, Math.Max(xTaps, 2 * dw));
        Grow(ref Alpha2, 2 * dh);
        Grow(ref Row0, dw * cn);
        Grow(ref Row1, dw * cn);
        if (cn == 3 && typeof(T) == typeof(float))
        {
            Grow(ref Row2, dw * cn); // the second row of a pair
        }

        if (cn == 3 && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
        {
            ThreeChannel.Reserve(sw, dw); // the three-channel passes' table (float at 128 bits and up, double at 256)
        }
    }

    internal OpenCvResize.Decimate[] XTable = [];
    internal OpenCvResize.Decimate[] YTable = [];
    internal int[] Offsets = [];
    internal int[] Offsets2 = [];
    internal T[] Alpha = [];
    internal T[] Alpha2 = [];
    internal T[] Row0 = [];
    internal T[] Row1 = [];
    internal T[] Row2 = [];
    internal readonly ThreeChannelTable<T> ThreeChannel = new();

    // `buffer` when it holds at least `length` values, else a new one of that length in its place (contents not kept).
    internal static TItem[] Grow<TItem>(ref TItem[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new TItem[length];
        }

        return buffer;
    }
}

/// <summary>
/// INTER_AREA's horizontal decimation table for three channels (float or double) laid out for the vector passes: a row of
/// <see cref="Group"/> entries per destination cell (its source pixels in the reference's order, then padding with mask
/// and weight zero), cells [0, <see cref="FastCells"/>) read with four-lane loads, the rest (those that reach the last
/// source pixel, whose fourth lane lies past the row) by the reference loop from <see cref="TailTap"/>. The last cell
/// always reaches the last pixel, so it is never a fast cell, and a fast cell's four-lane store stays inside the row.
/// </summary>
/// <typeparam name="T">The element type of the rows: float (128-bit vectors) or double (256-bit).</typeparam>
internal sealed class ThreeChannelTable<T>
    where T : struct, IFloatingPointIeee754<T>
{
    // All bits set (a NaN, in either type): the AND keeps the pixel. Padding's mask is +0, which no NaN test mistakes for it.
    // Only float and double tables are ever built (AreaDecimate); any other T gets zero here and is never used.
    private static readonly T Keep = typeof(T) == typeof(float) ? (T)(object)BitConverter.Int32BitsToSingle(-1)
        : typeof(T) == typeof(double) ? (T)(object)BitConverter.Int64BitsToDouble(-1)
        : T.Zero;

    private int _taps, _sourceLength;
    private int[] _xSrc = [], _xDst = [];
    private T[] _xAlpha = [];
    private int[] _source = [];
    private T[] _alpha = [];
    private T[] _mask = [];

    // Entry e of cell c is [c · Group + e]: the source offset of its pixel, its weight, its mask (all bits, or none).
    public int[] Source => _source;

    public T[] Alpha => _alpha;

    public T[] Mask => _mask;

    public int Group { get; private set; }

    public int Cells { get; private set; }

    public int FastCells { get; private set; }

    public int TailTap { get; private set; }

    // A cell has at most ⌈scale⌉ + 2 entries, so the padded table is at most dw·(⌈sw/dw⌉ + 2) ≤ sw + 3·dw long.
    public void Reserve(int sw, int dw)
    {
        int length = sw + 3 * dw;
        ResizeScratch<T>.Grow(ref _source, length);
        ResizeScratch<T>.Grow(ref _alpha, length);
        ResizeScratch<T>.Grow(ref _mask, length);
    }

    // The layout of a decimation table (entries grouped by cell, cells in order, as AreaTable makes them) of `sw` pixels into `dw` cells.
    // The arrays are kept (not copied) for Tail until the next Build.
    public ThreeChannelTable<T> Build(int sw, int dw, int taps, int[] xSrc, int[] xDst, T[] xAlpha)
    {
        int group = 0;
        for (int k = 0, run = 0; k < taps; k++)
        {
            run = k > 0 && xDst[k] == xDst[k - 1] ? run + 1 : 1;
            group = Math.Max(group, run);
        }

        ResizeScratch<T>.Grow(ref _source, dw * group);
        ResizeScratch<T>.Grow(ref _alpha, dw * group);
        ResizeScratch<T>.Grow(ref _mask, dw * group);
        int lastLoad = sw * 3 - 4; // the last pixel that four lanes can be read from without passing the row's end
        int fast = 0, tailTap = taps;
        Array.Clear(_mask, 0, dw * group);
        Array.Clear(_alpha, 0, dw * group);
        Array.Clear(_source, 0, dw * group);
        for (int k = 0, slot = 0; k < taps; k++)
        {
            int cell = xDst[k] / 3;
            if (xSrc[k] > lastLoad)
            {
                // This cell and every later one go to the tail (entries are in source order, so later cells read no earlier pixel).
                int first = k;
                while (first > 0 && xDst[first - 1] == xDst[k])
                {
                    first--;
                }

                tailTap = first;
                fast = cell;
                break;
            }

            slot = k > 0 && xDst[k] == xDst[k - 1] ? slot + 1 : 0;
            int e = cell * group + slot;
            _source[e] = xSrc[k];
            _alpha[e] = xAlpha[k];
            _mask[e] = Keep;
            fast = cell + 1;
        }

        // Padding entries read the cell's last pixel (any pixel inside the row would do: the mask zeroes it).
        for (int cell = 0; cell < fast; cell++)
        {
            for (int e = cell * group + 1; e < (cell + 1) * group; e++)
            {
                if (!T.IsNaN(_mask[e]))
                {
                    _source[e] = _source[e - 1];
                }
            }
        }

        if (fast >= dw)
        {
            // AreaTable gives the last cell the last pixel, so this cannot happen; were it to, the vector stores of the
            // last cell would pass the row's end.
            throw new InvalidOperationException($"A decimation table of {sw} pixels into {dw} cells has no entry for the last pixel in its last cell.");
        }

        Group = group;
        Cells = dw;
        FastCells = fast;
        TailTap = tailTap;
        _taps = taps;
        _sourceLength = sw * 3;
        _xSrc = xSrc;
        _xDst = xDst;
        _xAlpha = xAlpha;
        return this;
    }

    public void Check(int rowLength, int bufLength)
    {
        if (rowLength != _sourceLength || bufLength != Cells * 3)
        {
            throw new ArgumentException($"A table for rows of {_sourceLength} values into {Cells * 3} was given a row of {rowLength} into {bufLength}.");
        }
    }

    // The cells from FastCells on, by the reference loop: zeroed (the last fast cell's fourth lane may have landed on the
    // first), then buf[di + c] += row[si + c] · alpha entry by entry.
    public void Tail(ReadOnlySpan<T> row, Span<T> buf)
    {
        buf[(FastCells * 3)..].Clear();
        for (int k = TailTap; k < _taps; k++)
        {
            int si = _xSrc[k], di = _xDst[k];
            T alpha = _xAlpha[k];
            buf[di] += row[si] * alpha;
            buf[di + 1] += row[si + 1] * alpha;
            buf[di + 2] += row[si + 2] * alpha;
        }
    }
}
