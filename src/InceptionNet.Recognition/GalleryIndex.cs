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
/// <remarks>
/// An index is a version: <see cref="Append"/>, <see cref="Without"/> and <see cref="Renamed"/> return a new one and
/// leave this one answering exactly as before, so a search running on it never sees a change half made. Versions made
/// one after another share one array: an append writes a row no older version reads, and a removal marks the identity
/// removed in the new version's list of names, leaving its rows in place (searches skip them). When such dead rows
/// exceed a quarter of the array, the removal that crosses the line compacts into a new array (the live rows in the same
/// order), so the waste stays bounded and a removal costs O(identities), not a rebuild, until then.
/// <para>
/// From <see cref="QuantizedRows.MinRows"/> rows on, a version also keeps an int8 shadow of the rows
/// (<see cref="QuantizedRows"/>: dim + 12 bytes a row of capacity, 140 MB beside the 512 MB of a million 128-d rows,
/// 27 % more), shared by the versions that share the array and grown with it, and <see cref="TopTwo"/> scans it first
/// and re-ranks the few rows it cannot rule out: the same answers and distances as the float scan, a quarter of the
/// bytes read. Building it costs one pass over the rows on the workers (0.53 s for a million 128-d rows on two Zen 5 cores) when a
/// gallery is made, compacted or grows past the threshold.
/// </para>
/// </remarks>
public sealed class GalleryIndex : IParallelWork
{
    private const int RowsPerItem = 8192;
    private readonly float[] _vectors; // rows [0, _rows) are this version's; later rows belong to newer versions
    private readonly int[] _owner;
    private readonly int _rows;        // rows written for this version, dead ones included
    private readonly int _dead;        // rows of identities removed in this version (skipped; dropped at the next compaction)
    private readonly Tail _tail;       // shared by the versions that share _vectors: how many rows are written
    private readonly QuantizedRows? _shadow; // int8 rows beside _vectors (shared with them) from QuantizedRows.MinRows rows on
    private readonly string?[] _names; // by identity id; null: removed in this version
    private readonly int _identities;  // names that are not null
    private Summary? _summary;         // identities' means and photo counts, made on first use (Mean and MeanDistance rules)
    private readonly int _dim;
    private readonly bool _unitVectors;
    private float[] _scratch = [];
    private readonly Lock _gate = new();
    private readonly WorkerPool _workers;
    private float[] _query = [];
    private int[] _itemTop = [];
    private bool[]? _removed;          // by identity id: removed in this version (made on first use by a shadowed search)
    private bool _findTopTwo;

    /// <summary>
    /// Builds the index from identities and their entries; searches run on <paramref name="context"/>'s workers (default:
    /// a new <see cref="ExecutionContext"/>, whose workers are the shared pool). <paramref name="unitVectors"/> says whether
    /// the model's embeddings are L2-normalized (then an identity's mean is re-normalized for <see cref="IdentityRule.Mean"/>);
    /// it comes from the model, never from looking at the vectors. <paramref name="spareRows"/> rows of room are kept for
    /// <see cref="Append"/> (untouched room costs address space, not resident memory).
    /// </summary>
    public GalleryIndex(IReadOnlyList<(string Name, IReadOnlyList<GalleryEntry> Entries)> identities, int dim, ExecutionContext? context = null, bool unitVectors = true,
        int spareRows = 0)
        : this(Flatten(identities, dim, spareRows), identities.Select(i => i.Name).ToArray(), dim, context, unitVectors)
    {
    }

    /// <summary>
    /// Builds the index straight from arrays (bulk loads, benchmarks): <paramref name="vectors"/> is [rows, dim] row-major
    /// and <paramref name="owner"/>[r] indexes <paramref name="names"/>. The arrays are used as they are, not copied, and must
    /// not change afterwards (from <see cref="QuantizedRows.MinRows"/> rows on, the index also keeps an int8 shadow of them).
    /// Searches run on <paramref name="context"/>'s workers (default: a new <see cref="ExecutionContext"/>).
    /// <paramref name="unitVectors"/>: whether the model's embeddings are L2-normalized (see the other constructor).
    /// </summary>
    public GalleryIndex(float[] vectors, int[] owner, string[] names, int dim, ExecutionContext? context = null, bool unitVectors = true)
        : this((vectors, owner, owner?.Length ?? 0), names, dim, context, unitVectors)
    {
    }

    // The first rows.Count rows of arrays that may hold room for more (a gallery being read into one array).
    internal GalleryIndex((float[] Vectors, int[] Owner, int Count) rows, string[] names, int dim, ExecutionContext? context, bool unitVectors)
        : this(rows.Vectors, rows.Owner, Validated(rows, names, dim), 0, new Tail(rows.Count),
            ShadowOf(rows.Vectors, rows.Count, rows.Owner.Length, dim, (context ??= new ExecutionContext()).Workers), names, names.Length, dim, context.Workers,
            context.Kernels, unitVectors)
    {
    }

    private GalleryIndex(float[] vectors, int[] owner, int count, int dead, Tail tail, QuantizedRows? shadow, string?[] names, int identities, int dim,
        WorkerPool workers, KernelSet kernels, bool unitVectors)
    {
        _shadow = shadow;
        _workers = workers;
        Kernels = kernels;
        _dim = dim;
        _names = names;
        _identities = identities;
        _vectors = vectors;
        _owner = owner;
        _rows = count;
        _dead = dead;
        _tail = tail;
        _unitVectors = unitVectors;
    }

    /// <summary>
    /// This index with one more vector for <paramref name="name"/> (a new identity when not present), without touching
    /// this index: searches on it go on seeing exactly what they saw. The cost is one row (and the list of names for a new identity), not
    /// a rebuild: versions made one after another share one growing array (an older version never reads the rows a newer
    /// one added); appending to an older version than the newest copies first.
    /// </summary>
    public GalleryIndex Append(string name, ReadOnlySpan<float> embedding) => AppendRow(name, embedding, out _);

    // Append, saying which row the vector went to.
    internal GalleryIndex AppendRow(string name, ReadOnlySpan<float> embedding, out int row)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (embedding.Length != _dim)
        {
            throw new ArgumentException($"The vector has {embedding.Length} values, the gallery holds {_dim}-d vectors.", nameof(embedding));
        }

        int id = Array.IndexOf(_names, name);
        string?[] names = id >= 0 ? _names : [.. _names, name];
        if (id < 0)
        {
            id = _names.Length;
        }

        float[] vectors = _vectors;
        int[] owner = _owner;
        Tail tail = _tail;
        QuantizedRows? shadow = _shadow;
        lock (_tail)
        {
            // Everything that can fail (allocations) comes before the first write to a shared array.
            if (tail.Rows != _rows || (_rows + 1) * _dim > vectors.Length)
            {
                // A quarter more, not double: at a million 128-d rows doubling would hold 512 MB of empty rows.
                int capacity = _rows + 1 + Math.Max(16, _rows / 4);
                vectors = new float[capacity * _dim];
                owner = new int[capacity];
                shadow = _shadow?.CopyRows(_rows, capacity);
                Array.Copy(_vectors, vectors, _rows * _dim);
                Array.Copy(_owner, owner, _rows);
                tail = new Tail(_rows);
            }

            if (shadow is null && _rows + 1 >= QuantizedRows.MinRows)
            {
                // This version is the first to reach the threshold: a shadow of the rows before it, the new row set below.
                shadow = Quantized(vectors, _rows, owner.Length, _dim, _workers);
            }

            embedding.CopyTo(vectors.AsSpan(_rows * _dim, _dim));
            owner[_rows] = id;
            shadow?.Set(_rows, embedding);
            tail.Rows = _rows + 1;
        }

        row = _rows;
        return new GalleryIndex(vectors, owner, _rows + 1, _dead, tail, shadow, names, names == _names ? _identities : _identities + 1, _dim, _workers, Kernels,
            _unitVectors);
    }

    /// <summary>
    /// This index without identity <paramref name="name"/> and its vectors, leaving this index unchanged. Nothing is
    /// copied but the list of names: the identity's rows stay where they are and every search of the new version skips
    /// them, until they and earlier removals' rows exceed a quarter of the rows; then this removal compacts (one copy of
    /// the live rows, in their order). Answers are those of an index rebuilt without the identity, ties included.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not in the index.</exception>
    public GalleryIndex Without(string name) => WithoutIdentity(name, out _);

    // Without, and for a compaction which row each old row moved to (-1: dropped); null when the rows stayed.
    internal GalleryIndex WithoutIdentity(string name, out int[]? moved)
    {
        int id = name is null ? -1 : Array.IndexOf(_names, name);
        if (id < 0)
        {
            throw new ArgumentException($"Cannot remove '{name}': not in the index.", nameof(name));
        }

        string?[] names = [.. _names];
        names[id] = null;
        int dead = _dead + _owner.AsSpan(0, _rows).Count(id);
        moved = null;
        if (dead * 4L <= _rows)
        {
            return new GalleryIndex(_vectors, _owner, _rows, dead, _tail, _shadow, names, _identities - 1, _dim, _workers, Kernels, _unitVectors);
        }

        // Compaction: the live rows in their order (the same ties), the live names in their order (the same identity order).
        var ids = new int[names.Length];
        var live = new List<string>(_identities - 1);
        for (int i = 0; i < names.Length; i++)
        {
            ids[i] = names[i] is null ? -1 : live.Count;
            if (names[i] is { } kept)
            {
                live.Add(kept);
            }
        }

        int rows = _rows - dead;
        int capacity = rows + Math.Max(16, rows / 4);
        var vectors = new float[capacity * _dim];
        var owner = new int[capacity];
        moved = new int[_rows];
        int to = 0;
        for (int r = 0; r < _rows; r++)
        {
            int newId = ids[_owner[r]];
            moved[r] = newId < 0 ? -1 : to;
            if (newId >= 0)
            {
                Array.Copy(_vectors, r * _dim, vectors, to * _dim, _dim);
                owner[to++] = newId;
            }
        }

        return new GalleryIndex(vectors, owner, rows, 0, new Tail(rows), ShadowOf(vectors, rows, capacity, _dim, _workers), [.. live], live.Count, _dim, _workers, Kernels,
            _unitVectors);
    }

    /// <summary>
    /// This index with identity <paramref name="name"/> called <paramref name="newName"/>: the vectors are shared, not
    /// copied (the cost is the list of names), and this index is not changed.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not in the index or <paramref name="newName"/> already is.</exception>
    public GalleryIndex Renamed(string name, string newName)
    {
        int id = name is null ? -1 : Array.IndexOf(_names, name);
        if (id < 0 || newName is null || Array.IndexOf(_names, newName) >= 0)
        {
            throw new ArgumentException($"Cannot rename '{name}' to '{newName}': the first is not in the index or the second already is.", nameof(name));
        }

        string?[] names = [.. _names];
        names[id] = newName;
        return new GalleryIndex(_vectors, _owner, _rows, _dead, _tail, _shadow, names, _identities, _dim, _workers, Kernels, _unitVectors) { _summary = _summary };
    }

    // The same version searched with another mean rule (the model says whether its vectors are unit vectors); the
    // arrays are shared, the search state is the view's own.
    internal GalleryIndex WithUnitVectors(bool unitVectors) =>
        new(_vectors, _owner, _rows, _dead, _tail, _shadow, _names, _identities, _dim, _workers, Kernels, unitVectors)
        {
            _summary = unitVectors == _unitVectors ? _summary : null,
        };

    // The vector of row r (a row of this version: a gallery's photos refer to their rows).
    internal ReadOnlySpan<float> Row(int r) => _vectors.AsSpan(r * _dim, _dim);

    private static int Validated((float[] Vectors, int[] Owner, int Count) rows, string[] names, int dim)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (dim < 1 || rows.Vectors.Length != rows.Owner.Length * dim || (uint)rows.Count > (uint)rows.Owner.Length
            || rows.Owner.Take(rows.Count).Any(o => (uint)o >= (uint)names.Length) || names.Any(n => n is null))
        {
            throw new ArgumentException($"{rows.Vectors.Length} values and {rows.Owner.Length} owners do not make {dim}-d rows of {names.Length} identities.");
        }

        return rows.Count;
    }

    // The shadow of the first `rows` rows of `vectors` with room for `capacity`, from QuantizedRows.MinRows rows on.
    private static QuantizedRows? ShadowOf(float[] vectors, int rows, int capacity, int dim, WorkerPool workers) =>
        rows < QuantizedRows.MinRows ? null : Quantized(vectors, rows, capacity, dim, workers);

    private static QuantizedRows Quantized(float[] vectors, int rows, int capacity, int dim, WorkerPool workers)
    {
        var shadow = new QuantizedRows(dim, capacity);
        shadow.Fill(vectors.AsMemory(0, rows * dim), 0, workers);
        return shadow;
    }

    private bool IsLive(int r) => _dead == 0 || _names[_owner[r]] is not null;

    // Every identity's mean (re-normalized for unit-vector models) and photo count, summed in double in row order: the
    // same numbers whichever way the rows arrived (built at once or appended one by one). One pass over the rows, made
    // when a version is first asked for a mean rule, so an append costs one row instead of every identity's mean.
    private Summary Summarize()
    {
        if (_summary is { } made)
        {
            return made;
        }

        var sums = new double[_names.Length * _dim];
        var counts = new int[_names.Length];
        for (int r = 0; r < _rows; r++)
        {
            if (!IsLive(r))
            {
                continue;
            }

            int id = _owner[r];
            counts[id]++;
            for (int j = 0; j < _dim; j++)
            {
                sums[id * _dim + j] += _vectors[r * _dim + j];
            }
        }

        var means = new float[_names.Length * _dim];
        for (int id = 0; id < _names.Length; id++)
        {
            var mean = sums.AsSpan(id * _dim, _dim);
            double norm = 0;
            foreach (double v in mean)
            {
                norm += v * v;
            }

            norm = _unitVectors ? Math.Sqrt(Math.Max(norm, 1e-12)) : Math.Max(counts[id], 1);
            for (int j = 0; j < _dim; j++)
            {
                means[id * _dim + j] = (float)(mean[j] / norm);
            }
        }

        return _summary = new Summary(means, counts);
    }

    private static (float[] Vectors, int[] Owner, int Count) Flatten(IReadOnlyList<(string Name, IReadOnlyList<GalleryEntry> Entries)> identities, int dim, int spareRows)
    {
        ArgumentNullException.ThrowIfNull(identities);
        ArgumentOutOfRangeException.ThrowIfNegative(spareRows);
        int rows = identities.Sum(i => i.Entries.Count);
        var vectors = new float[(rows + spareRows) * dim];
        var owner = new int[rows + spareRows];
        int row = 0;
        for (int id = 0; id < identities.Count; id++)
        {
            foreach (var entry in identities[id].Entries)
            {
                entry.Embedding.CopyTo(vectors, row * dim);
                owner[row++] = id;
            }
        }

        return (vectors, owner, rows);
    }

    /// <summary>Number of vectors (of identities in this version).</summary>
    public int Count => _rows - _dead;

    /// <summary>Number of identities.</summary>
    public int IdentityCount => _identities;

    /// <summary>Kernels the search runs (default: the context's).</summary>
    public KernelSet Kernels { get; init; }

    /// <summary>Every identity with its distance to <paramref name="query"/>, nearest first.</summary>
    public IReadOnlyList<(string Name, double Distance)> DistancesByIdentity(ReadOnlySpan<float> query, IdentityRule rule)
    {
        if (query.Length != _dim)
        {
            throw new ArgumentException($"Query has {query.Length} values, the gallery holds {_dim}-d vectors.");
        }

        // In identity order, removed identities left out: the array a rebuilt index would sort.
        var result = new (string Name, double Distance)[_identities];
        int at = 0;
        if (rule == IdentityRule.MeanDistance)
        {
            var sums = new double[_names.Length];
            for (int r = 0; r < _rows; r++)
            {
                if (IsLive(r))
                {
                    sums[_owner[r]] += ElementwiseOps.Distance(_vectors.AsSpan(r * _dim, _dim), query);
                }
            }

            for (int id = 0; id < _names.Length; id++)
            {
                if (_names[id] is { } name)
                {
                    int count = Summarize().Counts[id];
                    result[at++] = (name, count == 0 ? double.PositiveInfinity : sums[id] / count);
                }
            }
        }
        else if (rule == IdentityRule.Mean)
        {
            for (int id = 0; id < _names.Length; id++)
            {
                if (_names[id] is { } name)
                {
                    result[at++] = (name, ElementwiseOps.Distance(Summarize().Means.AsSpan(id * _dim, _dim), query));
                }
            }
        }
        else
        {
            var (best, _) = BestRowPerIdentity(query);
            for (int id = 0; id < _names.Length; id++)
            {
                if (_names[id] is { } name)
                {
                    result[at++] = (name, best[id] < 0 ? double.PositiveInfinity : ElementwiseOps.Distance(_vectors.AsSpan(best[id] * _dim, _dim), query));
                }
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
            EnsureScratch();
            if (_shadow is { } shadow && shadow.Covers(_rows))
            {
                // The int8 pass and the exact re-rank: the float scan's rows, ties included (VectorSearch proves it), so
                // the double distances below are the same too.
                _removed ??= _dead == 0 ? [] : [.. _names.Select(n => n is null)];
                (first, second) = VectorSearch.NearestTwo(_vectors.AsMemory(0, _rows * _dim), _dim, q, _owner.AsMemory(0, _rows), _scratch.AsMemory(0, _rows), shadow,
                    Kernels, _workers, _removed);
            }
            else
            {
                int items = (_rows + RowsPerItem - 1) / RowsPerItem;
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
        }

        (string, double)? Describe(int row) => row < 0 ? null : (_names[_owner[row]]!, ElementwiseOps.Distance(_vectors.AsSpan(row * _dim, _dim), q));
        return (Describe(first), Describe(second));
    }

    void IParallelWork.Execute(int item, int worker)
    {
        int start = item * RowsPerItem;
        int rows = Math.Min(RowsPerItem, _rows - start);
        var distances = _scratch.AsSpan(start, rows);
        VectorSearch.SquaredDistances(_vectors.AsSpan(start * _dim, rows * _dim), _dim, _query, distances, Kernels);
        if (!_findTopTwo)
        {
            return;
        }

        int best = -1, next = -1;
        for (int r = start; r < start + rows; r++)
        {
            if (IsLive(r))
            {
                Consider(r, ref best, ref next);
            }
        }

        _itemTop[2 * item] = best;
        _itemTop[2 * item + 1] = next;
    }

    private void EnsureScratch()
    {
        if (_scratch.Length < _rows)
        {
            _scratch = new float[_rows];
        }
    }

    private sealed record Summary(float[] Means, int[] Counts);

    // A version's row count in the array it shares with later versions.
    private sealed class Tail(int rows)
    {
        public int Rows { get; set; } = rows;
    }

    // Keeps the nearest row (first) and the nearest row of another identity (second) by the distances in _scratch: the
    // same step as VectorSearch's in-order pass, so ties resolve alike.
    private void Consider(int r, ref int first, ref int second) => VectorSearch.Consider(r, _scratch, _owner, ref first, ref second);

    // Squared distances of every row into _scratch (all cores), then the closest row of each identity.
    private (int[] Rows, float[] Squared) BestRowPerIdentity(ReadOnlySpan<float> query)
    {
        lock (_gate)
        {
            _query = query.ToArray();
            EnsureScratch();
            _workers.Run(this, (_rows + RowsPerItem - 1) / RowsPerItem);
            var best = new int[_names.Length];
            var squared = new float[_names.Length];
            Array.Fill(best, -1);
            for (int r = 0; r < _rows; r++)
            {
                if (!IsLive(r))
                {
                    continue;
                }

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
