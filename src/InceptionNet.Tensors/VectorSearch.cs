namespace InceptionNet.Tensors;

/// <summary>Brute-force nearest-neighbour kernels over contiguous row-major vectors.</summary>
/// <remarks>
/// The parallel forms scan a small matrix inline on the calling thread and split a large one into chunks of
/// <see cref="ChunkValues"/> values for the workers: below <see cref="InlineValues"/> the scan takes less time than waking
/// a helper that went to sleep (tens of µs on a VM, and a helper descheduled by another process on a shared machine
/// holds the caller up for a whole time slice). They allocate nothing per call: each calling thread keeps its own scan
/// state, so concurrent callers never share it.
/// </remarks>
public static partial class VectorSearch
{
    /// <summary>
    /// Matrices of at most this many values (rows × dim) are scanned inline on the calling thread: 2²¹ floats (8 MB,
    /// 16 K rows of 128) scan in about 0.1 ms on one AVX2 or AVX-512 core from cache, so the hand-off cannot win much and
    /// can lose a wake-up. Measured with <c>--quick --search</c> (bench/results/search.md).
    /// </summary>
    public const int InlineValues = 1 << 21;

    /// <summary>Values (rows × dim) per work item above <see cref="InlineValues"/>: 2 MB of floats, about 25 µs of scan.</summary>
    public const int ChunkValues = 1 << 19;

    [ThreadStatic]
    private static Scan? t_scan;

    /// <summary>
    /// <c>output[r] = Σ_j (matrix[r·dim + j] − query[j])²</c> for every row. The vector sets accumulate in lanes and
    /// reduce at the end, so results differ from the scalar reference only by float rounding.
    /// </summary>
    public static void SquaredDistances(ReadOnlySpan<float> matrix, int dim, ReadOnlySpan<float> query, Span<float> output, KernelSet kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        CheckShapes(matrix.Length, dim, query.Length, output.Length);
        if (dim == 0)
        {
            output.Clear();
            return;
        }

        kernels.SquaredDistances(matrix, dim, query, output);
    }

    /// <summary>
    /// <see cref="SquaredDistances(ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, KernelSet)"/> on
    /// <paramref name="workers"/> (inline below <see cref="InlineValues"/>): the same values, bit for bit.
    /// </summary>
    public static void SquaredDistances(ReadOnlyMemory<float> matrix, int dim, ReadOnlySpan<float> query, Memory<float> output, KernelSet kernels, WorkerPool workers)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(workers);
        CheckShapes(matrix.Length, dim, query.Length, output.Length);
        if (dim == 0)
        {
            output.Span.Clear();
            return;
        }

        (t_scan ??= new Scan()).Run(matrix, dim, query, output, default, kernels, workers);
    }

    /// <summary>
    /// The nearest row to <paramref name="query"/> and the nearest row whose <paramref name="owner"/> differs from the
    /// nearest's (−1 where there is none), by float squared distance, which are left in <paramref name="distances"/>.
    /// Ties go to the lower row, as in one pass over the rows in order with strict comparisons; the split into chunks
    /// does not change the answer (a chunk's best row and its best row of another owner carry everything the merge needs).
    /// </summary>
    public static (int Nearest, int RunnerUp) NearestTwo(ReadOnlyMemory<float> matrix, int dim, ReadOnlySpan<float> query, ReadOnlyMemory<int> owner,
        Memory<float> distances, KernelSet kernels, WorkerPool workers)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(workers);
        CheckShapes(matrix.Length, dim, query.Length, distances.Length);
        if (dim == 0 || owner.Length < matrix.Length / dim)
        {
            throw new ArgumentException($"Matrix of {matrix.Length} values, dim {dim}, needs {(dim == 0 ? 0 : matrix.Length / dim)} owners (got {owner.Length}) and dim ≥ 1.");
        }

        return (t_scan ??= new Scan()).Run(matrix, dim, query, distances, owner, kernels, workers);
    }

    /// <summary>
    /// One step of <see cref="NearestTwo(ReadOnlyMemory{float}, int, ReadOnlySpan{float}, ReadOnlyMemory{int}, Memory{float}, KernelSet, WorkerPool)"/>'s pass: row <paramref name="r"/> becomes the nearest (the old nearest becomes the
    /// runner-up if its owner differs) or the runner-up (if its owner differs from the nearest's), by strict comparison.
    /// Rows are fed in increasing order, so ties go to the lower row.
    /// </summary>
    public static void Consider(int r, ReadOnlySpan<float> distances, ReadOnlySpan<int> owner, ref int first, ref int second)
    {
        if (first < 0 || distances[r] < distances[first])
        {
            if (first >= 0 && owner[first] != owner[r])
            {
                second = first;
            }

            first = r;
        }
        else if (owner[r] != owner[first] && (second < 0 || distances[r] < distances[second]))
        {
            second = r;
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

    // Chunk results merged in chunk order: each chunk's best row and its best row of another identity, in row order.
    private static (int Nearest, int RunnerUp) MergeChunks(ReadOnlySpan<int> chunkTop, ReadOnlySpan<float> distances, ReadOnlySpan<int> owner)
    {
        int first = -1, second = -1;
        foreach (int r in chunkTop)
        {
            if (r >= 0)
            {
                Consider(r, distances, owner, ref first, ref second);
            }
        }

        return (first, second);
    }

    private static void CheckShapes(int matrix, int dim, int query, int output)
    {
        if (dim < 0 || query != dim || (dim > 0 && matrix % dim != 0) || output < (dim == 0 ? 0 : matrix / dim))
        {
            throw new ArgumentException($"Matrix of {matrix} values, dim {dim}, query {query}, output {output} do not fit together.");
        }
    }

    // One calling thread's scan: the query copy, the chunk results and the arguments the items read.
    private sealed class Scan : IParallelWork
    {
        private float[] _query = [];
        private int[] _chunkTop = [];
        private ReadOnlyMemory<float> _matrix;
        private ReadOnlyMemory<int> _owner;
        private Memory<float> _distances;
        private KernelSet _kernels = KernelSet.Default;
        private int _dim;
        private int _rows;
        private int _chunkRows;

        public (int Nearest, int RunnerUp) Run(ReadOnlyMemory<float> matrix, int dim, ReadOnlySpan<float> query, Memory<float> distances,
            ReadOnlyMemory<int> owner, KernelSet kernels, WorkerPool workers)
        {
            int rows = matrix.Length / dim;
            if (_query.Length < dim)
            {
                _query = new float[dim];
            }

            query.CopyTo(_query);
            (_matrix, _owner, _distances, _kernels, _dim, _rows) = (matrix, owner, distances, kernels, dim, rows);
            _chunkRows = matrix.Length <= InlineValues ? Math.Max(rows, 1) : Math.Max(1, ChunkValues / dim);
            int chunks = (rows + _chunkRows - 1) / _chunkRows;
            if (_chunkTop.Length < 2 * chunks)
            {
                _chunkTop = new int[2 * chunks];
            }

            try
            {
                if (chunks == 1)
                {
                    Execute(0, 0); // no hand-off: the caller scans it all
                }
                else
                {
                    workers.Run(this, chunks);
                }

                if (owner.IsEmpty)
                {
                    return (-1, -1);
                }

                return MergeChunks(_chunkTop.AsSpan(0, 2 * chunks), distances.Span, owner.Span);
            }
            finally
            {
                (_matrix, _owner, _distances) = (default, default, default); // hold no caller's arrays between calls
            }
        }

        public void Execute(int item, int worker)
        {
            int start = item * _chunkRows;
            int rows = Math.Min(_chunkRows, _rows - start);
            var distances = _distances.Span.Slice(start, rows);
            _kernels.SquaredDistances(_matrix.Span.Slice(start * _dim, rows * _dim), _dim, _query.AsSpan(0, _dim), distances);
            if (_owner.IsEmpty)
            {
                return;
            }

            int best = -1, next = -1;
            var all = _distances.Span;
            var owner = _owner.Span;
            for (int r = start; r < start + rows; r++)
            {
                Consider(r, all, owner, ref best, ref next);
            }

            _chunkTop[2 * item] = best;
            _chunkTop[2 * item + 1] = next;
        }
    }
}
