using InceptionNet.Recognition;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

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
        var index = new GalleryIndex(vectors, owner, names, dim) { Kernels = KernelSet.For(level) };
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
        var index = new GalleryIndex(vectors, [0, 0, 1], ["a", "b"], 2, unitVectors: false); // said by the model, not guessed from norms
        float[] query = [1, 1];
        var meanDistance = index.DistancesByIdentity(query, IdentityRule.MeanDistance).ToDictionary(d => d.Name, d => d.Distance);
        Assert.Equal(Math.Sqrt(2), meanDistance["a"], 12); // both photos at √2
        Assert.Equal(Math.Sqrt(8), meanDistance["b"], 12);
        // The centroid of "a" is (1, 1) — not re-normalized, since the stored vectors are not unit length.
        var mean = index.DistancesByIdentity(query, IdentityRule.Mean).ToDictionary(d => d.Name, d => d.Distance);
        Assert.Equal(0, mean["a"], 12);
    }

    [Fact]
    public void Searches_run_on_the_workers_of_the_given_context()
    {
        var pool = new WorkerPool(2);
        var index = new GalleryIndex([1, 0, 0, 1], [0, 1], ["a", "b"], 2, new ExecutionContext(pool));
        Assert.Equal("a", index.TopTwo([0.9f, 0.1f]).Best!.Value.Name);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => index.TopTwo([0.9f, 0.1f]));
    }

    [Fact]
    public async Task Searches_issued_from_items_of_the_same_pool_finish_and_agree()
    {
        // Probes identified in parallel on the index's own pool: each search is a run nested inside an item.
        const int rows = 3 * 8192 + 5, dim = 17;
        var pool = new WorkerPool(2);
        var vectors = TestData.Uniform(rows * dim, 5);
        var owner = Enumerable.Range(0, rows).Select(r => r % 101).ToArray();
        var index = new GalleryIndex(vectors, owner, Enumerable.Range(0, 101).Select(i => $"p{i}").ToArray(), dim, new ExecutionContext(pool));
        var queries = Enumerable.Range(0, 8).Select(q => TestData.Uniform(dim, 2000 + q)).ToArray();
        var expected = queries.Select(q => index.TopTwo(q).Best!.Value.Name).ToArray();
        var actual = new string[queries.Length];
        // A deadlock surfaces as a TimeoutException (the pool is then left undisposed: its lock is held forever).
        await Task.Run(() => pool.For(queries.Length, q => actual[q] = index.TopTwo(queries[q]).Best!.Value.Name)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(expected, actual);
        pool.Dispose();
    }
}
