using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InceptionNet.Tensors;

/// <summary>
/// 256-bit vectors with FMA (AVX2 class): a 3×32 convolution tile, 12 of the 16 ymm registers as accumulators; on a
/// narrow panel a 6×16 tile, again 12 accumulators.
/// </summary>
internal sealed class Vector256Kernels : VectorKernels<Vector256<float>, Vector256Kernels.Ops>
{
    public override SimdLevel Level => SimdLevel.Vector256;

    public override int TileRows => 3;

    public override int NarrowTileRows => 6;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void NarrowMicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (accumulate)
        {
            c00 = Vector256.Load(tile); c01 = Vector256.Load(tile + 8);
            c10 = Vector256.Load(tile + 32); c11 = Vector256.Load(tile + 40);
            c20 = Vector256.Load(tile + 64); c21 = Vector256.Load(tile + 72);
            c30 = Vector256.Load(tile + 96); c31 = Vector256.Load(tile + 104);
            c40 = Vector256.Load(tile + 128); c41 = Vector256.Load(tile + 136);
            c50 = Vector256.Load(tile + 160); c51 = Vector256.Load(tile + 168);
        }

        float* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int p = 0; p < k; p++, b += 16)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[p]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[p]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[p]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[p]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[p]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[p]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }

        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 32); c11.Store(tile + 40);
        c20.Store(tile + 64); c21.Store(tile + 72);
        c30.Store(tile + 96); c31.Store(tile + 104);
        c40.Store(tile + 128); c41.Store(tile + 136);
        c50.Store(tile + 160); c51.Store(tile + 168);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate, int prefetch)
    {
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default, c23 = default;
        if (accumulate)
        {
            c00 = Vector256.Load(tile); c01 = Vector256.Load(tile + 8); c02 = Vector256.Load(tile + 16); c03 = Vector256.Load(tile + 24);
            c10 = Vector256.Load(tile + 32); c11 = Vector256.Load(tile + 40); c12 = Vector256.Load(tile + 48); c13 = Vector256.Load(tile + 56);
            c20 = Vector256.Load(tile + 64); c21 = Vector256.Load(tile + 72); c22 = Vector256.Load(tile + 80); c23 = Vector256.Load(tile + 88);
        }

        float* a0 = a, a1 = a + lda, a2 = a1 + lda;
        for (int p = 0; p < k; p++, b += 32)
        {
            if (prefetch > 0 && Sse.IsSupported)
            {
                Sse.Prefetch1(b + prefetch); // both cache lines of the step `prefetch` floats ahead
                Sse.Prefetch1(b + prefetch + 16);
            }

            var x0 = Vector256.Create(a0[p]);
            var x1 = Vector256.Create(a1[p]);
            var x2 = Vector256.Create(a2[p]);
            var bv = Vector256.Load(b);
            c00 = Vector256.FusedMultiplyAdd(x0, bv, c00);
            c10 = Vector256.FusedMultiplyAdd(x1, bv, c10);
            c20 = Vector256.FusedMultiplyAdd(x2, bv, c20);
            bv = Vector256.Load(b + 8);
            c01 = Vector256.FusedMultiplyAdd(x0, bv, c01);
            c11 = Vector256.FusedMultiplyAdd(x1, bv, c11);
            c21 = Vector256.FusedMultiplyAdd(x2, bv, c21);
            bv = Vector256.Load(b + 16);
            c02 = Vector256.FusedMultiplyAdd(x0, bv, c02);
            c12 = Vector256.FusedMultiplyAdd(x1, bv, c12);
            c22 = Vector256.FusedMultiplyAdd(x2, bv, c22);
            bv = Vector256.Load(b + 24);
            c03 = Vector256.FusedMultiplyAdd(x0, bv, c03);
            c13 = Vector256.FusedMultiplyAdd(x1, bv, c13);
            c23 = Vector256.FusedMultiplyAdd(x2, bv, c23);
        }

        c00.Store(tile); c01.Store(tile + 8); c02.Store(tile + 16); c03.Store(tile + 24);
        c10.Store(tile + 32); c11.Store(tile + 40); c12.Store(tile + 48); c13.Store(tile + 56);
        c20.Store(tile + 64); c21.Store(tile + 72); c22.Store(tile + 80); c23.Store(tile + 88);
    }

    /// <summary>The shared kernels' operations (<see cref="IVectorOps{TVector}"/>) on 256-bit vectors.</summary>
    internal readonly unsafe struct Ops : IVectorOps<Vector256<float>>
    {
        public static int Count => Vector256<float>.Count;

        public static Vector256<float> Zero => Vector256<float>.Zero;

        public static Vector256<float> Create(float value) => Vector256.Create(value);

        public static Vector256<float> Create(ReadOnlySpan<float> values) => Vector256.Create(values);

        public static Vector256<float> Load(float* source) => Vector256.Load(source);

        public static Vector256<float> LoadUnsafe(ref float source, nuint index) => Vector256.LoadUnsafe(ref source, index);

        // Sixteen codes: vpmovsxbw from memory and vpmaddwd (this level is picked only with AVX2); two 128-bit halves elsewhere.
        public static Vector256<float> MultiplyAddInt16(sbyte* codes, short* query, Vector256<float> accumulator) => Avx2.IsSupported
            ? Avx2.Add(accumulator.AsInt32(), Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(codes), Avx.LoadVector256(query))).AsSingle()
            : Vector256.Create(
                Vector128Kernels.Ops.MultiplyAddInt16(codes, query, accumulator.GetLower()),
                Vector128Kernels.Ops.MultiplyAddInt16(codes + 8, query + 8, accumulator.GetUpper()));

        public static int SumInt32(Vector256<float> value) => Vector256.Sum(value.AsInt32());

        public static void Store(Vector256<float> value, float* destination) => value.Store(destination);

        public static void StoreUnsafe(Vector256<float> value, ref float destination, nuint index) =>
            value.StoreUnsafe(ref destination, index);

        public static Vector256<float> Add(Vector256<float> x, Vector256<float> y) => x + y;

        public static Vector256<float> Subtract(Vector256<float> x, Vector256<float> y) => x - y;

        public static Vector256<float> Multiply(Vector256<float> x, Vector256<float> y) => x * y;

        public static Vector256<float> Divide(Vector256<float> x, Vector256<float> y) => x / y;

        public static Vector256<float> FusedMultiplyAdd(Vector256<float> x, Vector256<float> y, Vector256<float> addend) =>
            Vector256.FusedMultiplyAdd(x, y, addend);

        // Always fused: Simd.DetectBest picks this level only with FMA.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> MultiplyAdd(Vector256<float> x, Vector256<float> y, Vector256<float> addend) =>
            Vector256.FusedMultiplyAdd(x, y, addend);

        public static Vector256<float> GreaterThan(Vector256<float> x, Vector256<float> y) => Vector256.GreaterThan(x, y);

        public static Vector256<float> LessThan(Vector256<float> x, Vector256<float> y) => Vector256.LessThan(x, y);

        public static Vector256<float> ConditionalSelect(Vector256<float> condition, Vector256<float> whenTrue, Vector256<float> whenFalse) =>
            Vector256.ConditionalSelect(condition, whenTrue, whenFalse);

        public static Vector256<float> Sqrt(Vector256<float> value) => Vector256.Sqrt(value);

        public static float Sum(Vector256<float> value) => Vector256.Sum(value);
    }
}
