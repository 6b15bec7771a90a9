using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InceptionNet.Tensors;

/// <summary>
/// 512-bit vectors (AVX-512F class): a 6×32 convolution tile, 12 of the 32 zmm registers as accumulators; on a narrow
/// panel an 8×16 tile, 8 accumulators (as many as hide the FMA latency on two pipes, with one row pointer each in the
/// general registers); and a 12×32 tall tile, 24 accumulators, for maps of 7 to 12 pixels.
/// </summary>
internal sealed class Vector512Kernels : VectorKernels<Vector512<float>, Vector512Kernels.Ops>
{
    public override SimdLevel Level => SimdLevel.Vector512;

    public override int TileRows => 6;

    public override int NarrowTileRows => 8;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void NarrowMicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (accumulate)
        {
            c0 = Vector512.Load(tile); c1 = Vector512.Load(tile + 32); c2 = Vector512.Load(tile + 64); c3 = Vector512.Load(tile + 96);
            c4 = Vector512.Load(tile + 128); c5 = Vector512.Load(tile + 160); c6 = Vector512.Load(tile + 192); c7 = Vector512.Load(tile + 224);
        }

        float* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda, a6 = a5 + lda, a7 = a6 + lda;
        for (int p = 0; p < k; p++, b += 16)
        {
            var bv = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[p]), bv, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[p]), bv, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[p]), bv, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[p]), bv, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[p]), bv, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[p]), bv, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a6[p]), bv, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a7[p]), bv, c7);
        }

        c0.Store(tile); c1.Store(tile + 32); c2.Store(tile + 64); c3.Store(tile + 96);
        c4.Store(tile + 128); c5.Store(tile + 160); c6.Store(tile + 192); c7.Store(tile + 224);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate, int prefetch)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            c00 = Vector512.Load(tile); c01 = Vector512.Load(tile + 16);
            c10 = Vector512.Load(tile + 32); c11 = Vector512.Load(tile + 48);
            c20 = Vector512.Load(tile + 64); c21 = Vector512.Load(tile + 80);
            c30 = Vector512.Load(tile + 96); c31 = Vector512.Load(tile + 112);
            c40 = Vector512.Load(tile + 128); c41 = Vector512.Load(tile + 144);
            c50 = Vector512.Load(tile + 160); c51 = Vector512.Load(tile + 176);
        }

        float* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int p = 0; p < k; p++, b += 32)
        {
            if (prefetch > 0 && Sse.IsSupported)
            {
                Sse.Prefetch1(b + prefetch); // both cache lines of the step `prefetch` floats ahead
                Sse.Prefetch1(b + prefetch + 16);
            }

            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[p]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[p]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[p]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[p]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[p]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[p]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
        }

        c00.Store(tile); c01.Store(tile + 16);
        c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80);
        c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144);
        c50.Store(tile + 160); c51.Store(tile + 176);
    }

    internal override int TallTileRows => 12;

    // The 6×32 kernel's step for twelve rows, prefetching into L1 (the panel is read once, so what is fetched is used
    // next). Rows from `rows` up read the last row again: their results are discarded, and no row past the last is read.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void TallMicroKernel(float* a, int lda, int rows, float* b, int k, float* tile, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        if (accumulate)
        {
            c00 = Vector512.Load(tile); c01 = Vector512.Load(tile + 16);
            c10 = Vector512.Load(tile + 32); c11 = Vector512.Load(tile + 48);
            c20 = Vector512.Load(tile + 64); c21 = Vector512.Load(tile + 80);
            c30 = Vector512.Load(tile + 96); c31 = Vector512.Load(tile + 112);
            c40 = Vector512.Load(tile + 128); c41 = Vector512.Load(tile + 144);
            c50 = Vector512.Load(tile + 160); c51 = Vector512.Load(tile + 176);
            c60 = Vector512.Load(tile + 192); c61 = Vector512.Load(tile + 208);
            c70 = Vector512.Load(tile + 224); c71 = Vector512.Load(tile + 240);
            c80 = Vector512.Load(tile + 256); c81 = Vector512.Load(tile + 272);
            c90 = Vector512.Load(tile + 288); c91 = Vector512.Load(tile + 304);
            ca0 = Vector512.Load(tile + 320); ca1 = Vector512.Load(tile + 336);
            cb0 = Vector512.Load(tile + 352); cb1 = Vector512.Load(tile + 368);
        }

        int last = rows - 1;
        float* a0 = a, a1 = a + (long)Math.Min(1, last) * lda, a2 = a + (long)Math.Min(2, last) * lda, a3 = a + (long)Math.Min(3, last) * lda;
        float* a4 = a + (long)Math.Min(4, last) * lda, a5 = a + (long)Math.Min(5, last) * lda, a6 = a + (long)Math.Min(6, last) * lda;
        float* a7 = a + (long)Math.Min(7, last) * lda, a8 = a + (long)Math.Min(8, last) * lda, a9 = a + (long)Math.Min(9, last) * lda;
        float* a10 = a + (long)Math.Min(10, last) * lda, a11 = a + (long)Math.Min(11, last) * lda;
        for (int p = 0; p < k; p++, b += 32)
        {
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(b + PrefetchFloats);
                Sse.Prefetch0(b + PrefetchFloats + 16);
            }

            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[p]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[p]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[p]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[p]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[p]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[p]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a6[p]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a7[p]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            x = Vector512.Create(a8[p]);
            c80 = Vector512.FusedMultiplyAdd(x, b0, c80); c81 = Vector512.FusedMultiplyAdd(x, b1, c81);
            x = Vector512.Create(a9[p]);
            c90 = Vector512.FusedMultiplyAdd(x, b0, c90); c91 = Vector512.FusedMultiplyAdd(x, b1, c91);
            x = Vector512.Create(a10[p]);
            ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1);
            x = Vector512.Create(a11[p]);
            cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1);
        }

        c00.Store(tile); c01.Store(tile + 16);
        c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80);
        c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144);
        c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208);
        c70.Store(tile + 224); c71.Store(tile + 240);
        c80.Store(tile + 256); c81.Store(tile + 272);
        c90.Store(tile + 288); c91.Store(tile + 304);
        ca0.Store(tile + 320); ca1.Store(tile + 336);
        cb0.Store(tile + 352); cb1.Store(tile + 368);
    }

    /// <summary>The shared kernels' operations (<see cref="IVectorOps{TVector}"/>) on 512-bit vectors.</summary>
    internal readonly unsafe struct Ops : IVectorOps<Vector512<float>>
    {
        public static int Count => Vector512<float>.Count;

        public static Vector512<float> Zero => Vector512<float>.Zero;

        public static Vector512<float> Create(float value) => Vector512.Create(value);

        public static Vector512<float> Create(ReadOnlySpan<float> values) => Vector512.Create(values);

        public static Vector512<float> Load(float* source) => Vector512.Load(source);

        // Thirty-two codes: vpmovsxbw and vpmaddwd on AVX-512BW; two 256-bit halves elsewhere.
        public static Vector512<float> MultiplyAddInt16(sbyte* codes, short* query, Vector512<float> accumulator) => Avx512BW.IsSupported
            ? Avx512F.Add(accumulator.AsInt32(), Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load(codes)), Vector512.Load(query))).AsSingle()
            : Vector512.Create(
                Vector256Kernels.Ops.MultiplyAddInt16(codes, query, accumulator.GetLower()),
                Vector256Kernels.Ops.MultiplyAddInt16(codes + 16, query + 16, accumulator.GetUpper()));

        public static int SumInt32(Vector512<float> value) => Vector512.Sum(value.AsInt32());

        public static Vector512<float> LoadUnsafe(ref float source, nuint index) => Vector512.LoadUnsafe(ref source, index);

        public static void Store(Vector512<float> value, float* destination) => value.Store(destination);

        public static void StoreUnsafe(Vector512<float> value, ref float destination, nuint index) =>
            value.StoreUnsafe(ref destination, index);

        public static Vector512<float> Add(Vector512<float> x, Vector512<float> y) => x + y;

        public static Vector512<float> Subtract(Vector512<float> x, Vector512<float> y) => x - y;

        public static Vector512<float> Multiply(Vector512<float> x, Vector512<float> y) => x * y;

        public static Vector512<float> Divide(Vector512<float> x, Vector512<float> y) => x / y;

        public static Vector512<float> FusedMultiplyAdd(Vector512<float> x, Vector512<float> y, Vector512<float> addend) =>
            Vector512.FusedMultiplyAdd(x, y, addend);

        // Always fused: every AVX-512F CPU has FMA3 as well.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> MultiplyAdd(Vector512<float> x, Vector512<float> y, Vector512<float> addend) =>
            Vector512.FusedMultiplyAdd(x, y, addend);

        public static Vector512<float> GreaterThan(Vector512<float> x, Vector512<float> y) => Vector512.GreaterThan(x, y);

        public static Vector512<float> LessThan(Vector512<float> x, Vector512<float> y) => Vector512.LessThan(x, y);

        public static Vector512<float> ConditionalSelect(Vector512<float> condition, Vector512<float> whenTrue, Vector512<float> whenFalse) =>
            Vector512.ConditionalSelect(condition, whenTrue, whenFalse);

        public static Vector512<float> Sqrt(Vector512<float> value) => Vector512.Sqrt(value);

        public static float Sum(Vector512<float> value) => Vector512.Sum(value);
    }
}
