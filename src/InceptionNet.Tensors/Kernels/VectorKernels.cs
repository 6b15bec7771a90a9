using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InceptionNet.Tensors;

/// <summary>
/// The vector operations the shared kernels use, for one vector type. <c>System.Runtime.Intrinsics.ISimdVector</c> would
/// be this, but it is internal to the runtime (.NET 10's reference assemblies do not have it, and Vector128&lt;float&gt;
/// exposes no operator interfaces), so each width maps these onto its own Vector128/256/512 calls. Implemented by
/// structs, so every use is a direct, inlined call in code the JIT compiles for that width alone.
/// </summary>
internal unsafe interface IVectorOps<TVector>
    where TVector : struct
{
    static abstract int Count { get; }

    static abstract TVector Zero { get; }

    static abstract TVector Create(float value);

    static abstract TVector Create(ReadOnlySpan<float> values);

    static abstract TVector Load(float* source);

    static abstract TVector LoadUnsafe(ref float source, nuint index);

    /// <summary>
    /// <c>2·</c><see cref="Count"/> signed bytes from <paramref name="codes"/> times as many 16-bit integers from
    /// <paramref name="query"/>, the products added into <paramref name="accumulator"/>'s <see cref="Count"/> 32-bit
    /// integer lanes (held in the float vector's bits; which lane gets which product is the width's own). Integer
    /// arithmetic: exact, wrapping modulo 2³², so any grouping gives the same lane total (<see cref="SumInt32"/>).
    /// </summary>
    static abstract TVector MultiplyAddInt16(sbyte* codes, short* query, TVector accumulator);

    /// <summary>The sum of <paramref name="value"/>'s lanes taken as 32-bit integers, modulo 2³².</summary>
    static abstract int SumInt32(TVector value);

    static abstract void Store(TVector value, float* destination);

    static abstract void StoreUnsafe(TVector value, ref float destination, nuint index);

    static abstract TVector Add(TVector x, TVector y);

    static abstract TVector Subtract(TVector x, TVector y);

    static abstract TVector Multiply(TVector x, TVector y);

    static abstract TVector Divide(TVector x, TVector y);

    /// <summary><c>x · y + addend</c> rounded once, always (the software fallback where the hardware lacks FMA).</summary>
    static abstract TVector FusedMultiplyAdd(TVector x, TVector y, TVector addend);

    /// <summary><c>x · y + addend</c>, fused where the hardware has FMA; the width decides what to do where it has not.</summary>
    static abstract TVector MultiplyAdd(TVector x, TVector y, TVector addend);

    static abstract TVector GreaterThan(TVector x, TVector y);

    static abstract TVector LessThan(TVector x, TVector y);

    static abstract TVector ConditionalSelect(TVector condition, TVector whenTrue, TVector whenFalse);

    static abstract TVector Sqrt(TVector value);

    static abstract float Sum(TVector value);
}

/// <summary>
/// What every vector set does the same way at any width: the fused convolution epilogue, pooling, squared distances and
/// ReLU, written once over <typeparamref name="TOps"/>. The derived sets keep what depends on the width: the micro-kernel
/// and its tile shape. Each loop runs whole vectors; a ragged end goes to an overlapping or a 128-bit vector where that
/// gives the same values (the epilogue and pooling), else to the scalar reference form in <see cref="KernelSet"/>.
/// </summary>
internal abstract class VectorKernels<TVector, TOps> : KernelSet
    where TVector : struct
    where TOps : struct, IVectorOps<TVector>
{
    private protected VectorKernels()
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static TVector MultiplyAdd(TVector x, TVector y, TVector addend) => TOps.MultiplyAdd(x, y, addend);

    // Branch-free activation: a per-element branch on the sign of the data mispredicts half the time. Whole vectors, then
    // a ragged end: without a residual one more vector ending at the last column (the columns it shares with the one
    // before get the same values again: the epilogue reads the tile, bias and slopes, never what it wrote), else — the
    // residual may be the output itself, which a second pass would add twice — 128-bit vectors that do not overlap, and
    // the reference for the last few. Narrow outputs (MTCNN's 10 channels) thus run on 128-bit vectors, not the scalar form.
    internal sealed override unsafe void Epilogue(float* tile, int rows, int cols, in EpilogueTarget target)
    {
        // Locals, not reads through `target`: the stores through dst could alias it as far as the JIT knows.
        float* bias = target.Bias, slopes = target.NegativeSlopes;
        bool relu = target.Relu, overlap = target.Residual == null;
        float scale = target.Scale;
        int wide = cols - cols % TOps.Count; // columns done by whole vectors of this width
        int narrowFrom = wide, narrowTo = wide, overlapAt = -1;
        if (wide < cols)
        {
            if (overlap && cols >= TOps.Count)
            {
                overlapAt = cols - TOps.Count;
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                narrowTo = wide + (cols - wide) / Vector128<float>.Count * Vector128<float>.Count;
                if (narrowTo < cols && overlap && cols >= Vector128<float>.Count)
                {
                    overlapAt = cols - Vector128<float>.Count;
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            float* acc = tile + r * TileColumns;
            float* dst = target.Output + r * target.OutputStride;
            float* res = target.Residual == null ? null : target.Residual + r * target.ResidualStride;
            for (int j = 0; j < wide; j += TOps.Count)
            {
                EpilogueVector<TVector, TOps>(acc, dst, res, bias, slopes, relu, scale, j);
            }

            for (int j = narrowFrom; j < narrowTo; j += Vector128<float>.Count)
            {
                EpilogueVector<Vector128<float>, Vector128Kernels.Ops>(acc, dst, res, bias, slopes, relu, scale, j);
            }

            if (overlapAt >= 0)
            {
                if (cols >= TOps.Count)
                {
                    EpilogueVector<TVector, TOps>(acc, dst, res, bias, slopes, relu, scale, overlapAt);
                }
                else
                {
                    EpilogueVector<Vector128<float>, Vector128Kernels.Ops>(acc, dst, res, bias, slopes, relu, scale, overlapAt);
                }
            }
        }

        if (overlapAt < 0)
        {
            EpilogueScalar(tile, rows, narrowTo, cols, target);
        }
    }

    internal sealed override int DirectPixels => 2 * TOps.Count;

    // Five channels × two vectors of pixels in ten accumulators (with the two input vectors and a weight, 13 registers:
    // fits the 16 of x64 at 256 bits), group after group; the taps in the GEMM's order, each a multiply-add as the
    // micro-kernel's, so the sums are its bits. One loop over the taps through their offsets (nested loops over P-Net's
    // three rows, columns and channels ran 1.8× slower). The finished vectors go through the epilogue's operations lane
    // by lane.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit] // the staging block is written before it is read
    internal sealed override unsafe void DirectSmallInput(float* src, long* offsets, int taps, float* form, int channels, int pixels,
        in EpilogueTarget target)
    {
        int n = TOps.Count;
        // The finished sums, channel-major: two vectors per channel, every channel of the groups.
        float* staged = stackalloc float[(channels + DirectGroup - 1) / DirectGroup * DirectGroup * 2 * n];
        for (int c0 = 0; c0 < channels; c0 += DirectGroup, form += taps * DirectGroup)
        {
            TVector a00 = TOps.Zero, a01 = TOps.Zero, a10 = TOps.Zero, a11 = TOps.Zero, a20 = TOps.Zero, a21 = TOps.Zero;
            TVector a30 = TOps.Zero, a31 = TOps.Zero, a40 = TOps.Zero, a41 = TOps.Zero;
            float* w = form;
            for (int t = 0; t < taps; t++, w += DirectGroup)
            {
                float* s = src + offsets[t];
                var x0 = TOps.Load(s);
                var x1 = TOps.Load(s + n);
                var b = TOps.Create(w[0]);
                a00 = MultiplyAdd(x0, b, a00);
                a01 = MultiplyAdd(x1, b, a01);
                b = TOps.Create(w[1]);
                a10 = MultiplyAdd(x0, b, a10);
                a11 = MultiplyAdd(x1, b, a11);
                b = TOps.Create(w[2]);
                a20 = MultiplyAdd(x0, b, a20);
                a21 = MultiplyAdd(x1, b, a21);
                b = TOps.Create(w[3]);
                a30 = MultiplyAdd(x0, b, a30);
                a31 = MultiplyAdd(x1, b, a31);
                b = TOps.Create(w[4]);
                a40 = MultiplyAdd(x0, b, a40);
                a41 = MultiplyAdd(x1, b, a41);
            }

            float* group = staged + c0 * 2 * n;
            int last = channels - 1;
            DirectFinish(a00, a01, c0, group, target);
            DirectFinish(a10, a11, Math.Min(c0 + 1, last), group + 2 * n, target);
            DirectFinish(a20, a21, Math.Min(c0 + 2, last), group + 4 * n, target);
            DirectFinish(a30, a31, Math.Min(c0 + 3, last), group + 6 * n, target);
            DirectFinish(a40, a41, Math.Min(c0 + 4, last), group + 8 * n, target);
        }

        // Channel-major to the output's pixel-major order, a pixel's channels one after another.
        float* dst = target.Output;
        long stride = target.OutputStride;
        for (int p = 0; p < pixels; p++, dst += stride)
        {
            float* from = staged + p;
            for (int c = 0; c < channels; c++)
            {
                dst[c] = from[c * 2 * n];
            }
        }
    }

    // Channel c of the direct tile (two vectors of sums): acc + bias, then the activation, as the epilogue's lanes do it,
    // staged channel-major. Channels past the last (a group's padding) get the last channel's bias and slope and are
    // never copied out.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void DirectFinish(TVector low, TVector high, int c, float* staged, in EpilogueTarget target)
    {
        var bias = TOps.Create(target.Bias[c]);
        low = TOps.Add(low, bias);
        high = TOps.Add(high, bias);
        if (target.NegativeSlopes != null)
        {
            var slope = TOps.Create(target.NegativeSlopes[c]);
            low = Prelu<TVector, TOps>(low, slope);
            high = Prelu<TVector, TOps>(high, slope);
        }
        else if (target.Relu)
        {
            low = Relu<TVector, TOps>(low);
            high = Relu<TVector, TOps>(high);
        }

        TOps.Store(low, staged);
        TOps.Store(high, staged + TOps.Count);
    }

    // Columns [j, j + count) of one tile row: act(residual + scale·(acc + bias)), lane by lane the reference's operations.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void EpilogueVector<TV, TO>(float* acc, float* dst, float* res, float* bias, float* slopes, bool relu, float scale, int j)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        var v = TO.Add(TO.Load(acc + j), TO.Load(bias + j));
        if (res != null)
        {
            v = TO.Add(TO.Load(res + j), TO.Multiply(TO.Create(scale), v));
        }

        if (slopes != null)
        {
            v = Prelu<TV, TO>(v, TO.Load(slopes + j));
        }
        else if (relu)
        {
            v = Relu<TV, TO>(v);
        }

        TO.Store(v, dst + j);
    }

    // The epilogue's activations, lane by lane the reference's (ActivateScalar): PReLU keeps v above zero and takes
    // slope·v elsewhere; ReLU puts zero where v is below zero.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Prelu<TV, TO>(TV v, TV slope)
        where TV : struct
        where TO : struct, IVectorOps<TV> =>
        TO.ConditionalSelect(TO.GreaterThan(v, TO.Zero), v, TO.Multiply(slope, v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Relu<TV, TO>(TV v)
        where TV : struct
        where TO : struct, IVectorOps<TV> =>
        TO.ConditionalSelect(TO.LessThan(v, TO.Zero), TO.Zero, v);

    // Whole vectors of channels, then 128-bit vectors, then the reference for the last few: the same operations in the
    // same order on every lane, so the same bits.
    internal sealed override unsafe void WinogradInput(float* src, long rowStride, long colStride, int channels, float* dst, long dstStride)
    {
        int c = 0;
        for (; c <= channels - TOps.Count; c += TOps.Count)
        {
            WinogradInputVector<TVector, TOps>(src + c, rowStride, colStride, dst + c, dstStride);
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; c <= channels - Vector128<float>.Count; c += Vector128<float>.Count)
            {
                WinogradInputVector<Vector128<float>, Vector128Kernels.Ops>(src + c, rowStride, colStride, dst + c, dstStride);
            }
        }

        WinogradInputScalar(src, rowStride, colStride, c, channels, dst, dstStride);
    }

    internal sealed override unsafe void WinogradOutput(float* m, long mStride, float* y, long yRowStride)
    {
        for (int c = 0; c < TileColumns; c += TOps.Count)
        {
            WinogradOutputVector<TVector, TOps>(m + c, mStride, y + c, yRowStride);
        }
    }

    internal sealed override unsafe void WinogradS2Input(float* src, long rowStride, long colStride, int channels, float* dst, long dstStride)
    {
        int c = 0;
        for (; c <= channels - TOps.Count; c += TOps.Count)
        {
            WinogradS2InputVector<TVector, TOps>(src + c, rowStride, colStride, dst + c, dstStride);
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; c <= channels - Vector128<float>.Count; c += Vector128<float>.Count)
            {
                WinogradS2InputVector<Vector128<float>, Vector128Kernels.Ops>(src + c, rowStride, colStride, dst + c, dstStride);
            }
        }

        WinogradS2InputScalar(src, rowStride, colStride, c, channels, dst, dstStride);
    }

    internal sealed override unsafe void WinogradS2Output(float* m, long mStride, float* y, long yRowStride)
    {
        for (int c = 0; c < TileColumns; c += TOps.Count)
        {
            WinogradS2OutputVector<TVector, TOps>(m + c, mStride, y + c, yRowStride);
        }
    }

    // WinogradS2InputScalar on one vector of channels: t = T d column by column, then each row of t through T.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WinogradS2InputVector<TV, TO>(float* s, long rs, long cs, float* d, long ds)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        var (a0, b0, c0, e0, f0) = S2Column<TV, TO>(s, rs);
        var (a1, b1, c1, e1, f1) = S2Column<TV, TO>(s + cs, rs);
        var (a2, b2, c2, e2, f2) = S2Column<TV, TO>(s + 2 * cs, rs);
        var (a3, b3, c3, e3, f3) = S2Column<TV, TO>(s + 3 * cs, rs);
        var (a4, b4, c4, e4, f4) = S2Column<TV, TO>(s + 4 * cs, rs);
        S2Row<TV, TO>(a0, a1, a2, a3, a4, d, ds);
        S2Row<TV, TO>(b0, b1, b2, b3, b4, d + 5 * ds, ds);
        S2Row<TV, TO>(c0, c1, c2, c3, c4, d + 10 * ds, ds);
        S2Row<TV, TO>(e0, e1, e2, e3, e4, d + 15 * ds, ds);
        S2Row<TV, TO>(f0, f1, f2, f3, f4, d + 20 * ds, ds);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (TV, TV, TV, TV, TV) S2Column<TV, TO>(float* s, long rs)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV d0 = TO.Load(s), d1 = TO.Load(s + rs), d2 = TO.Load(s + 2 * rs), d3 = TO.Load(s + 3 * rs), d4 = TO.Load(s + 4 * rs);
        return (TO.Subtract(d0, d2), d2, TO.Subtract(d4, d2), d1, d3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void S2Row<TV, TO>(TV t0, TV t1, TV t2, TV t3, TV t4, float* d, long ds)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TO.Store(TO.Subtract(t0, t2), d);
        TO.Store(t2, d + ds);
        TO.Store(TO.Subtract(t4, t2), d + 2 * ds);
        TO.Store(t1, d + 3 * ds);
        TO.Store(t3, d + 4 * ds);
    }

    // WinogradS2OutputScalar on one vector of columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WinogradS2OutputVector<TV, TO>(float* m, long ms, float* y, long yRowStride)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        var (s00, s10) = S2OutputColumn<TV, TO>(m, ms);
        var (s01, s11) = S2OutputColumn<TV, TO>(m + ms, ms);
        var (s02, s12) = S2OutputColumn<TV, TO>(m + 2 * ms, ms);
        var (s03, s13) = S2OutputColumn<TV, TO>(m + 3 * ms, ms);
        var (s04, s14) = S2OutputColumn<TV, TO>(m + 4 * ms, ms);
        TO.Store(TO.Add(TO.Add(s00, s01), s03), y);
        TO.Store(TO.Add(TO.Add(s01, s02), s04), y + TileColumns);
        TO.Store(TO.Add(TO.Add(s10, s11), s13), y + yRowStride);
        TO.Store(TO.Add(TO.Add(s11, s12), s14), y + yRowStride + TileColumns);
    }

    // Column j of M (elements j, 5 + j, 10 + j, 15 + j, 20 + j) through S.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (TV Top, TV Bottom) S2OutputColumn<TV, TO>(float* m, long ms)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV m0 = TO.Load(m), m1 = TO.Load(m + 5 * ms), m2 = TO.Load(m + 10 * ms), m3 = TO.Load(m + 15 * ms), m4 = TO.Load(m + 20 * ms);
        return (TO.Add(TO.Add(m0, m1), m3), TO.Add(TO.Add(m1, m2), m4));
    }

    internal sealed override unsafe void Winograd7Input(float* src, long stride, int channels, float* dst, long dstStride)
    {
        int c = 0;
        for (; c <= channels - TOps.Count; c += TOps.Count)
        {
            Winograd7InputVector<TVector, TOps>(src + c, stride, dst + c, dstStride);
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; c <= channels - Vector128<float>.Count; c += Vector128<float>.Count)
            {
                Winograd7InputVector<Vector128<float>, Vector128Kernels.Ops>(src + c, stride, dst + c, dstStride);
            }
        }

        Winograd7InputScalar(src, stride, c, channels, dst, dstStride);
    }

    internal sealed override unsafe void Winograd7Output(float* m, long mStride, float* y, long yStride)
    {
        for (int c = 0; c < TileColumns; c += TOps.Count)
        {
            Winograd7OutputVector<TVector, TOps>(m + c, mStride, y + c, yStride);
        }
    }

    // Winograd7InputScalar on one vector of channels: the same products and sums in the same order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Winograd7InputVector<TV, TO>(float* s, long st, float* d, long ds)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV d0 = TO.Load(s), d1 = TO.Load(s + st), d2 = TO.Load(s + 2 * st), d3 = TO.Load(s + 3 * st);
        TV d4 = TO.Load(s + 4 * st), d5 = TO.Load(s + 5 * st), d6 = TO.Load(s + 6 * st), d7 = TO.Load(s + 7 * st);
        TV c2 = TO.Create(2f), c4 = TO.Create(4f), c5 = TO.Create(5f), c8 = TO.Create(8f), c10 = TO.Create(10f), c17 = TO.Create(17f), c21 = TO.Create(21f);
        TO.Store(TO.Add(TO.Multiply(c4, TO.Subtract(d0, d6)), TO.Multiply(c21, TO.Subtract(d4, d2))), d);
        TV a1 = TO.Subtract(TO.Multiply(c17, d4), TO.Multiply(c4, TO.Add(d2, d6)));
        TV b1 = TO.Subtract(TO.Multiply(c17, d3), TO.Multiply(c4, TO.Add(d1, d5)));
        TO.Store(TO.Add(a1, b1), d + ds);
        TO.Store(TO.Subtract(a1, b1), d + 2 * ds);
        TV a2 = TO.Add(TO.Subtract(TO.Multiply(c8, d2), TO.Multiply(c10, d4)), TO.Multiply(c2, d6));
        TV b2 = TO.Add(TO.Subtract(TO.Multiply(c4, d1), TO.Multiply(c5, d3)), d5);
        TO.Store(TO.Add(a2, b2), d + 3 * ds);
        TO.Store(TO.Subtract(a2, b2), d + 4 * ds);
        TV a3 = TO.Add(TO.Subtract(d2, TO.Multiply(c5, d4)), TO.Multiply(c4, d6));
        TV b3 = TO.Add(TO.Subtract(TO.Multiply(c2, d1), TO.Multiply(c10, d3)), TO.Multiply(c8, d5));
        TO.Store(TO.Add(a3, b3), d + 5 * ds);
        TO.Store(TO.Subtract(a3, b3), d + 6 * ds);
        TO.Store(TO.Add(TO.Multiply(c4, TO.Subtract(d7, d1)), TO.Multiply(c21, TO.Subtract(d3, d5))), d + 7 * ds);
    }

    // Winograd7OutputScalar on one vector of columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Winograd7OutputVector<TV, TO>(float* m, long ms, float* y, long yStride)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV m0 = TO.Load(m), m1 = TO.Load(m + ms), m2 = TO.Load(m + 2 * ms), m3 = TO.Load(m + 3 * ms);
        TV m4 = TO.Load(m + 4 * ms), m5 = TO.Load(m + 5 * ms), m6 = TO.Load(m + 6 * ms), m7 = TO.Load(m + 7 * ms);
        TO.Store(TO.Add(TO.Add(TO.Add(m0, TO.Add(m1, m2)), TO.Add(m3, m4)), TO.Add(m5, m6)), y);
        TV odd = TO.Add(TO.Subtract(m1, m2), TO.Multiply(TO.Create(0.5f), TO.Subtract(m3, m4)));
        TO.Store(TO.Add(TO.Add(odd, TO.Multiply(TO.Create(2f), TO.Subtract(m5, m6))), m7), y + yStride);
    }

    // WinogradInputScalar on one vector of channels.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WinogradInputVector<TV, TO>(float* s, long rs, long cs, float* d, long ds)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        // t = Bᵀ d, one column of the patch at a time.
        var (t00, t10, t20, t30) = InputColumn<TV, TO>(s, rs);
        var (t01, t11, t21, t31) = InputColumn<TV, TO>(s + cs, rs);
        var (t02, t12, t22, t32) = InputColumn<TV, TO>(s + 2 * cs, rs);
        var (t03, t13, t23, t33) = InputColumn<TV, TO>(s + 3 * cs, rs);
        InputRow<TV, TO>(t00, t01, t02, t03, d, ds);
        InputRow<TV, TO>(t10, t11, t12, t13, d + 4 * ds, ds);
        InputRow<TV, TO>(t20, t21, t22, t23, d + 8 * ds, ds);
        InputRow<TV, TO>(t30, t31, t32, t33, d + 12 * ds, ds);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (TV, TV, TV, TV) InputColumn<TV, TO>(float* s, long rs)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV d0 = TO.Load(s), d1 = TO.Load(s + rs), d2 = TO.Load(s + 2 * rs), d3 = TO.Load(s + 3 * rs);
        return (TO.Subtract(d0, d2), TO.Add(d1, d2), TO.Subtract(d2, d1), TO.Subtract(d1, d3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void InputRow<TV, TO>(TV t0, TV t1, TV t2, TV t3, float* d, long ds)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TO.Store(TO.Subtract(t0, t2), d);
        TO.Store(TO.Add(t1, t2), d + ds);
        TO.Store(TO.Subtract(t2, t1), d + 2 * ds);
        TO.Store(TO.Subtract(t1, t3), d + 3 * ds);
    }

    // WinogradOutputScalar on one vector of columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WinogradOutputVector<TV, TO>(float* m, long ms, float* y, long yRowStride)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        var (s00, s10) = OutputColumn<TV, TO>(m, ms);
        var (s01, s11) = OutputColumn<TV, TO>(m + ms, ms);
        var (s02, s12) = OutputColumn<TV, TO>(m + 2 * ms, ms);
        var (s03, s13) = OutputColumn<TV, TO>(m + 3 * ms, ms);
        TO.Store(TO.Add(TO.Add(s00, s01), s02), y);
        TO.Store(TO.Subtract(TO.Subtract(s01, s02), s03), y + TileColumns);
        TO.Store(TO.Add(TO.Add(s10, s11), s12), y + yRowStride);
        TO.Store(TO.Subtract(TO.Subtract(s11, s12), s13), y + yRowStride + TileColumns);
    }

    // Column j of M (elements j, 4 + j, 8 + j, 12 + j) through Aᵀ.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (TV Top, TV Bottom) OutputColumn<TV, TO>(float* m, long ms)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV m0 = TO.Load(m), m1 = TO.Load(m + 4 * ms), m2 = TO.Load(m + 8 * ms), m3 = TO.Load(m + 12 * ms);
        return (TO.Add(TO.Add(m0, m1), m2), TO.Subtract(TO.Subtract(m1, m2), m3));
    }

    // Whole vectors of channels; a ragged end is one more vector ending at the last channel (the channels it shares with
    // the one before are computed again, to the same values: the pool reads only its input), or 128-bit vectors when the
    // channels are fewer than one vector (MTCNN's 10), and the reference below four.
    internal sealed override unsafe void PoolWindow(float* src, long xStride, long yStride, int h, int w, int channels, float* dst, PoolKind kind,
        int windowSize)
    {
        Debug.Assert(h > 0 && w > 0, "an empty window has no value (Pooling refuses such geometries before any work)");
        if (channels >= TOps.Count)
        {
            int j = 0;
            for (; j <= channels - TOps.Count; j += TOps.Count)
            {
                PoolVector<TVector, TOps>(src + j, xStride, yStride, h, w, dst + j, kind, windowSize);
            }

            if (j < channels)
            {
                j = channels - TOps.Count;
                PoolVector<TVector, TOps>(src + j, xStride, yStride, h, w, dst + j, kind, windowSize);
            }
        }
        else if (channels >= Vector128<float>.Count && Vector128.IsHardwareAccelerated)
        {
            int j = 0;
            for (; j <= channels - Vector128<float>.Count; j += Vector128<float>.Count)
            {
                PoolVector<Vector128<float>, Vector128Kernels.Ops>(src + j, xStride, yStride, h, w, dst + j, kind, windowSize);
            }

            if (j < channels)
            {
                j = channels - Vector128<float>.Count;
                PoolVector<Vector128<float>, Vector128Kernels.Ops>(src + j, xStride, yStride, h, w, dst + j, kind, windowSize);
            }
        }
        else
        {
            PoolWindowScalar(src, xStride, yStride, h, w, 0, channels, dst, kind, windowSize);
        }
    }

    // One vector of channels through the whole window in a register: per lane the reference's operations in its order
    // (the select of max, the sum, the always-fused square-add of L2, the same division and square root).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PoolVector<TV, TO>(float* src, long xStride, long yStride, int h, int w, float* dst, PoolKind kind, int windowSize)
        where TV : struct
        where TO : struct, IVectorOps<TV>
    {
        TV acc = TO.Load(src);
        if (kind == PoolKind.Max)
        {
            for (int iy = 0; iy < h; iy++)
            {
                for (int ix = iy == 0 ? 1 : 0; ix < w; ix++)
                {
                    var v = TO.Load(src + iy * yStride + ix * xStride);
                    acc = TO.ConditionalSelect(TO.GreaterThan(v, acc), v, acc);
                }
            }

            TO.Store(acc, dst);
            return;
        }

        if (kind == PoolKind.Average)
        {
            for (int iy = 0; iy < h; iy++)
            {
                for (int ix = iy == 0 ? 1 : 0; ix < w; ix++)
                {
                    acc = TO.Add(acc, TO.Load(src + iy * yStride + ix * xStride));
                }
            }
        }
        else
        {
            acc = TO.Multiply(acc, acc);
            for (int iy = 0; iy < h; iy++)
            {
                for (int ix = iy == 0 ? 1 : 0; ix < w; ix++)
                {
                    var v = TO.Load(src + iy * yStride + ix * xStride);
                    acc = TO.FusedMultiplyAdd(v, v, acc);
                }
            }
        }

        var mean = TO.Divide(acc, TO.Create((float)(h * w)));
        TO.Store(kind == PoolKind.L2 ? TO.Sqrt(TO.Multiply(mean, TO.Create((float)windowSize))) : mean, dst);
    }

    // Four rows at a time: each row keeps its own accumulator and sees exactly the operations of the one-row form below
    // (same subtractions, fused multiply-adds in the same order, the same reduction and scalar tail), so the distances
    // are bit-identical to it; the four independent chains hide the FMA latency that a single chain per row waits on.
    internal sealed override void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output)
    {
        int rows = matrix.Length / dim;
        output = output[..rows];
        query = query[..dim];
        ref float m = ref MemoryMarshal.GetReference(matrix);
        ref float q = ref MemoryMarshal.GetReference(query);
        int vectorEnd = dim - dim % TOps.Count;
        int r = 0;
        for (; r <= rows - 4; r += 4)
        {
            nuint o0 = (nuint)r * (nuint)dim, o1 = o0 + (nuint)dim, o2 = o1 + (nuint)dim, o3 = o2 + (nuint)dim;
            TVector acc0 = TOps.Zero, acc1 = TOps.Zero, acc2 = TOps.Zero, acc3 = TOps.Zero;
            for (nuint i = 0; i < (nuint)vectorEnd; i += (nuint)TOps.Count)
            {
                var qv = TOps.LoadUnsafe(ref q, i);
                var d0 = TOps.Subtract(TOps.LoadUnsafe(ref m, o0 + i), qv);
                var d1 = TOps.Subtract(TOps.LoadUnsafe(ref m, o1 + i), qv);
                var d2 = TOps.Subtract(TOps.LoadUnsafe(ref m, o2 + i), qv);
                var d3 = TOps.Subtract(TOps.LoadUnsafe(ref m, o3 + i), qv);
                acc0 = MultiplyAdd(d0, d0, acc0);
                acc1 = MultiplyAdd(d1, d1, acc1);
                acc2 = MultiplyAdd(d2, d2, acc2);
                acc3 = MultiplyAdd(d3, d3, acc3);
            }

            output[r] = SquaredScalar(matrix.Slice((int)o0, dim), query, vectorEnd, TOps.Sum(acc0));
            output[r + 1] = SquaredScalar(matrix.Slice((int)o1, dim), query, vectorEnd, TOps.Sum(acc1));
            output[r + 2] = SquaredScalar(matrix.Slice((int)o2, dim), query, vectorEnd, TOps.Sum(acc2));
            output[r + 3] = SquaredScalar(matrix.Slice((int)o3, dim), query, vectorEnd, TOps.Sum(acc3));
        }

        for (; r < rows; r++)
        {
            output[r] = Squared(matrix.Slice(r * dim, dim), query);
        }
    }

    // One row: lane-wise partial sums, reduced at the end, then the scalar remainder. Inlined into the row loop, as each
    // width's own copy was before this code became generic (the JIT's heuristics alone now decline it).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Squared(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var acc = TOps.Zero;
        int i = 0;
        for (; i <= a.Length - TOps.Count; i += TOps.Count)
        {
            var d = TOps.Subtract(TOps.Create(a.Slice(i, TOps.Count)), TOps.Create(b.Slice(i, TOps.Count)));
            acc = MultiplyAdd(d, d, acc);
        }

        return SquaredScalar(a, b, i, TOps.Sum(acc));
    }

    // Four rows at a time: each row its own integer accumulator over whole steps of 2·Count codes (widened to 16 bits,
    // multiplied by the query's 16-bit values, adjacent products summed into 32-bit lanes: pmaddwd on x64, smlal on
    // ARM64), reduced at the end, then the scalar reference for the columns past the last whole step. Exact integers
    // wrapping modulo 2³²: the scalar set's bits at every width, whatever the grouping.
    internal sealed override unsafe void QuantizedDots(ReadOnlySpan<sbyte> codes, int dim, ReadOnlySpan<short> query, Span<int> output)
    {
        int rows = codes.Length / dim;
        output = output[..rows];
        query = query[..dim];
        int step = 2 * TOps.Count;
        int vectorEnd = dim - dim % step;
        fixed (sbyte* c = codes)
        fixed (short* q = query)
        {
            int r = 0;
            for (; r <= rows - 4; r += 4)
            {
                sbyte* c0 = c + (nint)r * dim, c1 = c0 + dim, c2 = c1 + dim, c3 = c2 + dim;
                TVector acc0 = TOps.Zero, acc1 = TOps.Zero, acc2 = TOps.Zero, acc3 = TOps.Zero;
                for (int i = 0; i < vectorEnd; i += step)
                {
                    acc0 = TOps.MultiplyAddInt16(c0 + i, q + i, acc0);
                    acc1 = TOps.MultiplyAddInt16(c1 + i, q + i, acc1);
                    acc2 = TOps.MultiplyAddInt16(c2 + i, q + i, acc2);
                    acc3 = TOps.MultiplyAddInt16(c3 + i, q + i, acc3);
                }

                output[r] = QuantizedDotScalar(codes.Slice(r * dim, dim), query, vectorEnd, TOps.SumInt32(acc0));
                output[r + 1] = QuantizedDotScalar(codes.Slice((r + 1) * dim, dim), query, vectorEnd, TOps.SumInt32(acc1));
                output[r + 2] = QuantizedDotScalar(codes.Slice((r + 2) * dim, dim), query, vectorEnd, TOps.SumInt32(acc2));
                output[r + 3] = QuantizedDotScalar(codes.Slice((r + 3) * dim, dim), query, vectorEnd, TOps.SumInt32(acc3));
            }

            for (; r < rows; r++)
            {
                sbyte* c0 = c + (nint)r * dim;
                var acc = TOps.Zero;
                for (int i = 0; i < vectorEnd; i += step)
                {
                    acc = TOps.MultiplyAddInt16(c0 + i, q + i, acc);
                }

                output[r] = QuantizedDotScalar(codes.Slice(r * dim, dim), query, vectorEnd, TOps.SumInt32(acc));
            }
        }
    }

    internal sealed override void Relu(Span<float> values)
    {
        ref float v0 = ref MemoryMarshal.GetReference(values);
        int i = 0;
        for (; i <= values.Length - TOps.Count; i += TOps.Count)
        {
            var v = TOps.LoadUnsafe(ref v0, (nuint)i);
            TOps.StoreUnsafe(TOps.ConditionalSelect(TOps.GreaterThan(v, TOps.Zero), v, TOps.Zero), ref v0, (nuint)i);
        }

        ReluScalar(values, i);
    }
}
