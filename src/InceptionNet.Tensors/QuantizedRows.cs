namespace InceptionNet.Tensors;

/// <summary>
/// An int8 shadow of float rows: per row, codes <c>c</c> and a scale <c>s</c> (<c>x̃ = s·c</c>, <c>s = max|x_j| / 127</c>),
/// the row's squared norm and a bound on its quantization error <c>‖x − x̃‖</c> rounded up. It lets
/// <see cref="VectorSearch.NearestTwo(ReadOnlyMemory{float}, int, ReadOnlySpan{float}, ReadOnlyMemory{int}, Memory{float}, QuantizedRows, KernelSet, WorkerPool, ReadOnlyMemory{bool})"/>
/// read a quarter of the bytes in a first pass and re-rank the few rows it cannot rule out with the float kernel, giving
/// exactly the answer of the full float scan.
/// </summary>
/// <remarks>
/// Memory: dim + 12 bytes a row of capacity (codes, scale, squared norm, error bound): 140 bytes for a 128-d row, whose
/// floats take 512, so the shadow adds 27 % (140 MB at a million rows). Rows are written once and never change; a row
/// that is not finite or too large for the bounds (a value of magnitude ≥ 10¹⁵ / dim) makes every search over it take the full float scan.
/// Versions of a growing gallery may share one shadow: <see cref="Set"/> writes a row no search of an older version
/// reads, and the two shared figures it may raise (<see cref="Reach"/>, the first unusable row) only ever move in the
/// direction that stays true for the older versions' rows.
/// </remarks>
public sealed class QuantizedRows
{
    /// <summary>
    /// Fewest rows for which a gallery keeps a shadow: 2¹² rows (2 MB of 128-d floats; the shadow adds 0.57 MB). With the
    /// integer first pass the shadow ties the float scan back to back from about 4 K rows and beats it 2–3× after the
    /// caches cooled (a server between requests); on an AVX2 core with 128-bit units (Zen 1) it is 2–5× faster from 8 K
    /// rows on. Measured with <c>--quick --search-rows</c> at 1 K to 32 K rows (bench/results/search.md); it was 2¹⁴
    /// while the first pass multiplied in float.
    /// </summary>
    public const int MinRows = 1 << 12;

    // Above this norm (of a row, or a row plus a query) the bounds' squares could overflow a float: such searches scan.
    private const double LargestNorm = 1e15;

    private readonly sbyte[] _codes;
    private readonly float[] _scales;
    private readonly float[] _squaredNorms;
    private readonly float[] _errors;
    private float _reach;
    private int _firstUnusable = int.MaxValue;

    /// <summary>The shadow of every row of <paramref name="matrix"/> ([rows, dim] row-major).</summary>
    public QuantizedRows(ReadOnlySpan<float> matrix, int dim)
        : this(dim, dim > 0 ? matrix.Length / dim : 0)
    {
        if (matrix.Length % dim != 0)
        {
            throw new ArgumentException($"A matrix of {matrix.Length} values does not hold {dim}-d rows.", nameof(matrix));
        }

        Fill(matrix, 0);
    }

    /// <summary>Room for <paramref name="capacity"/> rows of <paramref name="dim"/> values, none written yet.</summary>
    internal QuantizedRows(int dim, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Dim = dim;
        _codes = new sbyte[(long)capacity * dim];
        _scales = new float[capacity];
        _squaredNorms = new float[capacity];
        _errors = new float[capacity];
    }

    /// <summary>Values per row.</summary>
    public int Dim { get; }

    /// <summary>Rows this shadow has room for.</summary>
    public int Capacity => _scales.Length;

    /// <summary>An upper bound of <c>‖x‖ + ‖x − x̃‖</c> over the rows written (it bounds <c>‖x̃‖</c> too).</summary>
    internal float Reach => Volatile.Read(ref _reach);

    internal ReadOnlySpan<sbyte> Codes => _codes;

    internal ReadOnlySpan<float> Scales => _scales;

    internal ReadOnlySpan<float> SquaredNorms => _squaredNorms;

    internal ReadOnlySpan<float> Errors => _errors;

    /// <summary>Whether searches over rows [0, <paramref name="rows"/>) may use the shadow (all those rows finite and not too large).</summary>
    public bool Covers(int rows) => rows <= Volatile.Read(ref _firstUnusable) && rows <= Capacity;

    /// <summary>Writes rows [<paramref name="first"/>, …) from the rows of <paramref name="matrix"/> (as <see cref="Set"/> each).</summary>
    internal void Fill(ReadOnlySpan<float> matrix, int first)
    {
        CheckRows(matrix.Length, first);

        for (int r = 0; r < matrix.Length / Dim; r++)
        {
            Set(first + r, matrix.Slice(r * Dim, Dim));
        }
    }

    /// <summary>
    /// <see cref="Fill(ReadOnlySpan{float}, int)"/> on <paramref name="workers"/>, blocks of 8 K rows at a time (a million
    /// 128-d rows: 0.9 s on one Zen 5 core, 0.53 s on two).
    /// </summary>
    internal void Fill(ReadOnlyMemory<float> matrix, int first, WorkerPool workers)
    {
        ArgumentNullException.ThrowIfNull(workers);
        const int BlockRows = 8192;
        CheckRows(matrix.Length, first);
        int rows = matrix.Length / Dim;
        workers.For((rows + BlockRows - 1) / BlockRows, block =>
        {
            int start = block * BlockRows;
            Fill(matrix.Span.Slice(start * Dim, Math.Min(BlockRows, rows - start) * Dim), first + start);
        });
    }

    /// <summary>
    /// Quantizes <paramref name="row"/> into row <paramref name="r"/>, which no search may be reading (searches of rows
    /// below it may run meanwhile). Allocates nothing.
    /// </summary>
    internal void Set(int r, ReadOnlySpan<float> row)
    {
        if (row.Length != Dim || (uint)r >= (uint)Capacity)
        {
            throw new ArgumentException($"Row {r} of {row.Length} values does not fit a shadow of {Capacity} rows of {Dim}.", nameof(row));
        }

        var codes = _codes.AsSpan(r * Dim, Dim);
        float largest = 0f;
        foreach (float v in row)
        {
            largest = float.IsFinite(v) ? MathF.Max(largest, MathF.Abs(v)) : float.PositiveInfinity;
        }

        if (!(largest < LargestNorm / Dim))
        {
            codes.Clear();
            (_scales[r], _squaredNorms[r], _errors[r]) = (0f, 0f, 0f);
            MarkUnusable(r);
            return;
        }

        // Any scale and codes do: the error is measured from them. s·c is exact in double (24 × 8 bits), so ‖x − x̃‖² and
        // ‖x‖² carry only double rounding, at most (dim + 2)·2⁻⁵³ relative, which the factor below more than covers.
        float scale = largest / 127f;
        double error = 0, norm = 0;
        for (int j = 0; j < Dim; j++)
        {
            int code = scale == 0f ? 0 : (int)Math.Clamp(MathF.Round(row[j] / scale), -127f, 127f);
            codes[j] = (sbyte)code;
            double e = row[j] - (double)scale * code;
            error += e * e;
            norm += (double)row[j] * row[j];
        }

        double slack = 1 + (Dim + 4) * Math.ScaleB(1, -50);
        double errorBound = Math.Sqrt(error) * slack;
        _scales[r] = scale;
        _squaredNorms[r] = (float)norm;
        _errors[r] = RoundUp(errorBound);
        float reach = RoundUp((Math.Sqrt(norm) + errorBound) * slack);
        for (float seen = Reach; reach > seen; seen = Reach)
        {
            if (Interlocked.CompareExchange(ref _reach, reach, seen) == seen)
            {
                break;
            }
        }
    }

    /// <summary>A shadow of <paramref name="capacity"/> rows holding this one's first <paramref name="rows"/> (the same values).</summary>
    internal QuantizedRows CopyRows(int rows, int capacity)
    {
        if ((uint)rows > (uint)Capacity || rows > capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"Cannot copy {rows} rows of a shadow of {Capacity} into one of {capacity}.");
        }

        var copy = new QuantizedRows(Dim, capacity);
        Array.Copy(_codes, copy._codes, (long)rows * Dim);
        Array.Copy(_scales, copy._scales, rows);
        Array.Copy(_squaredNorms, copy._squaredNorms, rows);
        Array.Copy(_errors, copy._errors, rows);
        copy._reach = Reach; // may bound rows past `rows` too: still a bound
        int unusable = Volatile.Read(ref _firstUnusable);
        copy._firstUnusable = unusable < rows ? unusable : int.MaxValue;
        return copy;
    }

    /// <summary>The smallest float not below <paramref name="value"/>.</summary>
    internal static float RoundUp(double value)
    {
        float f = (float)value;
        return f < value ? MathF.BitIncrement(f) : f;
    }

    private void CheckRows(int values, int first)
    {
        if (values % Dim != 0 || first < 0 || first + values / Dim > Capacity)
        {
            throw new ArgumentException($"{values} values from row {first} do not fit a shadow of {Capacity} rows of {Dim}.", nameof(values));
        }
    }

    private void MarkUnusable(int r)
    {
        for (int seen = Volatile.Read(ref _firstUnusable); r < seen; seen = Volatile.Read(ref _firstUnusable))
        {
            if (Interlocked.CompareExchange(ref _firstUnusable, r, seen) == seen)
            {
                break;
            }
        }
    }
}
