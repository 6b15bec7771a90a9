using InceptionNet.Tensors;

namespace InceptionNet.Recognition;

/// <summary>How an identity's several photos are compared with a probe.</summary>
public enum IdentityRule
{
    /// <summary>The distance to the identity's closest photo (default).</summary>
    Closest,

    /// <summary>The distance to the L2-normalized mean of the identity's photos.</summary>
    Mean,
}

/// <summary>
/// Every gallery vector in one contiguous array, searched by SIMD brute force on all cores. Ranking uses float squared
/// distances; the distances reported are recomputed in double, as the course's <c>np.linalg.norm</c> on float32 vectors.
/// </summary>
public sealed class GalleryIndex : IParallelWork
{
    private const int RowsPerItem = 8192;
    private readonly float[] _vectors;
    private readonly int[] _owner;
    private readonly string[] _names;
    private readonly float[] _means;
    private readonly int _dim;
    private readonly float[] _scratch;
    private readonly Lock _gate = new();
    private float[] _query = [];

    /// <summary>Builds the index from identities and their entries.</summary>
    public GalleryIndex(IReadOnlyList<(string Name, IReadOnlyList<GalleryEntry> Entries)> identities, int dim)
    {
        ArgumentNullException.ThrowIfNull(identities);
        _dim = dim;
        _names = identities.Select(i => i.Name).ToArray();
        int rows = identities.Sum(i => i.Entries.Count);
        _vectors = new float[rows * dim];
        _owner = new int[rows];
        _means = new float[_names.Length * dim];
        int row = 0;
        for (int id = 0; id < identities.Count; id++)
        {
            var mean = new double[dim];
            foreach (var entry in identities[id].Entries)
            {
                entry.Embedding.CopyTo(_vectors, row * dim);
                _owner[row++] = id;
                for (int j = 0; j < dim; j++)
                {
                    mean[j] += entry.Embedding[j];
                }
            }

            double norm = Math.Sqrt(Math.Max(mean.Sum(v => v * v), 1e-12));
            for (int j = 0; j < dim; j++)
            {
                _means[id * dim + j] = (float)(mean[j] / norm);
            }
        }

        _scratch = new float[rows];
    }

    /// <summary>Raw vectors and their owners, for building an index straight from arrays (benchmarks, bulk loads).</summary>
    public GalleryIndex(float[] vectors, int[] owner, string[] names, int dim)
        : this(names.Select((n, id) => (n, (IReadOnlyList<GalleryEntry>)Enumerable.Range(0, owner.Length).Where(r => owner[r] == id)
            .Select(r => new GalleryEntry(vectors.AsSpan(r * dim, dim).ToArray(), string.Empty, default)).ToList())).ToList(), dim)
    {
    }

    /// <summary>Number of vectors.</summary>
    public int Count => _owner.Length;

    /// <summary>Number of identities.</summary>
    public int IdentityCount => _names.Length;

    /// <summary>Vector width used by the search.</summary>
    public SimdLevel Level { get; init; } = Simd.Default;

    /// <summary>Every identity with its distance to <paramref name="query"/>, nearest first.</summary>
    public IReadOnlyList<(string Name, double Distance)> DistancesByIdentity(ReadOnlySpan<float> query, IdentityRule rule)
    {
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values, the gallery holds {_dim}-d vectors.");
        }

        var result = new (string Name, double Distance)[_names.Length];
        if (rule == IdentityRule.Mean)
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
        var (best, squared) = BestRowPerIdentity(query);
        int first = -1, second = -1;
        for (int id = 0; id < best.Length; id++)
        {
            if (best[id] < 0)
            {
                continue;
            }

            if (first < 0 || squared[id] < squared[first])
            {
                second = first;
                first = id;
            }
            else if (second < 0 || squared[id] < squared[second])
            {
                second = id;
            }
        }

        var q = query.ToArray();
        (string, double)? Describe(int id) => id < 0 ? null : (_names[id], ElementwiseOps.Distance(_vectors.AsSpan(best[id] * _dim, _dim), q));
        return (Describe(first), Describe(second));
    }

    void IParallelWork.Execute(int item, int worker)
    {
        int start = item * RowsPerItem;
        int rows = Math.Min(RowsPerItem, Count - start);
        VectorSearch.SquaredDistances(_vectors.AsSpan(start * _dim, rows * _dim), _dim, _query, _scratch.AsSpan(start, rows), Level);
    }

    // Squared distances of every row into _scratch (all cores), then the closest row of each identity.
    private (int[] Rows, float[] Squared) BestRowPerIdentity(ReadOnlySpan<float> query)
    {
        lock (_gate)
        {
            _query = query.ToArray();
            WorkerPool.Shared.Run(this, (Count + RowsPerItem - 1) / RowsPerItem);
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
