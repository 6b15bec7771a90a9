using System.Runtime.InteropServices;

namespace InceptionNet.Tensors;

// The int8 first pass and the exact re-rank.
//
// Bounds. For a row x (floats), its shadow x̃ = s·c with ε ≥ ‖x − x̃‖ (rounded up when built), and the query q, let D be
// the real ‖x − q‖² and D̂ the float the kernel SquaredDistances returns for the row (what the full scan compares). Let
// Q ≥ ‖q‖ (rounded up), R ≥ ‖x‖ + ε ≥ max(‖x‖, ‖x̃‖) (the shadow's Reach, over all its rows), M = (R + Q)², u = 2⁻²⁴ and
// γ_n = n·u / (1 − n·u) ≤ 1.01·n·u (dim ≤ 10⁵). Every float value below is at most 3M ≤ 3·10³⁰ (the search scans when
// R + Q ≥ 10¹⁵), so nothing overflows. Underflow adds at most 2⁻¹⁵⁰ to an operation's result, scaled by at most
// 2s ≤ 2R where it enters through the dot below: at most Z = (3·dim + 16)·2⁻¹⁵⁰·(1 + 2R) over a row's operations.
//  (1) Kernel: each term (x_j − q_j)² ≥ 0 goes through one subtraction (its rounding counts twice, squared), one
//      multiplication (or a fused add) and at most dim − 1 additions, in any grouping, so |D̂ − D| ≤ γ_{dim+2}·D ≤
//      γ_{dim+2}·M, as D ≤ (‖x‖ + ‖q‖)² ≤ M.
//  (2) Quantization: D = ‖x‖² + ‖q‖² − 2⟨x̃, q⟩ − 2⟨x − x̃, q⟩ and |⟨x − x̃, q⟩| ≤ ε·‖q‖ ≤ ε·Q (Cauchy-Schwarz), so
//      |D − A*| ≤ 2Q·ε with A* = ‖x‖² + ‖q‖² − 2s·P, P = ⟨c, q⟩ real.
//  (3) The query goes to 16-bit integers q̃ = round(q / σ), σ a power of two (QuantizeQuery), with δ = q − σ·q̃ and
//      Δ ≥ ‖δ‖; Δ ≤ ‖q‖ ≤ Q, as each q_j rounds to a multiple of σ no farther from it than 0 is. The kernel QuantizedDots
//      gives S = ⟨c, q̃⟩ exactly (σ keeps 128·dim·max|q̃_j| < 2³¹), σ·S is exact in double, and P̂ = fl(σ·S) rounds once:
//      |P̂ − σS| ≤ u·σ|S| + 2⁻¹⁵⁰. Now P = σS + ⟨c, δ⟩ with s·|⟨c, δ⟩| ≤ ‖x̃‖·Δ ≤ RΔ, and s·σ|S| ≤ s(|P| + |⟨c, δ⟩|) ≤
//      R(Q + Δ), so 2s·|P̂ − P| ≤ 2RΔ + 2uR(Q + Δ) + 2s·2⁻¹⁵⁰ (the last inside Z). The float A = fl(fl(n + qq) −
//      2·fl(s·P̂)), n and qq the squared norms summed in double and rounded to float (each within 1.01·u of its value
//      ≤ M): the sum n + qq (≤ 2M) rounds by ≤ 2uM, the product (≤ R(Q + Δ)(1 + u) ≤ M/4 + 1.01RΔ) by ≤ 0.26uM +
//      1.01uRΔ, the doubling is exact, the difference (|A| ≤ 3M) by ≤ 3uM, and 2uRQ ≤ uM/2: |A − A*| ≤
//      2RΔ(1 + 2.01u) + 8.1uM.
//  (4) The slack w = fl(fl(2Q·ε) + η) is at least (2Q·ε + η)(1 − 2u) ≥ 2Q·ε + η(1 − 2u) − uM, as 2Q·ε ≤ M/2.
//  (5) L = fl(A − w) and U = fl(A + w) (|A ± w| ≤ 4M, as 2RΔ ≤ 2RQ ≤ M/2) round by ≤ 4uM.
// So L ≤ D̂ ≤ U whenever η(1 − 2u) ≥ γ_{dim+2}·M + 2RΔ(1 + 2.01u) + 13.1uM + Z, i.e. for η ≥ (1.02·dim + 16)·u·M +
// 2RΔ(1 + 2⁻²¹) + 1.01·Z; η = (2·dim + 64)·u·M + 2Z + 2RΔ(1 + 2⁻²⁰) leaves room. For 128-d unit vectors η ≈ 1.3–1.8·10⁻⁴
// (σ = 2⁻¹⁷ or 2⁻¹⁶, 2RΔ ≈ 0.5–1·10⁻⁴ of it), against 2Q·ε ≈ 0.015. (Before the 16-bit query the kernel summed int8 × float in float and η
// carried γ_dim·M/2 for it; the integer kernel is exact, four times cheaper per code, and the pass reads at memory
// speed on AVX2 cores with 128-bit units, where the float form did not; bench/results/search.md.)
//
// Candidates. Let d_r be the D̂ of row r; the full scan answers f = the first row of least d (ties to the lower row) and
// h = the first row of least d among rows whose owner differs from f's: that is what the in-order pass of Consider keeps
// (by induction on the rows: a row replaces the nearest only when strictly nearer, the old nearest stepping down when
// its owner differs from the newcomer's, and otherwise replaces the runner-up only when strictly nearer with another
// owner). Take any two rows a and b of different owners and T = max(U_a, U_b) (+∞ when all rows share one owner). Then
// d_f ≤ d_a ≤ U_a ≤ T; and one of a, b has an owner other than f's, so if h exists d_h ≤ T. Hence L_f ≤ T and L_h ≤ T:
// both are among the candidates C = {r : L_r ≤ T}. The same pass over C alone, in row order, answers the first row of
// least d in C, which is f (f ∈ C ⊆ rows), and the first row of least d in C of another owner, which is h (h ∈ C), or
// none exactly when the full scan has none. The pass uses the very d_r: SquaredDistances gives a row the same bits
// alone or in a block (VectorSearchTests), and chunks merge as in the full scan. The first pass takes a = the row of
// least U and b = the row of least U of another owner (the same pass on U), so T = U_b is as small as it gets; only
// T's validity, not this choice, carries the proof. Rows of skipped owners are left out of every step, as if absent.
public static partial class VectorSearch
{
    // The derivation above assumes dim ≤ 10⁵ (γ_n ≤ 1.01·n·u); longer rows are scanned in float.
    private const int MaxShadowDim = 100_000;

    [ThreadStatic]
    private static QuantizedScan? t_quantizedScan;

    /// <summary>
    /// The query's 16-bit form for the int8 pass: <c>codes[j] = round(query[j] / σ)</c> with σ the smallest power of two
    /// that keeps every code within <c>min(32767, ⌊(2³¹ − 1) / (128·dim)⌋)</c>, so that every integer dot of int8 codes
    /// with them is exact in 32 bits. Returns σ (1 for a zero query) and Δ ≥ ‖query − σ·codes‖, the quantization error
    /// rounded up (each difference is exact in double; only the sum of squares and its root round). The query must be
    /// finite, of at most 10⁵ values (the limit above stays ≥ 167).
    /// </summary>
    internal static (double Scale, double Error) QuantizeQuery(ReadOnlySpan<float> query, Span<short> codes)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Length, MaxShadowDim);
        int limit = (int)Math.Min(short.MaxValue, int.MaxValue / (128L * Math.Max(1, query.Length)));
        double largest = 0;
        foreach (float v in query)
        {
            largest = Math.Max(largest, Math.Abs((double)v));
        }

        if (largest == 0)
        {
            codes[..query.Length].Clear();
            return (1, 0);
        }

        // largest / σ ≤ limit < 2·largest / σ: σ ≥ largest / limit, within a factor two of it.
        double scale = Math.ScaleB(1.0, Math.ILogB(largest) - Math.ILogB(limit));
        while (largest / scale > limit)
        {
            scale *= 2;
        }

        while (largest / (scale / 2) <= limit)
        {
            scale /= 2;
        }

        double squared = 0;
        for (int j = 0; j < query.Length; j++)
        {
            double code = Math.Round(query[j] / scale); // exact quotient (a power of two), |code| ≤ limit
            codes[j] = (short)code;
            double e = query[j] - scale * code; // |e| ≤ σ/2 on a multiple of the float's last place: exact
            squared += e * e;
        }

        return (scale, Math.Sqrt(squared) * (1 + (query.Length + 4) * Math.ScaleB(1, -50)));
    }

    /// <summary>
    /// <see cref="NearestTwo(ReadOnlyMemory{float}, int, ReadOnlySpan{float}, ReadOnlyMemory{int}, Memory{float}, KernelSet, WorkerPool)"/>
    /// through <paramref name="shadow"/> (the rows' <see cref="QuantizedRows"/>, at least as many rows): a first pass over
    /// the int8 codes bounds every row's float squared distance from below and above, and only the rows whose lower bound
    /// does not exceed the runner-up's upper bound get their exact distance, by the same kernel. The answer is the full
    /// scan's, ties included, and so are the distances left in <paramref name="distances"/> for the rows that were re-ranked,
    /// the two answers among them; other rows hold a lower bound of theirs. Rows whose owner is marked in
    /// <paramref name="skipOwners"/> (indexed by owner; empty: none) are left out, as if absent. Where the shadow cannot
    /// bound the distances (a row or the query not finite or too large) every row is scanned in float. The shadow must be
    /// of these very rows (built from <paramref name="matrix"/> and not changed since): a shadow of other values bounds
    /// nothing.
    /// </summary>
    public static (int Nearest, int RunnerUp) NearestTwo(ReadOnlyMemory<float> matrix, int dim, ReadOnlySpan<float> query, ReadOnlyMemory<int> owner,
        Memory<float> distances, QuantizedRows shadow, KernelSet kernels, WorkerPool workers, ReadOnlyMemory<bool> skipOwners = default)
    {
        ArgumentNullException.ThrowIfNull(shadow);
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(workers);
        CheckShapes(matrix.Length, dim, query.Length, distances.Length);
        if (dim == 0 || owner.Length < matrix.Length / dim || shadow.Dim != dim || shadow.Capacity < matrix.Length / dim)
        {
            throw new ArgumentException($"Matrix of {matrix.Length} values, dim {dim}, needs {(dim == 0 ? 0 : matrix.Length / dim)} owners (got {owner.Length}), "
                + $"dim ≥ 1 and a shadow of as many {dim}-d rows (got {shadow.Capacity} of {shadow.Dim}).");
        }

        return (t_quantizedScan ??= new QuantizedScan()).Run(matrix, dim, query, owner, distances, shadow, kernels, workers, skipOwners);
    }

    // The nearest and the nearest of another owner by values held beside the rows (the first pass's upper bounds): the
    // steps of Consider.
    private struct TopTwoBounds()
    {
        public int First = -1;
        public int Second = -1;
        private float _firstValue;
        private float _secondValue;
        private int _firstOwner;

        public readonly float FirstValue => _firstValue;

        public readonly float SecondValue => _secondValue;

        public void Offer(int r, float value, int owner)
        {
            if (First < 0 || value < _firstValue)
            {
                if (First >= 0 && _firstOwner != owner)
                {
                    (Second, _secondValue) = (First, _firstValue);
                }

                (First, _firstValue, _firstOwner) = (r, value, owner);
            }
            else if (owner != _firstOwner && (Second < 0 || value < _secondValue))
            {
                (Second, _secondValue) = (r, value);
            }
        }
    }

    // One calling thread's two-pass search: the first pass's chunk results, then the re-rank's.
    private sealed class QuantizedScan : IParallelWork
    {
        private float[] _query = [];
        private short[] _query16 = [];
        private double _queryScale;
        private int[] _chunkTop = [];
        private float[] _chunkBound = [];
        private ReadOnlyMemory<float> _matrix;
        private ReadOnlyMemory<int> _owner;
        private ReadOnlyMemory<bool> _skip;
        private Memory<float> _distances;
        private QuantizedRows? _shadow;
        private KernelSet _kernels = KernelSet.Default;
        private int _dim;
        private int _rows;
        private int _chunkRows;
        private bool _bounding;
        private float _squaredQuery;
        private float _twoQ;
        private float _eta;
        private float _threshold;

        public (int Nearest, int RunnerUp) Run(ReadOnlyMemory<float> matrix, int dim, ReadOnlySpan<float> query, ReadOnlyMemory<int> owner,
            Memory<float> distances, QuantizedRows shadow, KernelSet kernels, WorkerPool workers, ReadOnlyMemory<bool> skip)
        {
            int rows = matrix.Length / dim;
            if (_query.Length < dim)
            {
                _query = new float[dim];
                _query16 = new short[dim];
            }

            query.CopyTo(_query);
            (_matrix, _owner, _skip, _distances, _shadow, _kernels, _dim, _rows) = (matrix, owner, skip, distances, shadow, kernels, dim, rows);
            // Split as the float scan splits, and like it one chunk runs inline on the caller (where the shadow cannot be
            // used, this is that scan, step for step).
            _chunkRows = matrix.Length <= InlineValues ? Math.Max(rows, 1) : Math.Max(1, ChunkValues / dim);
            int chunks = (rows + _chunkRows - 1) / _chunkRows;
            if (_chunkTop.Length < 2 * chunks)
            {
                _chunkTop = new int[2 * chunks];
                _chunkBound = new float[2 * chunks];
            }

            try
            {
                _threshold = float.PositiveInfinity; // every row re-ranked: the full float scan
                if (rows > 0 && shadow.Covers(rows) && Prepare(query, shadow.Reach))
                {
                    _bounding = true;
                    RunChunks(workers, chunks);
                    _bounding = false;
                    var bounds = new TopTwoBounds();
                    var o = owner.Span;
                    for (int i = 0; i < 2 * chunks; i++)
                    {
                        if (_chunkTop[i] >= 0)
                        {
                            bounds.Offer(_chunkTop[i], _chunkBound[i], o[_chunkTop[i]]);
                        }
                    }

                    _threshold = bounds.Second >= 0 ? bounds.SecondValue : float.PositiveInfinity;
                }

                RunChunks(workers, chunks);
                return MergeChunks(_chunkTop.AsSpan(0, 2 * chunks), distances.Span, owner.Span);
            }
            finally
            {
                (_matrix, _owner, _skip, _distances, _shadow, _bounding) = (default, default, default, default, null, false); // hold no caller's arrays
            }
        }

        // One chunk on the calling thread (no hand-off, no pool lock); more on the workers.
        private void RunChunks(WorkerPool workers, int chunks)
        {
            if (chunks == 1)
            {
                Execute(0, 0);
            }
            else
            {
                workers.Run(this, chunks);
            }
        }

        // The query's figures for the bounds (see the derivation above); false where they cannot be trusted to be finite.
        private bool Prepare(ReadOnlySpan<float> query, float reach)
        {
            double squared = 0;
            foreach (float v in query)
            {
                squared += (double)v * v;
            }

            double norm = Math.Sqrt(squared) * (1 + (query.Length + 4) * Math.ScaleB(1, -50));
            if (!(norm + reach < 1e15) || query.Length > MaxShadowDim)
            {
                return false; // the bounds' derivation assumes finite figures below 10¹⁵ and dim ≤ 10⁵
            }

            double m = (reach + norm) * (reach + norm) * (1 + Math.ScaleB(1, -40));
            (_queryScale, double queryError) = QuantizeQuery(query, _query16);
            _squaredQuery = (float)squared;
            _twoQ = QuantizedRows.RoundUp(2 * norm);
            double underflow = (3.0 * query.Length + 16) * Math.ScaleB(1 + 2.0 * reach, -150);
            _eta = QuantizedRows.RoundUp((2.0 * query.Length + 64) * Math.ScaleB(m, -24) + 2 * underflow
                + 2 * reach * queryError * (1 + Math.ScaleB(1, -20)));
            return true;
        }

        public void Execute(int item, int worker)
        {
            int start = item * _chunkRows;
            int rows = Math.Min(_chunkRows, _rows - start);
            var all = _distances.Span;
            var distances = all.Slice(start, rows);
            var owner = _owner.Span;
            var skip = _skip.Span;
            var query = _query.AsSpan(0, _dim);
            if (_bounding)
            {
                var shadow = _shadow!;
                var dots = MemoryMarshal.Cast<float, int>(all); // the integer dots, each replaced by its row's lower bound
                _kernels.QuantizedDots(shadow.Codes.Slice(start * _dim, rows * _dim), _dim, _query16.AsSpan(0, _dim), dots.Slice(start, rows));
                var scales = shadow.Scales;
                var norms = shadow.SquaredNorms;
                var errors = shadow.Errors;
                var bounds = new TopTwoBounds();
                for (int r = start; r < start + rows; r++)
                {
                    float dot = (float)(_queryScale * dots[r]);
                    float approximate = (norms[r] + _squaredQuery) - 2f * (scales[r] * dot);
                    float slack = _twoQ * errors[r] + _eta;
                    all[r] = approximate - slack;
                    if (skip.IsEmpty || !skip[owner[r]])
                    {
                        bounds.Offer(r, approximate + slack, owner[r]);
                    }
                }

                _chunkTop[2 * item] = bounds.First;
                _chunkTop[2 * item + 1] = bounds.Second;
                _chunkBound[2 * item] = bounds.FirstValue;
                _chunkBound[2 * item + 1] = bounds.SecondValue;
                return;
            }

            bool everyRow = float.IsPositiveInfinity(_threshold);
            if (everyRow)
            {
                _kernels.SquaredDistances(_matrix.Span.Slice(start * _dim, rows * _dim), _dim, query, distances);
            }

            int best = -1, next = -1;
            var matrix = _matrix.Span;
            for (int r = start; r < start + rows; r++)
            {
                if ((skip.IsEmpty || !skip[owner[r]]) && (everyRow || all[r] <= _threshold))
                {
                    if (!everyRow)
                    {
                        _kernels.SquaredDistances(matrix.Slice(r * _dim, _dim), _dim, query, all.Slice(r, 1));
                    }

                    Consider(r, all, owner, ref best, ref next);
                }
            }

            _chunkTop[2 * item] = best;
            _chunkTop[2 * item + 1] = next;
        }
    }
}
