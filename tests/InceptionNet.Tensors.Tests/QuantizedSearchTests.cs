using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// The search through an int8 shadow against the full float scan, bit for bit, on random and adversarial rows (its kernel,
/// <c>QuantizedDots</c>, is tested with the other kernels in <see cref="KernelSetTests"/>).
/// </summary>
public sealed class QuantizedSearchTests
{
    [Fact]
    public void Shadow_error_bounds_cover_the_quantization_error()
    {
        const int dim = 33;
        var rows = TestData.Uniform(50 * dim, 93);
        rows.AsSpan(0, dim).Clear(); // a zero row: zero scale, zero error
        var shadow = new QuantizedRows(rows, dim);
        for (int r = 0; r < 50; r++)
        {
            double error = 0;
            for (int j = 0; j < dim; j++)
            {
                double e = rows[r * dim + j] - (double)shadow.Scales[r] * shadow.Codes[r * dim + j];
                error += e * e;
            }

            Assert.True(shadow.Errors[r] >= Math.Sqrt(error));
        }

        Assert.Equal(0f, shadow.Errors[0]);
        Assert.True(shadow.Covers(50));
    }

    public static TheoryData<string, int> Queries => new()
    {
        { "unit", 128 }, { "unit", 1 }, { "unit", 7 }, { "unit", 512 }, { "unit", 513 }, { "unit", 20_000 }, { "unit", 100_000 },
        { "one value", 128 }, { "zero", 128 }, { "subnormal", 128 }, { "huge", 128 }, { "powers of two", 33 }, { "halfway", 16 },
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public void The_query_in_16_bits_keeps_every_dot_exact_and_its_error_bound_holds(string name, int dim)
    {
        var query = UnitRows(1, dim, 141);
        switch (name)
        {
            case "one value": Array.Clear(query); query[5] = -0.3f; break;
            case "zero": Array.Clear(query); break;
            case "subnormal": for (int j = 0; j < dim; j++) { query[j] *= 1e-39f; } break;
            case "huge": for (int j = 0; j < dim; j++) { query[j] *= 1e30f; } break;
            case "powers of two": for (int j = 0; j < dim; j++) { query[j] = MathF.ScaleB(j % 2 == 0 ? 1 : -1, j - 20); } break;
            case "halfway": // σ = 2⁻²⁰ from the first value; the others halfway between two codes
                for (int j = 0; j < dim; j++) { query[j] = (j == 0 ? 32767f : j + 0.5f) * MathF.ScaleB(1, -20); }
                break;
        }

        var codes = Enumerable.Repeat((short)7, dim).ToArray();
        var (scale, error) = VectorSearch.QuantizeQuery(query, codes);
        int limit = (int)Math.Min(short.MaxValue, int.MaxValue / (128L * dim));
        int largest = codes.Max(c => Math.Abs((int)c));
        Assert.InRange(largest, 0, limit);
        Assert.True(128L * dim * largest <= int.MaxValue); // every dot with int8 codes fits 32 bits
        if (name == "zero")
        {
            Assert.Equal((1.0, 0.0), (scale, error));
            Assert.All(codes, c => Assert.Equal(0, c));
            return;
        }

        Assert.Equal(scale, Math.ScaleB(1.0, Math.ILogB(scale))); // a power of two: σ·code is exact
        Assert.True(query.Max(v => Math.Abs((double)v)) / (scale / 2) > limit); // the finest such σ
        // Each code is the nearest integer to q / σ, and Δ bounds ‖q − σ·codes‖ computed exactly (in integers).
        var (exact, exponent) = ExactSquaredError(query, codes, scale);
        for (int j = 0; j < dim; j++)
        {
            Assert.InRange(Math.Abs(query[j] / scale - codes[j]), 0, 0.5);
        }

        var (m, e) = Exact(error);
        // Δ² ≥ exact·2^exponent  ⇔  m²·2^(2e − exponent) ≥ exact
        int shift = 2 * e - exponent;
        var left = shift >= 0 ? m * m << shift : m * m;
        var right = shift >= 0 ? exact : exact << -shift;
        Assert.True(left >= right, $"Δ = {error} below the exact error");
        double root = Math.ScaleB(Math.Sqrt((double)exact), exponent / 2); // exponent is even
        Assert.True(error <= root * (1 + 1e-9), $"Δ = {error} against {root}: a loose bound");
    }

    // Σ_j (q_j − σ·c_j)² = result·2^exponent, exactly.
    private static (System.Numerics.BigInteger Value, int Exponent) ExactSquaredError(float[] query, short[] codes, double scale)
    {
        var terms = query.Select((q, j) => (Q: Exact(q), C: (System.Numerics.BigInteger)codes[j])).ToArray();
        int sigma = Math.ILogB(scale);
        int lowest = Math.Min(sigma, terms.Where(t => !t.Q.Mantissa.IsZero).Select(t => t.Q.Exponent).DefaultIfEmpty(sigma).Min());
        System.Numerics.BigInteger sum = 0;
        foreach (var (q, c) in terms)
        {
            var d = (q.Mantissa << (q.Exponent - lowest)) - (c << (sigma - lowest));
            sum += d * d;
        }

        return (sum, 2 * lowest);
    }

    // v = mantissa·2^exponent exactly (v finite).
    private static (System.Numerics.BigInteger Mantissa, int Exponent) Exact(double v)
    {
        long bits = BitConverter.DoubleToInt64Bits(v);
        int biased = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & ((1L << 52) - 1);
        mantissa = biased == 0 ? mantissa : mantissa | (1L << 52);
        int exponent = (biased == 0 ? 1 : biased) - 1075;
        return (bits < 0 ? -mantissa : mantissa, exponent);
    }

    [Fact]
    public void A_shadow_filled_on_the_workers_is_the_one_filled_row_by_row()
    {
        const int dim = 20, rows = 20_001;
        var matrix = UnitRows(rows, dim, 94);
        matrix[15_000 * dim + 3] = float.NaN;
        var serial = new QuantizedRows(matrix, dim);
        var parallel = new QuantizedRows(dim, rows + 5);
        using var workers = new WorkerPool(3);
        parallel.Fill(matrix, 0, workers);
        Assert.Equal(serial.Codes.ToArray(), parallel.Codes[..(rows * dim)].ToArray());
        Assert.Equal(serial.Scales.ToArray(), parallel.Scales[..rows].ToArray());
        Assert.Equal(serial.SquaredNorms.ToArray(), parallel.SquaredNorms[..rows].ToArray());
        Assert.Equal(serial.Errors.ToArray(), parallel.Errors[..rows].ToArray());
        Assert.Equal(serial.Reach, parallel.Reach);
        Assert.True(parallel.Covers(15_000) && !parallel.Covers(15_001));
        Assert.Throws<ArgumentException>(() => parallel.Fill(matrix, 6, workers));
    }

    public static IEnumerable<object[]> RandomShapes => SimdLevels.Cross(
        from shape in new (int Dim, int Rows)[]
        {
            (128, 1), (128, 2), (128, 3), (128, 77), (128, 4095), (128, 4096), (128, 4097), (128, VectorSearch.InlineValues / 128),
            (128, VectorSearch.InlineValues / 128 + 1), (128, QuantizedRows.MinRows - 1), (128, QuantizedRows.MinRows + 3), (33, 3 * (VectorSearch.ChunkValues / 33) + 5),
            (1, 1000), (7, 20_001), (5000, 300), // the last: a 16-bit query limited to ±3355 (σ coarser, Δ larger)
        }
        select new object[] { shape.Dim, shape.Rows });

    [SkippableTheory]
    [MemberData(nameof(RandomShapes))]
    public void Random_unit_rows_give_the_full_scans_answers(int dim, int rows, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var matrix = UnitRows(rows, dim, 101);
        var random = new Random(102);
        var owner = Enumerable.Range(0, rows).Select(_ => random.Next(Math.Max(2, rows / 3))).ToArray();
        AssertFullScan(matrix, dim, UnitRows(1, dim, 103), owner, level);
        AssertFullScan(matrix, dim, matrix.AsSpan((rows / 2) * dim, dim).ToArray(), owner, level); // a query that is a row
    }

    public static IEnumerable<object[]> AdversarialCases => SimdLevels.Cross(
        from name in new[] { "duplicates", "ties", "within the error", "zero rows", "one owner", "two owners, copies of the query", "tiny values", "scaled", "on the int8 grid" }
        from rows in new[] { 5, 4097, 20_000 }
        select new object[] { name, rows });

    [SkippableTheory]
    [MemberData(nameof(AdversarialCases))]
    public void Adversarial_rows_give_the_full_scans_answers(string name, int rows, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        const int dim = 128;
        var (matrix, owner, query) = Adversarial(name, rows, dim);
        AssertFullScan(matrix, dim, query, owner, level);
    }

    [SkippableTheory]
    [MemberData(nameof(SimdLevels.All), MemberType = typeof(SimdLevels))]
    public void Lower_bounds_hold_when_the_querys_rounding_points_along_a_row(SimdLevel level)
    {
        // The query's 16-bit rounding δ = q − σ·q̃ lined up with a row on the int8 grid (ε = 0, so the slack is η alone):
        // the first pass then overestimates that row's distance by 2⟨x, δ⟩ ≈ 2.4·10⁻⁴, more than η's other terms
        // (≈ 7·10⁻⁵ here), and only the 2RΔ term keeps its lower bound below its distance. Two copies of the query under
        // two owners keep the row out of the re-rank, so what the search leaves for it is that lower bound.
        SimdLevels.SkipIfUnavailable(level);
        const int dim = 128;
        float sigma = MathF.ScaleB(1, -16);
        var query = new float[dim];
        query[0] = (32000 + 0.49f) * sigma; // max |q| in (0.25, 0.5]: σ = 2⁻¹⁶
        for (int j = 1; j < dim; j++)
        {
            query[j] = (j % 3 == 0 ? -0.49f : 0.49f) * sigma; // codes 0, all of it rounding error
        }

        var codes = new short[dim];
        var (scale, error) = VectorSearch.QuantizeQuery(query, codes);
        Assert.Equal(sigma, scale);
        float a = 127 * MathF.ScaleB(1, -10); // codes ±127 at scale 2⁻¹⁰ exactly: ε = 0
        var row = query.Select((q, j) => a * MathF.Sign(q - (float)(scale * codes[j]))).ToArray(); // ±a along δ
        var matrix = row.Concat(query).Concat(query).Concat(UnitRows(50, dim, 151)).ToArray();
        int rows = matrix.Length / dim;
        var shadow = new QuantizedRows(matrix, dim);
        Assert.Equal(0f, shadow.Errors[0]); // on the grid
        var owner = Enumerable.Range(0, rows).Select(r => r == 2 ? 1 : 0).ToArray();
        var kernels = KernelSet.For(level);
        using var workers = new WorkerPool(2);
        var full = new float[rows];
        var expected = VectorSearch.NearestTwo(matrix, dim, query, owner, full, kernels, workers);
        var bounds = new float[rows];
        Assert.Equal(expected, VectorSearch.NearestTwo(matrix, dim, query, owner, bounds, shadow, kernels, workers));
        Assert.True(error * 2 > 1e-4); // the term at stake is as large as the overestimate
        for (int r = 0; r < rows; r++)
        {
            Assert.True(bounds[r] <= full[r], $"row {r}: lower bound {bounds[r]} above the distance {full[r]}");
        }

        Assert.NotEqual(full[0], bounds[0]); // row 0 was not re-ranked: its bound was checked
    }

    [Fact]
    public void Rows_or_queries_the_bounds_cannot_hold_take_the_full_scan()
    {
        const int dim = 16, rows = 3000;
        var matrix = UnitRows(rows, dim, 111);
        var owner = Enumerable.Range(0, rows).Select(r => r % 7).ToArray();
        var query = UnitRows(1, dim, 112);
        AssertFullScan(matrix, dim, [.. query.Select((v, j) => j == 3 ? float.NaN : v)], owner, Simd.Best);
        // Two huge rows (norm 10¹⁸, past the bounds' 10¹⁵) near a huge query, among unit rows: the one nearer wins.
        var huge = matrix.ToArray();
        float[] far = [.. query.Select(v => v * 1e18f)];
        for (int j = 0; j < dim; j++)
        {
            huge[1234 * dim + j] = far[j] * (1 + 1e-6f);
            huge[2001 * dim + j] = far[j] * (1 - 3e-6f);
        }

        AssertFullScan(huge, dim, far, owner, Simd.Best);
        matrix[1000 * dim + 5] = float.PositiveInfinity;
        var shadow = new QuantizedRows(matrix, dim);
        Assert.True(shadow.Covers(1000));
        Assert.False(shadow.Covers(1001));
        AssertFullScan(matrix, dim, query, owner, Simd.Best);
    }

    [Fact]
    public void Skipped_owners_are_as_if_their_rows_were_absent()
    {
        const int dim = 128, rows = 5000;
        var (matrix, owner, query) = Adversarial("two owners, copies of the query", rows, dim);
        for (int r = 0; r < rows; r++)
        {
            owner[r] = r % 5;
        }

        using var workers = new WorkerPool(2);
        var kernels = KernelSet.Default;
        bool[] skip = [true, false, false, true, false];
        var keep = Enumerable.Range(0, rows).Where(r => !skip[owner[r]]).ToArray();
        var kept = keep.SelectMany(r => matrix.AsSpan(r * dim, dim).ToArray()).ToArray();
        var expected = VectorSearch.NearestTwo(kept, dim, query, keep.Select(r => owner[r]).ToArray(), new float[keep.Length], kernels, workers);
        var actual = VectorSearch.NearestTwo(matrix, dim, query, owner, new float[rows], new QuantizedRows(matrix, dim), kernels, workers, skip);
        Assert.Equal((keep[expected.Nearest], keep[expected.RunnerUp]), actual);
    }

    [Fact]
    public void A_warm_search_through_a_shadow_allocates_nothing()
    {
        const int dim = 128, rows = 40_000;
        using var workers = new WorkerPool(2);
        var matrix = UnitRows(rows, dim, 121);
        var shadow = new QuantizedRows(matrix, dim);
        var owner = Enumerable.Range(0, rows).ToArray();
        var query = UnitRows(1, dim, 122);
        var distances = new float[rows];
        VectorSearch.NearestTwo(matrix, dim, query, owner, distances, shadow, KernelSet.Default, workers);
        long fewest = long.MaxValue; // as VectorSearchTests: a one-off allocation beside the test run is not the search's
        for (int round = 0; round < 3 && fewest != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            VectorSearch.NearestTwo(matrix, dim, query, owner, distances, shadow, KernelSet.Default, workers);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
    }

    [Fact]
    public void A_shadow_of_other_rows_or_too_few_is_refused()
    {
        var matrix = new float[12];
        Assert.Throws<ArgumentException>(() => VectorSearch.NearestTwo(matrix, 3, new float[3], new int[4], new float[4], new QuantizedRows(new float[9], 3),
            KernelSet.Default, WorkerPool.Shared));
        Assert.Throws<ArgumentException>(() => VectorSearch.NearestTwo(matrix, 3, new float[3], new int[4], new float[4], new QuantizedRows(new float[16], 4),
            KernelSet.Default, WorkerPool.Shared));
    }

    // The shadowed search against the full float scan at one level: the same two rows and, at them, the same bits.
    internal static void AssertFullScan(float[] matrix, int dim, float[] query, int[] owner, SimdLevel level)
    {
        var kernels = KernelSet.For(level);
        using var workers = new WorkerPool(3);
        int rows = matrix.Length / dim;
        var full = new float[rows];
        var expected = VectorSearch.NearestTwo(matrix, dim, query, owner, full, kernels, workers);
        var distances = Enumerable.Repeat(float.NaN, rows).ToArray();
        var actual = VectorSearch.NearestTwo(matrix, dim, query, owner, distances, new QuantizedRows(matrix, dim), kernels, workers);
        Assert.Equal(expected, actual);
        foreach (int r in new[] { actual.Nearest, actual.RunnerUp }.Where(r => r >= 0))
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(full[r]), BitConverter.SingleToInt32Bits(distances[r]));
        }
    }

    internal static (float[] Matrix, int[] Owner, float[] Query) Adversarial(string name, int rows, int dim)
    {
        var matrix = UnitRows(rows, dim, 131);
        var owner = Enumerable.Range(0, rows).ToArray();
        var query = UnitRows(1, dim, 132);
        var random = new Random(133);
        switch (name)
        {
            case "duplicates":
                // Copies of a few rows everywhere, under their own and other owners; the query near one of them.
                for (int r = 3; r < rows; r++)
                {
                    int from = r % 3;
                    matrix.AsSpan(from * dim, dim).CopyTo(matrix.AsSpan(r * dim, dim));
                    owner[r] = random.Next(4);
                }

                query = matrix[..dim];
                query[0] += 1e-3f;
                break;
            case "ties":
                // Every row is ±e_j (or 0): many exact ties in float, across owners, the query between them.
                matrix.AsSpan().Clear();
                for (int r = 0; r < rows; r++)
                {
                    if (r % 11 != 0)
                    {
                        matrix[r * dim + r % 7] = r % 2 == 0 ? 1f : -1f;
                    }

                    owner[r] = r % 5;
                }

                query = new float[dim];
                query[0] = query[1] = 0.5f;
                break;
            case "within the error":
                // Rows a few 1e-5 apart, far below the int8 error (~1e-2): the first pass cannot separate them.
                for (int r = 0; r < rows; r++)
                {
                    for (int j = 0; j < dim; j++)
                    {
                        matrix[r * dim + j] = matrix[j] + (float)((random.NextDouble() - 0.5) * 4e-5);
                    }

                    owner[r] = r % 3;
                }

                query = matrix[((rows / 2) * dim)..((rows / 2 + 1) * dim)];
                break;
            case "zero rows":
                for (int r = 0; r < rows; r += 2)
                {
                    matrix.AsSpan(r * dim, dim).Clear();
                }

                query = new float[dim]; // also a zero query: every zero row ties at 0
                if (rows > 4)
                {
                    query = matrix[dim..(2 * dim)];
                }

                break;
            case "one owner":
                owner.AsSpan().Fill(7);
                break;
            case "two owners, copies of the query":
                for (int r = 0; r < rows; r++)
                {
                    owner[r] = r % 2;
                }

                foreach (int r in new[] { rows - 1, rows / 2, 1 })
                {
                    query.CopyTo(matrix.AsSpan(r * dim, dim));
                }

                break;
            case "tiny values":
                // Subnormal products: the bounds' absolute term must cover underflow.
                for (int i = 0; i < matrix.Length; i++)
                {
                    matrix[i] *= 1e-37f;
                }

                for (int j = 0; j < dim; j++)
                {
                    query[j] = matrix[dim + j];
                }

                break;
            case "on the int8 grid":
                // Rows whose codes are exact (every value a multiple of 2⁻⁷, one of them ±127·2⁻⁷: no quantization error),
                // all permutations of one row, and a query of near-equal values: distances tie to within float rounding,
                // so only the bounds' rounding margin keeps the nearest among the candidates.
                var values = Enumerable.Range(0, dim).Select(j => j == 0 ? 127 : random.Next(-127, 128)).ToArray();
                for (int r = 0; r < rows; r++)
                {
                    random.Shuffle(values);
                    for (int j = 0; j < dim; j++)
                    {
                        matrix[r * dim + j] = values[j] / 128f;
                    }

                    owner[r] = r % 3;
                }

                for (int j = 0; j < dim; j++)
                {
                    query[j] = 0.25f * (1 + (float)((random.NextDouble() - 0.5) * 1e-6));
                }

                break;
            default: // "scaled": rows of very different norms, as unnormalized descriptors
                for (int r = 0; r < rows; r++)
                {
                    float scale = (float)Math.Pow(10, random.Next(-3, 4));
                    for (int j = 0; j < dim; j++)
                    {
                        matrix[r * dim + j] *= scale;
                    }

                    owner[r] = r % 4;
                }

                break;
        }

        return (matrix, owner, query);
    }

    internal static float[] UnitRows(int rows, int dim, int seed)
    {
        var matrix = TestData.Uniform(rows * dim, seed);
        for (int r = 0; r < rows; r++)
        {
            var row = matrix.AsSpan(r * dim, dim);
            double norm = 0;
            foreach (float v in row)
            {
                norm += v * v;
            }

            for (int j = 0; j < dim; j++)
            {
                row[j] = (float)(row[j] / Math.Sqrt(norm));
            }
        }

        return matrix;
    }
}
