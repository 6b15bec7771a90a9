using InceptionNet.Recognition;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Recognition.Tests;

public sealed class GalleryIndexTests
{
    public static IEnumerable<object[]> Sizes => SimdLevels.Cross(
    [
        [1, 1],
        [7, 3],
        [20_000, 9], // several work chunks, identities spread over them
        [20_000, 20_000],
    ]);

    [SkippableTheory]
    [MemberData(nameof(Sizes))]
    public void Top_two_agrees_with_the_full_per_identity_ranking(int rows, int identities, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        const int dim = 17;
        var vectors = TestData.Uniform(rows * dim, rows);
        var owner = Enumerable.Range(0, rows).Select(r => (r * 7919) % identities).ToArray();
        var names = Enumerable.Range(0, identities).Select(i => $"p{i}").ToArray();
        var index = new GalleryIndex(vectors, owner, names, dim) { Level = level };
        for (int q = 0; q < 3; q++)
        {
            var query = TestData.Uniform(dim, 1000 + q);
            var ranking = index.DistancesByIdentity(query, IdentityRule.Closest);
            var (best, second) = index.TopTwo(query);
            Assert.Equal(ranking[0].Name, best!.Value.Name);
            Assert.Equal(ranking[0].Distance, best.Value.Distance, 12);
            if (identities > 1)
            {
                Assert.Equal(ranking[1].Name, second!.Value.Name);
                Assert.Equal(ranking[1].Distance, second.Value.Distance, 12);
            }
            else
            {
                Assert.Null(second);
            }
        }
    }

    [Fact]
    public void Mean_distance_rule_averages_distances_and_unnormalized_means_stay_unnormalized()
    {
        // face-api descriptors are not unit vectors: "a" has photos at (2, 0) and (0, 2); "b" one at (3, 3).
        float[] vectors = [2, 0, 0, 2, 3, 3];
        var index = new GalleryIndex(vectors, [0, 0, 1], ["a", "b"], 2);
        float[] query = [1, 1];
        var meanDistance = index.DistancesByIdentity(query, IdentityRule.MeanDistance).ToDictionary(d => d.Name, d => d.Distance);
        Assert.Equal(Math.Sqrt(2), meanDistance["a"], 12); // both photos at √2
        Assert.Equal(Math.Sqrt(8), meanDistance["b"], 12);
        // The centroid of "a" is (1, 1) — not re-normalized, since the stored vectors are not unit length.
        var mean = index.DistancesByIdentity(query, IdentityRule.Mean).ToDictionary(d => d.Name, d => d.Distance);
        Assert.Equal(0, mean["a"], 12);
    }
}
