using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InceptionNet.Tensors;

/// <summary>512-bit vectors (AVX-512F class): a 6×32 convolution tile, 12 of the 32 zmm registers as accumulators.</summary>
internal sealed class Vector512Kernels : KernelSet
{
    private const int Width = 16; // Vector512<float>.Count

    public override SimdLevel Level => SimdLevel.Vector512;

    public override int TileRows => 6;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override unsafe void MicroKernel(float* a, int lda, float* b, int k, float* tile, bool accumulate)
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

    // Branch-free activation: a per-element branch on the sign of the data mispredicts half the time.
    internal override unsafe void Epilogue(float* tile, int rows, int cols, in EpilogueTarget target)
    {
        // Locals, not reads through `target`: the stores through dst could alias it as far as the JIT knows.
        var scale = Vector512.Create(target.Scale);
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
                var v = Vector512.Load(acc + j) + Vector512.Load(bias + j);
                if (res != null)
                {
                    v = Vector512.Load(res + j) + scale * v;
                }

                if (slopes != null)
                {
                    v = Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<float>.Zero), v, Vector512.Load(slopes + j) * v);
                }
                else if (relu)
                {
                    v = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), Vector512<float>.Zero, v);
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
            var v = Vector512.LoadUnsafe(ref s, (nuint)i);
            var acc = Vector512.LoadUnsafe(ref d, (nuint)i);
            acc = kind switch
            {
                PoolKind.Max => first ? v : Vector512.ConditionalSelect(Vector512.GreaterThan(v, acc), v, acc),
                PoolKind.Average => first ? v : acc + v,
                _ => first ? v * v : Vector512.FusedMultiplyAdd(v, v, acc),
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

        var divisor = Vector512.Create((float)count);
        var window = Vector512.Create((float)windowSize);
        ref float d = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        for (; i <= dst.Length - Width; i += Width)
        {
            var mean = Vector512.LoadUnsafe(ref d, (nuint)i) / divisor;
            (kind == PoolKind.L2 ? Vector512.Sqrt(mean * window) : mean).StoreUnsafe(ref d, (nuint)i);
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
        var acc = Vector512<float>.Zero;
        int i = 0;
        for (; i <= a.Length - Width; i += Width)
        {
            var d = Vector512.Create(a.Slice(i, Width)) - Vector512.Create(b.Slice(i, Width));
            acc = Vector512.FusedMultiplyAdd(d, d, acc);
        }

        return SquaredScalar(a, b, i, Vector512.Sum(acc));
    }

    internal override void Relu(Span<float> values)
    {
        ref float v0 = ref MemoryMarshal.GetReference(values);
        int i = 0;
        for (; i <= values.Length - Width; i += Width)
        {
            var v = Vector512.LoadUnsafe(ref v0, (nuint)i);
            Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<float>.Zero), v, Vector512<float>.Zero).StoreUnsafe(ref v0, (nuint)i);
        }

        ReluScalar(values, i);
    }
}
