using System.Numerics;
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
    /// same as resizing the whole source.
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
    private static int AreaTable(int ssize, int dsize, int cn, double scale, ref Decimate[] tab)
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
        var buf = ResizeScratch<T>.Grow(ref scratch.Row0, width).AsSpan(0, width);
        var sum = ResizeScratch<T>.Grow(ref scratch.Row1, width).AsSpan(0, width);
        sum.Clear(); // written before it is read, as a new array's zeros would be
        int prevDy = ytab[0].Di, prevSy = -1;
        bool vector = scratch.Level >= SimdLevel.Vector128 && Vector128.IsHardwareAccelerated && Vector128<T>.IsSupported; // float, double
        for (int j = 0; j < yTaps; j++)
        {
            T beta = T.CreateChecked((float)ytab[j].Alpha);
            int dy = ytab[j].Di, sy = ytab[j].Si;

            // A source row straddling two destination rows is the last tap of one and the first of the next: its
            // horizontal pass is the same values both times, so it runs once (OpenCV runs it twice).
            if (sy != prevSy)
            {
                var row = Row<T, TRows>(ref rows, sy, 1, sw * cn);
                if (vector && cn == 3 && typeof(T) == typeof(float))
                {
                    HorizontalArea3Vector128(MemoryMarshal.Cast<T, float>(row), taps, xSrc, xDst,
                        MemoryMarshal.Cast<T, float>(xAlpha.AsSpan()), MemoryMarshal.Cast<T, float>(buf));
                }
                else
                {
                    HorizontalAreaScalar(row, cn, taps, xSrc, xDst, xAlpha, buf);
                }

                prevSy = sy;
            }

            if (dy != prevDy)
            {
                var target = dst.Slice(prevDy * width, width);
                if (vector)
                {
                    VerticalStartVector128(sum, buf, beta, target);
                }
                else
                {
                    VerticalStartScalar(sum, buf, beta, target, 0);
                }

                prevDy = dy;
            }
            else if (vector)
            {
                VerticalAddVector128(sum, buf, beta);
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

    // The same pass for three float channels, a pixel per vector: lane c of the accumulator takes channel c of each of the
    // cell's source pixels (lane 3, the next pixel's first channel, is never stored into the cell). The table lists each
    // cell's entries together and in source order, so each lane sees the products the reference adds to buf[di + c], in
    // the same order, from the same zero, with a multiply and an add each (never fused): the same floats.
    internal static void HorizontalArea3Vector128(ReadOnlySpan<float> row, int taps, int[] xSrc, int[] xDst, ReadOnlySpan<float> xAlpha,
        Span<float> buf)
    {
        buf.Clear();
        ref float source = ref MemoryMarshal.GetReference(row);
        ref float target = ref MemoryMarshal.GetReference(buf);
        int lastLoad = row.Length - 4; // a pixel from here on is read by three scalar loads, not four lanes
        int k = 0;
        while (k < taps)
        {
            int di = xDst[k];
            var acc = Vector128<float>.Zero;
            for (; k < taps && xDst[k] == di; k++)
            {
                int si = xSrc[k];
                var pixel = si <= lastLoad
                    ? Vector128.LoadUnsafe(ref source, (nuint)si)
                    : Vector128.Create(row[si], row[si + 1], row[si + 2], 0f);
                acc += pixel * Vector128.Create(xAlpha[k]);
            }

            if (k < taps && xDst[k] == di + 3)
            {
                acc.StoreUnsafe(ref target, (nuint)di); // lane 3 lands on the next cell's first value, written next
            }
            else
            {
                buf[di] = acc.GetElement(0);
                buf[di + 1] = acc.GetElement(1);
                buf[di + 2] = acc.GetElement(2);
            }
        }
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

    // The vertical passes on whole vectors (element-wise: the same multiply and add per value), the tail by the reference.
    internal static void VerticalStartVector128<T>(Span<T> sum, ReadOnlySpan<T> buf, T beta, Span<T> target)
        where T : struct, IFloatingPointIeee754<T>
    {
        var b = Vector128.Create(beta);
        ref T s = ref MemoryMarshal.GetReference(sum);
        ref T u = ref MemoryMarshal.GetReference(buf);
        ref T t = ref MemoryMarshal.GetReference(target);
        int dx = 0;
        for (; dx <= sum.Length - Vector128<T>.Count; dx += Vector128<T>.Count)
        {
            Vector128.LoadUnsafe(ref s, (nuint)dx).StoreUnsafe(ref t, (nuint)dx);
            (b * Vector128.LoadUnsafe(ref u, (nuint)dx)).StoreUnsafe(ref s, (nuint)dx);
        }

        VerticalStartScalar(sum, buf, beta, target, dx);
    }

    internal static void VerticalAddVector128<T>(Span<T> sum, ReadOnlySpan<T> buf, T beta)
        where T : struct, IFloatingPointIeee754<T>
    {
        var b = Vector128.Create(beta);
        ref T s = ref MemoryMarshal.GetReference(sum);
        ref T u = ref MemoryMarshal.GetReference(buf);
        int dx = 0;
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
    /// A scratch whose resizes use at most <paramref name="level"/> (lowered to what the CPU has): the widest loops of
    /// the area decimation are written for 128-bit vectors and give the scalar form's values bit for bit, so the level
    /// changes only the speed.
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
    }

    internal OpenCvResize.Decimate[] XTable = [];
    internal OpenCvResize.Decimate[] YTable = [];
    internal int[] Offsets = [];
    internal int[] Offsets2 = [];
    internal T[] Alpha = [];
    internal T[] Alpha2 = [];
    internal T[] Row0 = [];
    internal T[] Row1 = [];

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
