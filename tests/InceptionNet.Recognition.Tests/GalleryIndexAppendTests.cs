using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Recognition.Tests;

/// <summary>
/// <see cref="GalleryIndex.Append"/> (the service's enroll): the appended index answers exactly as one rebuilt from the
/// same rows, every older version keeps answering as before, and an append costs one row, not a copy of the gallery.
/// </summary>
public sealed class GalleryIndexAppendTests
{
    private const int Dim = 16;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Appended_versions_answer_as_rebuilt_ones_and_old_versions_do_not_change(bool unitVectors)
    {
        var random = new Random(7);
        var rows = new List<(string Name, float[] Vector)>();
        for (int i = 0; i < 40; i++)
        {
            rows.Add(($"p{i % 9}", Vector(random, unitVectors)));
        }

        var v0 = Build(rows, unitVectors);
        var history = new List<(GalleryIndex Index, List<(string, float[])> Rows)> { (v0, [.. rows]) };
        var latest = (Index: v0, Rows: rows.ToList());
        for (int step = 0; step < 30; step++)
        {
            // Mostly the newest version (in place); sometimes an older one (must copy, and leave the newer intact).
            var from = step % 7 == 6 ? history[random.Next(history.Count)] : latest;
            string name = step % 3 == 0 ? $"new{step}" : $"p{random.Next(9)}";
            var vector = Vector(random, unitVectors);
            var next = (Index: from.Index.Append(name, vector), Rows: from.Rows.Append((name, vector)).ToList());
            history.Add(next);
            latest = next;
        }

        for (int q = 0; q < 10; q++)
        {
            var query = Vector(random, unitVectors);
            foreach (var (index, versionRows) in history)
            {
                var rebuilt = Build(versionRows, unitVectors);
                Assert.Equal(rebuilt.Count, index.Count);
                Assert.Equal(rebuilt.TopTwo(query), index.TopTwo(query));
                foreach (var rule in new[] { IdentityRule.Closest, IdentityRule.Mean, IdentityRule.MeanDistance })
                {
                    Assert.Equal(rebuilt.DistancesByIdentity(query, rule), index.DistancesByIdentity(query, rule));
                }
            }
        }
    }

    [Fact]
    public void Appending_to_a_large_index_costs_a_row_not_a_copy()
    {
        const int Rows = 200_000;
        var vectors = new float[Rows * Dim];
        var owner = new int[Rows];
        var names = Enumerable.Range(0, 1000).Select(i => $"p{i}").ToArray();
        for (int r = 0; r < Rows; r++)
        {
            owner[r] = r % names.Length;
            vectors[r * Dim + r % Dim] = 1;
        }

        var index = new GalleryIndex(vectors, owner, names, Dim).Append("first", new float[Dim]); // copies once, with room to grow
        var vector = Enumerable.Repeat(0.25f, Dim).ToArray(); // unlike every bulk row (one-hot)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            index = index.Append("p1", vector);
        }

        long perAppend = (GC.GetAllocatedBytesForCurrentThread() - before) / 100;
        // A rebuild copies 12.8 MB of vectors; an append copies the per-identity sums and means (1000 people × 16-d:
        // ~200 KB). Bar: a tenth of the vectors.
        Assert.InRange(perAppend, 0, Rows * Dim * sizeof(float) / 10);
        Assert.Equal(Rows + 101, index.Count);
        Assert.Equal("p1", index.TopTwo(vector).Best!.Value.Name);
    }

    private static GalleryIndex Build(List<(string Name, float[] Vector)> rows, bool unitVectors)
    {
        var names = rows.Select(r => r.Name).Distinct().ToList();
        var identities = names.Select(n => (n, (IReadOnlyList<GalleryEntry>)rows.Where(r => r.Name == n).Select(r => new GalleryEntry(r.Vector, "x", DateTimeOffset.UnixEpoch)).ToList())).ToList();
        return new GalleryIndex(identities, Dim, unitVectors: unitVectors);
    }

    private static float[] Vector(Random random, bool unit)
    {
        var v = Enumerable.Range(0, Dim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        if (unit)
        {
            float norm = MathF.Sqrt(v.Sum(x => x * x));
            for (int i = 0; i < Dim; i++)
            {
                v[i] /= norm;
            }
        }

        return v;
    }
}
