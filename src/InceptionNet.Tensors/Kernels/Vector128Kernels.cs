using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace InceptionNet.Tensors;

/// <summary>
/// 128-bit vectors through the cross-platform <see cref="Vector128"/> API, so one source serves SSE4.1/AVX-class x64 and
/// AdvSimd (NEON) on ARM64. The 32-column tile is computed as two 16-column halves, each a row count × four vectors of
/// accumulators: 3 rows (12 accumulators, 16 registers in all) where the ISA has 16 vector registers (x64), 6 rows
/// (24 accumulators, 29 registers) where it has 32 (ARM64). The ARM64 shape is tested everywhere and was checked in
/// crossgen2's linux-arm64 code (the inner loop keeps all 29 in v-registers: ldp, dup, fmla, no spills), but was chosen
/// by register count, not timed on ARM hardware. On x64 without AVX the destructive SSE multiply needs a temporary, so
/// one of the 12 accumulators spills once per reduction step.
/// </summary>
internal sealed class Vector128Kernels : VectorKernels<Vector128<float>, Vector128Kernels.Ops>
{
    public Vector128Kernels(int tileRows)
    {
        if (tileRows is not (3 or 6))
        {
            throw new ArgumentOutOfRangeException(nameof(tileRows), tileRows, "The 128-bit micro-kernel has 3-row and 6-row forms.");
        }

        TileRows = tileRows;
    }

    /// <summary>6 rows on ARM64 (32 vector registers), 3 on x64 (16 without AVX-512).</summary>
    public static int TileRowsForThisCpu => AdvSimd.Arm64.IsSupported ? 6 : 3;

    public override SimdLevel Level => SimdLevel.Vector128;

    public override int TileRows { get; }

    public override int NarrowTileRows => TileRows;

    internal override unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate, int prefetch)
    {
        if (TileRows == 6)
        {
            Micro6x16(a, lda, b, 32, k, tile, accumulate);
            Micro6x16(a, lda, b + 16, 32, k, tile + 16, accumulate);
        }
        else
        {
            Micro3x16(a, lda, b, 32, k, tile, accumulate);
            Micro3x16(a, lda, b + 16, 32, k, tile + 16, accumulate);
        }
    }

    // A narrow panel is one of the wide tile's halves, its rows 16 floats apart.
    internal override unsafe void NarrowMicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate)
    {
        if (TileRows == 6)
        {
            Micro6x16(a, lda, b, 16, k, tile, accumulate);
        }
        else
        {
            Micro3x16(a, lda, b, 16, k, tile, accumulate);
        }
    }

    // 16 columns of 3 rows: b is `step` floats apart per reduction step (32 in a wide panel, 16 in a narrow one), the
    // tile's rows 32 apart.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Micro3x16(float* a, int lda, float* b, int step, int k, float* tile, bool accumulate)
    {
        Vector128<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector128<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector128<float> c20 = default, c21 = default, c22 = default, c23 = default;
        if (accumulate)
        {
            c00 = Vector128.Load(tile); c01 = Vector128.Load(tile + 4); c02 = Vector128.Load(tile + 8); c03 = Vector128.Load(tile + 12);
            c10 = Vector128.Load(tile + 32); c11 = Vector128.Load(tile + 36); c12 = Vector128.Load(tile + 40); c13 = Vector128.Load(tile + 44);
            c20 = Vector128.Load(tile + 64); c21 = Vector128.Load(tile + 68); c22 = Vector128.Load(tile + 72); c23 = Vector128.Load(tile + 76);
        }

        float* a0 = a, a1 = a + lda, a2 = a1 + lda;
        for (int p = 0; p < k; p++, b += step)
        {
            var x0 = Vector128.Create(a0[p]);
            var x1 = Vector128.Create(a1[p]);
            var x2 = Vector128.Create(a2[p]);
            var bv = Vector128.Load(b);
            c00 = MultiplyAdd(x0, bv, c00);
            c10 = MultiplyAdd(x1, bv, c10);
            c20 = MultiplyAdd(x2, bv, c20);
            bv = Vector128.Load(b + 4);
            c01 = MultiplyAdd(x0, bv, c01);
            c11 = MultiplyAdd(x1, bv, c11);
            c21 = MultiplyAdd(x2, bv, c21);
            bv = Vector128.Load(b + 8);
            c02 = MultiplyAdd(x0, bv, c02);
            c12 = MultiplyAdd(x1, bv, c12);
            c22 = MultiplyAdd(x2, bv, c22);
            bv = Vector128.Load(b + 12);
            c03 = MultiplyAdd(x0, bv, c03);
            c13 = MultiplyAdd(x1, bv, c13);
            c23 = MultiplyAdd(x2, bv, c23);
        }

        c00.Store(tile); c01.Store(tile + 4); c02.Store(tile + 8); c03.Store(tile + 12);
        c10.Store(tile + 32); c11.Store(tile + 36); c12.Store(tile + 40); c13.Store(tile + 44);
        c20.Store(tile + 64); c21.Store(tile + 68); c22.Store(tile + 72); c23.Store(tile + 76);
    }

    // 16 columns of 6 rows: the four B vectors stay loaded while each row's broadcast meets them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Micro6x16(float* a, int lda, float* b, int step, int k, float* tile, bool accumulate)
    {
        Vector128<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector128<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector128<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector128<float> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector128<float> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector128<float> c50 = default, c51 = default, c52 = default, c53 = default;
        if (accumulate)
        {
            c00 = Vector128.Load(tile); c01 = Vector128.Load(tile + 4); c02 = Vector128.Load(tile + 8); c03 = Vector128.Load(tile + 12);
            c10 = Vector128.Load(tile + 32); c11 = Vector128.Load(tile + 36); c12 = Vector128.Load(tile + 40); c13 = Vector128.Load(tile + 44);
            c20 = Vector128.Load(tile + 64); c21 = Vector128.Load(tile + 68); c22 = Vector128.Load(tile + 72); c23 = Vector128.Load(tile + 76);
            c30 = Vector128.Load(tile + 96); c31 = Vector128.Load(tile + 100); c32 = Vector128.Load(tile + 104); c33 = Vector128.Load(tile + 108);
            c40 = Vector128.Load(tile + 128); c41 = Vector128.Load(tile + 132); c42 = Vector128.Load(tile + 136); c43 = Vector128.Load(tile + 140);
            c50 = Vector128.Load(tile + 160); c51 = Vector128.Load(tile + 164); c52 = Vector128.Load(tile + 168); c53 = Vector128.Load(tile + 172);
        }

        float* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int p = 0; p < k; p++, b += step)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + 4);
            var b2 = Vector128.Load(b + 8);
            var b3 = Vector128.Load(b + 12);
            var x = Vector128.Create(a0[p]);
            c00 = MultiplyAdd(x, b0, c00); c01 = MultiplyAdd(x, b1, c01); c02 = MultiplyAdd(x, b2, c02); c03 = MultiplyAdd(x, b3, c03);
            x = Vector128.Create(a1[p]);
            c10 = MultiplyAdd(x, b0, c10); c11 = MultiplyAdd(x, b1, c11); c12 = MultiplyAdd(x, b2, c12); c13 = MultiplyAdd(x, b3, c13);
            x = Vector128.Create(a2[p]);
            c20 = MultiplyAdd(x, b0, c20); c21 = MultiplyAdd(x, b1, c21); c22 = MultiplyAdd(x, b2, c22); c23 = MultiplyAdd(x, b3, c23);
            x = Vector128.Create(a3[p]);
            c30 = MultiplyAdd(x, b0, c30); c31 = MultiplyAdd(x, b1, c31); c32 = MultiplyAdd(x, b2, c32); c33 = MultiplyAdd(x, b3, c33);
            x = Vector128.Create(a4[p]);
            c40 = MultiplyAdd(x, b0, c40); c41 = MultiplyAdd(x, b1, c41); c42 = MultiplyAdd(x, b2, c42); c43 = MultiplyAdd(x, b3, c43);
            x = Vector128.Create(a5[p]);
            c50 = MultiplyAdd(x, b0, c50); c51 = MultiplyAdd(x, b1, c51); c52 = MultiplyAdd(x, b2, c52); c53 = MultiplyAdd(x, b3, c53);
        }

        c00.Store(tile); c01.Store(tile + 4); c02.Store(tile + 8); c03.Store(tile + 12);
        c10.Store(tile + 32); c11.Store(tile + 36); c12.Store(tile + 40); c13.Store(tile + 44);
        c20.Store(tile + 64); c21.Store(tile + 68); c22.Store(tile + 72); c23.Store(tile + 76);
        c30.Store(tile + 96); c31.Store(tile + 100); c32.Store(tile + 104); c33.Store(tile + 108);
        c40.Store(tile + 128); c41.Store(tile + 132); c42.Store(tile + 136); c43.Store(tile + 140);
        c50.Store(tile + 160); c51.Store(tile + 164); c52.Store(tile + 168); c53.Store(tile + 172);
    }

    /// <summary>The shared kernels' operations (<see cref="IVectorOps{TVector}"/>) on 128-bit vectors.</summary>
    internal readonly unsafe struct Ops : IVectorOps<Vector128<float>>
    {
        public static int Count => Vector128<float>.Count;

        public static Vector128<float> Zero => Vector128<float>.Zero;

        public static Vector128<float> Create(float value) => Vector128.Create(value);

        public static Vector128<float> Create(ReadOnlySpan<float> values) => Vector128.Create(values);

        public static Vector128<float> Load(float* source) => Vector128.Load(source);

        public static Vector128<float> LoadUnsafe(ref float source, nuint index) => Vector128.LoadUnsafe(ref source, index);

        // Eight codes: pmovsxbw from memory and pmaddwd on SSE4.1; on ARM64 sign-extended and multiplied widening into the
        // lanes (smlal, smlal2); elsewhere both widened to 32 bits and multiplied there. The lanes differ, the total not.
        public static Vector128<float> MultiplyAddInt16(sbyte* codes, short* query, Vector128<float> accumulator)
        {
            var acc = accumulator.AsInt32();
            var q = Vector128.Load(query);
            if (Sse41.IsSupported)
            {
                return Sse2.Add(acc, Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(codes), q)).AsSingle();
            }

            var c = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(codes)).AsSByte());
            if (AdvSimd.IsSupported)
            {
                acc = AdvSimd.MultiplyWideningLowerAndAdd(acc, c.GetLower(), q.GetLower());
                return AdvSimd.MultiplyWideningUpperAndAdd(acc, c, q).AsSingle();
            }

            var (cLow, cHigh) = Vector128.Widen(c);
            var (qLow, qHigh) = Vector128.Widen(q);
            return (acc + cLow * qLow + cHigh * qHigh).AsSingle();
        }

        public static int SumInt32(Vector128<float> value) => Vector128.Sum(value.AsInt32());

        public static void Store(Vector128<float> value, float* destination) => value.Store(destination);

        public static void StoreUnsafe(Vector128<float> value, ref float destination, nuint index) =>
            value.StoreUnsafe(ref destination, index);

        public static Vector128<float> Add(Vector128<float> x, Vector128<float> y) => x + y;

        public static Vector128<float> Subtract(Vector128<float> x, Vector128<float> y) => x - y;

        public static Vector128<float> Multiply(Vector128<float> x, Vector128<float> y) => x * y;

        public static Vector128<float> Divide(Vector128<float> x, Vector128<float> y) => x / y;

        public static Vector128<float> FusedMultiplyAdd(Vector128<float> x, Vector128<float> y, Vector128<float> addend) =>
            Vector128.FusedMultiplyAdd(x, y, addend);

        // x · y + addend, fused where the hardware has FMA (x64 FMA3, every ARM64 AdvSimd); SSE4.1-only CPUs round twice
        // instead of taking the software fallback of Vector128.FusedMultiplyAdd, which would be slower than scalar.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> MultiplyAdd(Vector128<float> x, Vector128<float> y, Vector128<float> addend) =>
            Fma.IsSupported || AdvSimd.IsSupported ? Vector128.FusedMultiplyAdd(x, y, addend) : x * y + addend;

        public static Vector128<float> GreaterThan(Vector128<float> x, Vector128<float> y) => Vector128.GreaterThan(x, y);

        public static Vector128<float> LessThan(Vector128<float> x, Vector128<float> y) => Vector128.LessThan(x, y);

        public static Vector128<float> ConditionalSelect(Vector128<float> condition, Vector128<float> whenTrue, Vector128<float> whenFalse) =>
            Vector128.ConditionalSelect(condition, whenTrue, whenFalse);

        public static Vector128<float> Sqrt(Vector128<float> value) => Vector128.Sqrt(value);

        public static float Sum(Vector128<float> value) => Vector128.Sum(value);
    }
}
