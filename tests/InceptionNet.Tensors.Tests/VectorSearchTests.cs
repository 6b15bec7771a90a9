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

    [Fact]
    public void Shape_mismatches_are_refused() =>
        Assert.Throws<ArgumentException>(() => VectorSearch.SquaredDistances(new float[10], 3, new float[3], new float[4], KernelSet.Default));
}
