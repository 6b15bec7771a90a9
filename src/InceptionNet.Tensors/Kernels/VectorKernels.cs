using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
/// and its tile shape. Each loop runs whole vectors and leaves the tail to the scalar reference form in
/// <see cref="KernelSet"/>.
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

    // Branch-free activation: a per-element branch on the sign of the data mispredicts half the time.
    internal sealed override unsafe void Epilogue(float* tile, int rows, int cols, in EpilogueTarget target)
    {
        // Locals, not reads through `target`: the stores through dst could alias it as far as the JIT knows.
        var scale = TOps.Create(target.Scale);
        float* bias = target.Bias, slopes = target.NegativeSlopes;
        bool relu = target.Relu;
        int vectorCols = cols - cols % TOps.Count;
        for (int r = 0; r < rows; r++)
        {
            float* acc = tile + r * TileColumns;
            float* dst = target.Output + r * target.OutputStride;
            float* res = target.Residual == null ? null : target.Residual + r * target.ResidualStride;
            for (int j = 0; j < vectorCols; j += TOps.Count)
            {
                var v = TOps.Add(TOps.Load(acc + j), TOps.Load(bias + j));
                if (res != null)
                {
                    v = TOps.Add(TOps.Load(res + j), TOps.Multiply(scale, v));
                }

                if (slopes != null)
                {
                    v = TOps.ConditionalSelect(TOps.GreaterThan(v, TOps.Zero), v, TOps.Multiply(TOps.Load(slopes + j), v));
                }
                else if (relu)
                {
                    v = TOps.ConditionalSelect(TOps.LessThan(v, TOps.Zero), TOps.Zero, v);
                }

                TOps.Store(v, dst + j);
            }
        }

        EpilogueScalar(tile, rows, vectorCols, cols, target);
    }

    internal sealed override void PoolAccumulate(ReadOnlySpan<float> src, Span<float> dst, PoolKind kind, bool first)
    {
        src = src[..dst.Length];
        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        for (; i <= dst.Length - TOps.Count; i += TOps.Count)
        {
            var v = TOps.LoadUnsafe(ref s, (nuint)i);
            var acc = TOps.LoadUnsafe(ref d, (nuint)i);
            acc = kind switch
            {
                PoolKind.Max => first ? v : TOps.ConditionalSelect(TOps.GreaterThan(v, acc), v, acc),
                PoolKind.Average => first ? v : TOps.Add(acc, v),
                // Always fused, as the scalar reference (MathF.FusedMultiplyAdd) is: L2 pooling is bit-identical at every level.
                _ => first ? TOps.Multiply(v, v) : TOps.FusedMultiplyAdd(v, v, acc),
            };
            TOps.StoreUnsafe(acc, ref d, (nuint)i);
        }

        PoolAccumulateScalar(src, dst, kind, first, i);
    }

    internal sealed override void PoolFinish(Span<float> dst, int count, int windowSize, PoolKind kind)
    {
        if (kind == PoolKind.Max)
        {
            return;
        }

        var divisor = TOps.Create((float)count);
        var window = TOps.Create((float)windowSize);
        ref float d = ref MemoryMarshal.GetReference(dst);
        int i = 0;
        for (; i <= dst.Length - TOps.Count; i += TOps.Count)
        {
            var mean = TOps.Divide(TOps.LoadUnsafe(ref d, (nuint)i), divisor);
            TOps.StoreUnsafe(kind == PoolKind.L2 ? TOps.Sqrt(TOps.Multiply(mean, window)) : mean, ref d, (nuint)i);
        }

        PoolFinishScalar(dst, count, windowSize, kind, i);
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
