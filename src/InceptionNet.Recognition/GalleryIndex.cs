using InceptionNet.Tensors;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Recognition;

/// <summary>How an identity's several photos are compared with a probe.</summary>
public enum IdentityRule
{
    /// <summary>The distance to the identity's closest photo (default).</summary>
    Closest,

    /// <summary>
    /// The distance to the mean of the identity's photos (re-normalized to unit length when the model's embeddings are
    /// unit vectors, as FaceNet's and OpenFace's are).
    /// </summary>
    Mean,

    /// <summary>The mean of the distances to each of the identity's photos (face-api's <c>FaceMatcher</c>).</summary>
    MeanDistance,
}

/// <summary>
/// Every gallery vector in one contiguous array, searched by SIMD brute force on all cores. Ranking uses float squared
/// distances; the distances reported are recomputed in double, as the course's <c>np.linalg.norm</c> on float32 vectors.
/// Searches are serialized per index and run on the workers of its <see cref="ExecutionContext"/>.
/// </summary>
public sealed class GalleryIndex : IParallelWork
{
    private const int RowsPerItem = 8192;
    private readonly float[] _vectors;
    private readonly int[] _owner;
    private readonly string[] _names;
    private readonly float[] _means;
    private readonly int[] _counts;
    private readonly int _dim;
    private readonly float[] _scratch;
    private readonly Lock _gate = new();
    private readonly WorkerPool _workers;
    private float[] _query = [];
    private int[] _itemTop = [];
    private bool _findTopTwo;

    /// <summary>
    /// Builds the index from identities and their entries; searches run on <paramref name="context"/>'s workers (default:
    /// a new <see cref="ExecutionContext"/>, whose workers are the shared pool). <paramref name="unitVectors"/> says whether
    /// the model's embeddings are L2-normalized (then an identity's mean is re-normalized for <see cref="IdentityRule.Mean"/>);
    /// it comes from the model, never from looking at the vectors.
    /// </summary>
    public GalleryIndex(IReadOnlyList<(string Name, IReadOnlyList<GalleryEntry> Entries)> identities, int dim, ExecutionContext? context = null, bool unitVectors = true)
        : this(Flatten(identities, dim), identities.Select(i => i.Name).ToArray(), dim, context, unitVectors)
    {
    }

    /// <summary>
    /// Builds the index straight from arrays (bulk loads, benchmarks): <paramref name="vectors"/> is [rows, dim] row-major
    /// and <paramref name="owner"/>[r] indexes <paramref name="names"/>. The arrays are used as they are, not copied.
    /// Searches run on <paramref name="context"/>'s workers (default: a new <see cref="ExecutionContext"/>).
    /// <paramref name="unitVectors"/>: whether the model's embeddings are L2-normalized (see the other constructor).
    /// </summary>
    public GalleryIndex(float[] vectors, int[] owner, string[] names, int dim, ExecutionContext? context = null, bool unitVectors = true)
        : this((vectors, owner), names, dim, context, unitVectors)
    {
    }

    private GalleryIndex((float[] Vectors, int[] Owner) rows, string[] names, int dim, ExecutionContext? context, bool unitVectors)
    {
        ArgumentNullException.ThrowIfNull(names);
        context ??= new ExecutionContext();
        _workers = context.Workers;
        Kernels = context.Kernels;
        if (dim < 1 || rows.Vectors.Length != rows.Owner.Length * dim || rows.Owner.Any(o => (uint)o >= (uint)names.Length))
        {
            throw new ArgumentException($"{rows.Vectors.Length} values and {rows.Owner.Length} owners do not make {dim}-d rows of {names.Length} identities.");
        }

        _dim = dim;
        _names = names;
        _vectors = rows.Vectors;
        _owner = rows.Owner;
        var sums = new double[names.Length * dim];
        for (int r = 0; r < _owner.Length; r++)
        {
            for (int j = 0; j < dim; j++)
            {
                sums[_owner[r] * dim + j] += _vectors[r * dim + j];
            }
        }

        _means = new float[names.Length * dim];
        _counts = new int[names.Length];
        foreach (int id in _owner)
        {
            _counts[id]++;
        }

        for (int id = 0; id < names.Length; id++)
        {
            var mean = sums.AsSpan(id * dim, dim);
            double norm = 0;
            foreach (double v in mean)
            {
                norm += v * v;
            }

            norm = unitVectors ? Math.Sqrt(Math.Max(norm, 1e-12)) : Math.Max(_counts[id], 1);
            for (int j = 0; j < dim; j++)
            {
                _means[id * dim + j] = (float)(mean[j] / norm);
            }
        }

        _scratch = new float[_owner.Length];
    }

    private static (float[] Vectors, int[] Owner) Flatten(IReadOnlyList<(string Name, IReadOnlyList<GalleryEntry> Entries)> identities, int dim)
    {
        ArgumentNullException.ThrowIfNull(identities);
        int rows = identities.Sum(i => i.Entries.Count);
        var vectors = new float[rows * dim];
        var owner = new int[rows];
        int row = 0;
        for (int id = 0; id < identities.Count; id++)
        {
            foreach (var entry in identities[id].Entries)
            {
                entry.Embedding.CopyTo(vectors, row * dim);
                owner[row++] = id;
            }
        }

        return (vectors, owner);
    }

    /// <summary>Number of vectors.</summary>
    public int Count => _owner.Length;

    /// <summary>Number of identities.</summary>
    public int IdentityCount => _names.Length;

    /// <summary>Kernels the search runs (default: the context's).</summary>
    public KernelSet Kernels { get; init; }

    /// <summary>Every identity with its distance to <paramref name="query"/>, nearest first.</summary>
    public IReadOnlyList<(string Name, double Distance)> DistancesByIdentity(ReadOnlySpan<float> query, IdentityRule rule)
    {
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values, the gallery holds {_dim}-d vectors.");
        }

        var result = new (string Name, double Distance)[_names.Length];
        if (rule == IdentityRule.MeanDistance)
        {
            var sums = new double[_names.Length];
            for (int r = 0; r < _owner.Length; r++)
            {
                sums[_owner[r]] += ElementwiseOps.Distance(_vectors.AsSpan(r * _dim, _dim), query);
            }

            for (int id = 0; id < _names.Length; id++)
            {
                result[id] = (_names[id], _counts[id] == 0 ? double.PositiveInfinity : sums[id] / _counts[id]);
            }
        }
        else if (rule == IdentityRule.Mean)
        {
            for (int id = 0; id < _names.Length; id++)
            {
                result[id] = (_names[id], ElementwiseOps.Distance(_means.AsSpan(id * _dim, _dim), query));
            }
        }
        else
        {
            var (best, _) = BestRowPerIdentity(query);
            for (int id = 0; id < _names.Length; id++)
            {
                result[id] = (_names[id], best[id] < 0 ? double.PositiveInfinity : ElementwiseOps.Distance(_vectors.AsSpan(best[id] * _dim, _dim), query));
            }
        }

        Array.Sort(result, (a, b) => a.Distance.CompareTo(b.Distance));
        return result;
    }

    /// <summary>The two nearest identities (closest-photo rule), with double-precision distances.</summary>
    public ((string Name, double Distance)? Best, (string Name, double Distance)? RunnerUp) TopTwo(ReadOnlySpan<float> query)
    {
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values, the gallery holds {_dim}-d vectors.");
        }

        int first = -1, second = -1;
        float[] q;
        lock (_gate)
        {
            _query = q = query.ToArray();
            int items = (Count + RowsPerItem - 1) / RowsPerItem;
            if (_itemTop.Length < items * 2)
            {
                _itemTop = new int[items * 2];
            }

            _findTopTwo = true;
            _workers.Run(this, items);
            _findTopTwo = false;

            // The global runner-up identity is, in its own chunk, either that chunk's best row or the best row of an
            // identity other than the chunk's best: merging each chunk's top two distinct identities is exact.
            for (int i = 0; i < items * 2; i++)
            {
                if (_itemTop[i] >= 0)
                {
                    Consider(_itemTop[i], ref first, ref second);
                }
            }
        }

        (string, double)? Describe(int row) => row < 0 ? null : (_names[_owner[row]], ElementwiseOps.Distance(_vectors.AsSpan(row * _dim, _dim), q));
        return (Describe(first), Describe(second));
    }

    void IParallelWork.Execute(int item, int worker)
    {
        int start = item * RowsPerItem;
        int rows = Math.Min(RowsPerItem, Count - start);
        var distances = _scratch.AsSpan(start, rows);
        VectorSearch.SquaredDistances(_vectors.AsSpan(start * _dim, rows * _dim), _dim, _query, distances, Kernels);
        if (!_findTopTwo)
        {
            return;
        }

        int best = -1, next = -1;
        for (int r = start; r < start + rows; r++)
        {
            Consider(r, ref best, ref next);
        }

        _itemTop[2 * item] = best;
        _itemTop[2 * item + 1] = next;
    }

    // Keeps the nearest row (first) and the nearest row of another identity (second) by the distances in _scratch.
    private void Consider(int r, ref int first, ref int second)
    {
        if (first < 0 || _scratch[r] < _scratch[first])
        {
            if (first >= 0 && _owner[first] != _owner[r])
            {
                second = first;
            }

            first = r;
        }
        else if (_owner[r] != _owner[first] && (second < 0 || _scratch[r] < _scratch[second]))
        {
            second = r;
        }
    }

    // Squared distances of every row into _scratch (all cores), then the closest row of each identity.
    private (int[] Rows, float[] Squared) BestRowPerIdentity(ReadOnlySpan<float> query)
    {
        lock (_gate)
        {
            _query = query.ToArray();
            _workers.Run(this, (Count + RowsPerItem - 1) / RowsPerItem);
            var best = new int[_names.Length];
            var squared = new float[_names.Length];
            Array.Fill(best, -1);
            for (int r = 0; r < Count; r++)
            {
                int id = _owner[r];
                if (best[id] < 0 || _scratch[r] < squared[id])
                {
                    best[id] = r;
                    squared[id] = _scratch[r];
                }
            }

            return (best, squared);
        }
    }
}
