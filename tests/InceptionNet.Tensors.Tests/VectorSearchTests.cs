using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

public sealed class VectorSearchTests
{
    public static IEnumerable<object[]> Dimensions => SimdLevels.CrossValues(0, 1, 3, 7, 15, 16, 17, 31, 33, 127, 128, 1000);

    [SkippableTheory]
    [MemberData(nameof(Dimensions))]
    public void Squared_distances_agree_with_the_scalar_reference_at_every_level(int dim, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        const int rows = 37;
        var matrix = TestData.Uniform(rows * dim, 31);
        var query = TestData.Uniform(dim, 32);
        var expected = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            expected[r] = VectorSearch.SquaredScalar(matrix.AsSpan(r * dim, dim), query);
        }

        var actual = new float[rows];
        VectorSearch.SquaredDistances(matrix, dim, query, actual, KernelSet.For(level));
        // Lane-wise partial sums change the rounding order: relative error of a few float ulps per term.
        for (int r = 0; r < rows; r++)
        {
            Assert.InRange(Math.Abs(actual[r] - expected[r]), 0, 1e-5 * Math.Max(1, expected[r]));
        }
    }

    public static IEnumerable<object[]> RowBlocks => SimdLevels.Cross(
        from dim in new[] { 1, 3, 7, 15, 16, 17, 33, 128, 129 }
        from rows in new[] { 0, 1, 3, 4, 5, 7, 9 }
        select new object[] { dim, rows });

    [SkippableTheory]
    [MemberData(nameof(RowBlocks))]
    public void Rows_scanned_four_at_a_time_are_bit_identical_to_each_row_scanned_alone(int dim, int rows, SimdLevel level)
    {
        // Ranking and tie-breaking rest on the float distances: the row-blocked loop must not move a single bit.
        SimdLevels.SkipIfUnavailable(level);
        var kernels = KernelSet.For(level);
        var matrix = TestData.Uniform(rows * dim, 51);
        var query = TestData.Uniform(dim, 52);
        var all = new float[rows];
        kernels.SquaredDistances(matrix, dim, query, all);
        var alone = new float[1];
        for (int r = 0; r < rows; r++)
        {
            kernels.SquaredDistances(matrix.AsSpan(r * dim, dim), dim, query, alone);
            Assert.Equal(BitConverter.SingleToInt32Bits(alone[0]), BitConverter.SingleToInt32Bits(all[r]));
        }
    }

    // Around the inline limit and over several chunks, with a last chunk that is short (dims that do not divide the chunk).
    public static IEnumerable<object[]> ParallelShapes => SimdLevels.Cross(
        from shape in new (int Dim, int Rows)[] { (128, 0), (128, 1), (128, 77), (257, VectorSearch.InlineValues / 257), (257, VectorSearch.InlineValues / 257 + 1),
            (33, 3 * (VectorSearch.ChunkValues / 33) + 5), (128, 2 * VectorSearch.InlineValues / 128 + 3) }
        select new object[] { shape.Dim, shape.Rows });

    [SkippableTheory]
    [MemberData(nameof(ParallelShapes))]
    public void Distances_on_the_workers_are_bit_identical_to_one_call_on_the_caller(int dim, int rows, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var kernels = KernelSet.For(level);
        using var workers = new WorkerPool(3);
        var matrix = TestData.Uniform(rows * dim, 61);
        var query = TestData.Uniform(dim, 62);
        var expected = new float[rows];
        VectorSearch.SquaredDistances(matrix, dim, query, expected, kernels);
        var actual = Enumerable.Repeat(float.NaN, rows + 2).ToArray(); // longer than needed: the rest is left alone
        VectorSearch.SquaredDistances(matrix, dim, query, actual, kernels, workers);
        Assert.Equal(expected, actual[..rows]);
        Assert.True(float.IsNaN(actual[rows]) && float.IsNaN(actual[rows + 1]));
    }

    [SkippableTheory]
    [MemberData(nameof(ParallelShapes))]
    public void Nearest_two_are_the_first_nearest_row_and_the_first_nearest_row_of_another_owner(int dim, int rows, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var kernels = KernelSet.For(level);
        using var workers = new WorkerPool(3);
        var matrix = TestData.Uniform(rows * dim, 71);
        var random = new Random(73);
        var owner = Enumerable.Range(0, rows).Select(_ => random.Next(5)).ToArray(); // few owners: runs of one owner, many repeats
        // Exact ties at distance 0, within a chunk, across chunks and across the inline limit: the query is row 0, and
        // copies of it sit under the same and other owners.
        var query = rows > 0 ? matrix[..dim] : TestData.Uniform(dim, 72);
        int chunkRows = VectorSearch.ChunkValues / dim;
        foreach (int copy in new[] { 1, 2, chunkRows - 1, chunkRows, chunkRows + 1, 2 * chunkRows + 7, rows - 1 }.Where(c => c > 0 && c < rows).Distinct())
        {
            matrix.AsSpan(0, dim).CopyTo(matrix.AsSpan(copy * dim, dim));
        }

        var distances = new float[rows];
        var (nearest, runnerUp) = VectorSearch.NearestTwo(matrix, dim, query, owner, distances, kernels, workers);

        // The definition, in one pass per answer: the lowest row of the smallest distance; then the same among the rows of
        // other owners. Distances from the single-call kernel (bit-identical, tested above).
        var d = new float[rows];
        VectorSearch.SquaredDistances(matrix, dim, query, d, kernels);
        int expectedNearest = -1, expectedRunnerUp = -1;
        for (int r = 0; r < rows; r++)
        {
            expectedNearest = expectedNearest < 0 || d[r] < d[expectedNearest] ? r : expectedNearest;
        }

        for (int r = 0; r < rows; r++)
        {
            if (owner[r] != owner[expectedNearest] && (expectedRunnerUp < 0 || d[r] < d[expectedRunnerUp]))
            {
                expectedRunnerUp = r;
            }
        }

        Assert.Equal((expectedNearest, expectedRunnerUp), (nearest, runnerUp));
        Assert.Equal(d, distances);
    }

    [Fact]
    public void Ties_go_to_the_lower_row_for_both_answers_even_when_the_nearest_arrives_later()
    {
        // Rows: 0 (owner 7, d 4), 1 (owner 8, d 1), 2 (owner 9, d 4), 3 (owner 8, d 1), 4 (owner 9, d 0.25 → nearest).
        // Nearest: row 4. Runner-up among owners ≠ 9: rows 1 and 3 tie at 1 and the lower wins; a pass that let a tie
        // displace the nearest would answer 3.
        float[] matrix = [2, 1, 2, 1, 0.5f];
        int[] owner = [7, 8, 9, 8, 9];
        using var workers = new WorkerPool(2);
        Assert.Equal((4, 1), VectorSearch.NearestTwo(matrix, 1, [0f], owner, new float[5], KernelSet.Default, workers));
        Assert.Equal((-1, -1), VectorSearch.NearestTwo(Array.Empty<float>(), 1, [0f], Array.Empty<int>(), Array.Empty<float>(), KernelSet.Default, workers));
        Assert.Equal((0, -1), VectorSearch.NearestTwo(new float[] { 3 }, 1, [0f], new[] { 1 }, new float[1], KernelSet.Default, workers));
    }

    [Theory]
    [InlineData(1_000)]      // inline on the caller
    [InlineData(40_000)]     // chunks on the workers
    public void A_warm_search_allocates_nothing(int rows)
    {
        const int dim = 128;
        using var workers = new WorkerPool(2);
        var matrix = TestData.Uniform(rows * dim, 81);
        var query = TestData.Uniform(dim, 82);
        var owner = new int[rows];
        var distances = new float[rows];
        VectorSearch.NearestTwo(matrix, dim, query, owner, distances, KernelSet.Default, workers);
        VectorSearch.SquaredDistances(matrix, dim, query, distances, KernelSet.Default, workers);
        // Three measured rounds; the fewest bytes any of them allocated must be zero. An allocation of the search itself
        // shows in every round. Inside the whole test run (other classes in parallel) the chunked case saw a one-off
        // ~8 KB on the calling thread about once in ten runs, never alone, with tiered compilation off as well, and never
        // in a standalone loop of 300 pools (with or without a thread allocating beside it): not the search's.
        long fewest = long.MaxValue;
        for (int round = 0; round < 3 && fewest != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            VectorSearch.NearestTwo(matrix, dim, query, owner, distances, KernelSet.Default, workers);
            VectorSearch.SquaredDistances(matrix, dim, query, distances, KernelSet.Default, workers);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
    }

    [Fact]
    public void Shape_mismatches_are_refused() =>
        Assert.Throws<ArgumentException>(() => VectorSearch.SquaredDistances(new float[10], 3, new float[3], new float[4], KernelSet.Default));

    [Fact]
    public void Nearest_two_refuse_too_few_owners() =>
        Assert.Throws<ArgumentException>(() => VectorSearch.NearestTwo(new float[6], 3, new float[3], new int[1], new float[2], KernelSet.Default, WorkerPool.Shared));
}
