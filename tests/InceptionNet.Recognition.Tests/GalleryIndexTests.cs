using InceptionNet.Recognition;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Recognition.Tests;

public sealed class GalleryIndexTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(20_000, 9)]   // several work chunks, identities spread over them
    [InlineData(20_000, 20_000)]
    public void Top_two_agrees_with_the_full_per_identity_ranking(int rows, int identities)
    {
        const int dim = 17;
        var vectors = TestData.Uniform(rows * dim, rows);
        var owner = Enumerable.Range(0, rows).Select(r => (r * 7919) % identities).ToArray();
        var names = Enumerable.Range(0, identities).Select(i => $"p{i}").ToArray();
        foreach (var level in Simd.Supported)
        {
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
    }
}
