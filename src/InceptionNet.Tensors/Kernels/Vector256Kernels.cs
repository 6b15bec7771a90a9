using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InceptionNet.Tensors;

/// <summary>256-bit vectors with FMA (AVX2 class): a 3×32 convolution tile, 12 of the 16 ymm registers as accumulators.</summary>
internal sealed class Vector256Kernels : KernelSet
{
    private const int Width = 8; // Vector256<float>.Count

    public override SimdLevel Level => SimdLevel.Vector256;

    public override int TileRows => 3;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate)
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

    // Branch-free activation: a per-element branch on the sign of the data mispredicts half the time.
    internal override unsafe void Epilogue(float* tile, int rows, int cols, in EpilogueTarget target)
    {
        // Locals, not reads through `target`: the stores through dst could alias it as far as the JIT knows.
        var scale = Vector256.Create(target.Scale);
        float* bias = target.Bias, slopes = target.NegativeSlopes;
        bool relu = target.Relu;
        int vectorCols = cols - cols % Width;
        for (int r = 0; r < rows; r++)
        {
            float* acc = tile + r * TileColumns;
            float* dst = target.Output + r * target.OutputStride;
            float* res = target.Residual == null ? null : target.Residual + r * target.ResidualStride;
            for (int j = 0; j < vectorCols; j += Width)
            {
                var v = Vector256.Load(acc + j) + Vector256.Load(bias + j);
                if (res != null)
                {
                    v = Vector256.Load(res + j) + scale * v;
                }

                if (slopes != null)
                {
                    v = Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, Vector256.Load(slopes + j) * v);
                }
                else if (relu)
                {
                    v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), Vector256<float>.Zero, v);
                }

                v.Store(dst + j);
            }
        }

        EpilogueScalar(tile, rows, vectorCols, cols, target);
    }

    internal override void PoolAccumulate(ReadOnlySpan<float> src, Span<float> dst, PoolKind kind, bool first)
    {
        src = src[..dst.Length];
        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        for (; i <= dst.Length - Width; i += Width)
        {
            var v = Vector256.LoadUnsafe(ref s, (nuint)i);
            var acc = Vector256.LoadUnsafe(ref d, (nuint)i);
            acc = kind switch
            {
                PoolKind.Max => first ? v : Vector256.ConditionalSelect(Vector256.GreaterThan(v, acc), v, acc),
                PoolKind.Average => first ? v : acc + v,
                _ => first ? v * v : Vector256.FusedMultiplyAdd(v, v, acc),
            };
            acc.StoreUnsafe(ref d, (nuint)i);
        }

        PoolAccumulateScalar(src, dst, kind, first, i);
    }

    internal override void PoolFinish(Span<float> dst, int count, int windowSize, PoolKind kind)
    {
        if (kind == PoolKind.Max)
        {
            return;
        }

        var divisor = Vector256.Create((float)count);
        var window = Vector256.Create((float)windowSize);
        ref float d = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        for (; i <= dst.Length - Width; i += Width)
        {
            var mean = Vector256.LoadUnsafe(ref d, (nuint)i) / divisor;
            (kind == PoolKind.L2 ? Vector256.Sqrt(mean * window) : mean).StoreUnsafe(ref d, (nuint)i);
        }

        PoolFinishScalar(dst, count, windowSize, kind, i);
    }

    internal override void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output)
    {
        int rows = matrix.Length / dim;
        for (int r = 0; r < rows; r++)
        {
            output[r] = Squared(matrix.Slice(r * dim, dim), query);
        }
    }

    // Lane-wise partial sums, reduced at the end, then the scalar remainder.
    private static float Squared(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i <= a.Length - Width; i += Width)
        {
            var d = Vector256.Create(a.Slice(i, Width)) - Vector256.Create(b.Slice(i, Width));
            acc = Vector256.FusedMultiplyAdd(d, d, acc);
        }

        return SquaredScalar(a, b, i, Vector256.Sum(acc));
    }

    internal override void Relu(Span<float> values)
    {
        ref float v0 = ref MemoryMarshal.GetReference(values);
        int i = 0;
        for (; i <= values.Length - Width; i += Width)
        {
            var v = Vector256.LoadUnsafe(ref v0, (nuint)i);
            Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, Vector256<float>.Zero).StoreUnsafe(ref v0, (nuint)i);
        }

        ReluScalar(values, i);
    }
}
