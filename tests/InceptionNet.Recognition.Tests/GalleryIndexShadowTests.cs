using InceptionNet.Recognition;
using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.Recognition.Tests;

/// <summary>
/// Galleries of <see cref="QuantizedRows.MinRows"/> rows and more search through their int8 shadow: every version —
/// built, grown across the threshold, appended to in place or from an older version, with identities removed (skipped
/// or compacted) or renamed — answers <see cref="GalleryIndex.TopTwo"/> exactly as the float scan of its live rows in
/// their order, ties and distances included, also while another thread appends.
/// </summary>
public sealed class GalleryIndexShadowTests
{
    private const int Dim = 16;

    [Fact]
    public void Every_version_around_and_past_the_threshold_answers_as_the_float_scan_of_its_rows()
    {
        var random = new Random(5);
        var shared = Enumerable.Range(0, 6).Select(_ => Unit(random)).ToArray(); // exact duplicates across people: ties
        var rows = new List<(string Name, float[] Vector)>();
        for (int r = 0; r < QuantizedRows.MinRows - 2; r++)
        {
            rows.Add(($"p{r % 500}", r % 97 == 0 ? shared[r % shared.Length] : Unit(random)));
        }

        var versions = new List<(GalleryIndex Index, List<(string Name, float[] Vector)> Rows)> { (Build(rows), rows) };
        var latest = versions[0];
        for (int step = 0; step < 12; step++)
        {
            // In place across the threshold and past it; from an older version now and then (a copy of the shadow); a
            // removal that only marks, one that compacts, a rename.
            var from = step == 7 ? versions[2] : latest;
            (GalleryIndex, List<(string, float[])>) next = step switch
            {
                5 => (from.Index.Without("p3"), from.Rows.Where(r => r.Name != "p3").ToList()),
                9 => (from.Index.Renamed("p4", "q4"), from.Rows.Select(r => r.Name == "p4" ? ("q4", r.Vector) : r).ToList()),
                _ => Appended(from, step % 2 == 0 ? "p7" : $"new{step}", step % 3 == 0 ? shared[step % shared.Length] : Unit(random)),
            };
            versions.Add(next);
            latest = next;
        }

        // Grown in place by a third, then enough removals to compact (more than a quarter of the rows), leaving more than
        // the threshold: the compacted version's own shadow.
        var grownRows = latest.Rows.ToList();
        var grown = latest.Index;
        for (int i = 0; i < QuantizedRows.MinRows / 2; i++)
        {
            var vector = Unit(random);
            grown = grown.Append($"p{i % 500}", vector);
            grownRows.Add(($"p{i % 500}", vector));
        }

        versions.Add((grown, grownRows));
        var names = grownRows.Select(r => r.Name).Distinct().Where(n => n.StartsWith('p')).Take(140).ToList();
        var compacted = (Index: grown, Rows: grownRows);
        foreach (string name in names)
        {
            compacted = (compacted.Index.Without(name), compacted.Rows.Where(r => r.Name != name).ToList());
        }

        Assert.True(compacted.Rows.Count >= QuantizedRows.MinRows);
        versions.Add(compacted);
        foreach (var (index, versionRows) in versions)
        {
            Assert.Equal(versionRows.Count, index.Count);
            var queries = new[] { Unit(random), shared[1], versionRows[^1].Vector, versionRows[versionRows.Count / 2].Vector, new float[Dim] };
            foreach (var query in queries)
            {
                Assert.Equal(FloatScan(versionRows, query), index.TopTwo(query));
            }
        }
    }

    [Fact]
    public async Task Readers_of_a_version_see_the_same_answers_while_another_thread_appends()
    {
        var random = new Random(9);
        var rows = Enumerable.Range(0, QuantizedRows.MinRows + 100).Select(r => ($"p{r % 300}", Unit(random))).ToList();
        // An appended version has spare rows (a quarter more), so the writer's appends below go into the arrays and the
        // shadow this version shares, past its own rows, while the readers search it.
        var seed = Unit(random);
        var index = Build(rows).Append("seed", seed);
        rows.Add(("seed", seed));
        var queries = Enumerable.Range(0, 8).Select(_ => Unit(random)).ToArray();
        var expected = queries.Select(q => FloatScan(rows, q)).ToArray();
        var appends = Enumerable.Range(0, 2000).Select(_ => Unit(random)).ToArray();
        var writer = Task.Run(() =>
        {
            var growing = index;
            foreach (var vector in appends)
            {
                growing = growing.Append("writer", vector);
            }

            return growing;
        });
        for (int round = 0; round < 20; round++)
        {
            for (int q = 0; q < queries.Length; q++)
            {
                Assert.Equal(expected[q], index.TopTwo(queries[q]));
            }
        }

        var grown = await writer;
        var all = rows.Concat(appends.Select(v => ("writer", v))).ToList();
        Assert.Equal(FloatScan(all, queries[0]), grown.TopTwo(queries[0]));
    }

    // The definition: the float scan of the rows in their order (VectorSearch's full scan), then each answer's name and
    // double distance as TopTwo reports them.
    private static ((string Name, double Distance)? Best, (string Name, double Distance)? RunnerUp) FloatScan(List<(string Name, float[] Vector)> rows, float[] query)
    {
        var names = rows.Select(r => r.Name).Distinct().ToList();
        var owner = rows.Select(r => names.IndexOf(r.Name)).ToArray();
        var matrix = rows.SelectMany(r => r.Vector).ToArray();
        var (nearest, runnerUp) = VectorSearch.NearestTwo(matrix, Dim, query, owner, new float[rows.Count], KernelSet.Default, WorkerPool.Shared);
        (string, double)? Describe(int r) => r < 0 ? null : (rows[r].Name, ElementwiseOps.Distance(rows[r].Vector, query));
        return (Describe(nearest), Describe(runnerUp));
    }

    private static (GalleryIndex, List<(string, float[])>) Appended((GalleryIndex Index, List<(string Name, float[] Vector)> Rows) from, string name, float[] vector) =>
        (from.Index.Append(name, vector), [.. from.Rows, (name, vector)]);

    // Rows in the given order (one array, as a gallery file is read).
    private static GalleryIndex Build(List<(string Name, float[] Vector)> rows)
    {
        var names = rows.Select(r => r.Name).Distinct().ToArray();
        var owner = rows.Select(r => Array.IndexOf(names, r.Name)).ToArray();
        return new GalleryIndex(rows.SelectMany(r => r.Vector).ToArray(), owner, names, Dim);
    }

    private static float[] Unit(Random random)
    {
        var v = Enumerable.Range(0, Dim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float norm = MathF.Sqrt(v.Sum(x => x * x));
        return [.. v.Select(x => x / norm)];
    }
}
