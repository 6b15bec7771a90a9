using System.Runtime.Intrinsics;

namespace InceptionNet.Tensors;

/// <summary>Brute-force nearest-neighbour kernels over contiguous row-major vectors.</summary>
public static class VectorSearch
{
    /// <summary>
    /// <c>output[r] = Σ_j (matrix[r·dim + j] − query[j])²</c> for every row. The vector paths accumulate in lanes and
    /// reduce at the end, so results differ from the scalar reference only by float rounding.
    /// </summary>
    public static void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output, SimdLevel level)
    {
        if (dim < 0 || query.Length != dim || (dim > 0 && matrix.Length % dim != 0) || output.Length < (dim == 0 ? 0 : matrix.Length / dim))
        {
            throw new ArgumentException($"Matrix of {matrix.Length} values, dim {dim}, query {query.Length}, output {output.Length} do not fit together.");
        }

        if (dim == 0)
        {
            output.Clear();
            return;
        }

        int rows = matrix.Length / dim;
        level = Simd.Clamp(level);
        for (int r = 0; r < rows; r++)
        {
            var row = matrix.Slice(r * dim, dim);
            output[r] = level switch
            {
                SimdLevel.Vector512 => Squared512(row, query),
                SimdLevel.Vector256 => Squared256(row, query),
                _ => SquaredScalar(row, query),
            };
        }
    }

    /// <summary>The scalar reference: plain loop, float accumulation.</summary>
    public static float SquaredScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0f;
        for (int i = 0; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }

        return sum;
    }

    private static float Squared512(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var acc = Vector512<float>.Zero;
        int i = 0;
        for (; i <= a.Length - 16; i += 16)
        {
            var d = Vector512.Create(a.Slice(i, 16)) - Vector512.Create(b.Slice(i, 16));
            acc = Vector512.FusedMultiplyAdd(d, d, acc);
        }

        float sum = Vector512.Sum(acc);
        for (; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }

        return sum;
    }

    private static float Squared256(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i <= a.Length - 8; i += 8)
        {
            var d = Vector256.Create(a.Slice(i, 8)) - Vector256.Create(b.Slice(i, 8));
            acc = Vector256.FusedMultiplyAdd(d, d, acc);
        }

        float sum = Vector256.Sum(acc);
        for (; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }

        return sum;
    }
}
