namespace InceptionNet.Tensors;

/// <summary>Brute-force nearest-neighbour kernels over contiguous row-major vectors.</summary>
public static class VectorSearch
{
    /// <summary>
    /// <c>output[r] = Σ_j (matrix[r·dim + j] − query[j])²</c> for every row. The vector sets accumulate in lanes and
    /// reduce at the end, so results differ from the scalar reference only by float rounding.
    /// </summary>
    public static void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output, KernelSet kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        if (dim < 0 || query.Length != dim || (dim > 0 && matrix.Length % dim != 0) || output.Length < (dim == 0 ? 0 : matrix.Length / dim))
        {
            throw new ArgumentException($"Matrix of {matrix.Length} values, dim {dim}, query {query.Length}, output {output.Length} do not fit together.");
        }

        if (dim == 0)
        {
            output.Clear();
            return;
        }

        kernels.SquaredDistances(matrix, dim, query, output);
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
}
