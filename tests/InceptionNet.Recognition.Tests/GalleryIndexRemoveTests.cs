using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Recognition.Tests;

/// <summary>
/// <see cref="GalleryIndex.Without"/> (the service's remove): the new version answers exactly as an index rebuilt from
/// the remaining rows in the same order (ties included), older versions keep answering as before, and a removal copies
/// no rows until the removed rows exceed a quarter of them.
/// </summary>
public sealed class GalleryIndexRemoveTests
{
    private const int Dim = 16;
    private static readonly IdentityRule[] Rules = [IdentityRule.Closest, IdentityRule.Mean, IdentityRule.MeanDistance];

    [Theory]
    [InlineData(true, 3)]
    [InlineData(false, 11)]
    public void Removed_renamed_and_appended_versions_answer_as_rebuilt_ones_ties_included_and_old_versions_do_not_change(bool unitVectors, int seed)
    {
        var random = new Random(seed);
        // A few vectors shared by several people: exact ties, which the earlier row wins.
        var shared = Enumerable.Range(0, 4).Select(_ => Vector(random, unitVectors)).ToArray();
        var model = new Model();
        for (int i = 0; i < 60; i++)
        {
            model = model.Append($"p{i % 12}", i % 5 == 0 ? shared[i % shared.Length] : Vector(random, unitVectors));
        }

        var v0 = model.Build(unitVectors);
        var history = new List<(GalleryIndex Index, Model Model)> { (v0, model) };
        var latest = history[0];
        int next = 0;
        for (int step = 0; step < 60; step++)
        {
            // Mostly the newest version (in place); sometimes an older one (must copy, and leave the newer intact).
            var from = step % 9 == 8 ? history[random.Next(history.Count)] : latest;
            (GalleryIndex, Model) made;
            var names = from.Model.Names;
            if (step % 3 == 0 && names.Count > 1)
            {
                string gone = names[random.Next(names.Count)];
                made = (from.Index.Without(gone), from.Model.Without(gone));
            }
            else if (step % 7 == 1 && names.Count > 0)
            {
                string old = names[random.Next(names.Count)];
                string renamed = $"r{next++}";
                made = (from.Index.Renamed(old, renamed), from.Model.Renamed(old, renamed));
            }
            else
            {
                // New people and the return of removed names (a new identity at the end, as a gallery does).
                string name = random.Next(3) == 0 ? $"n{next++}" : $"p{random.Next(12)}";
                var vector = random.Next(4) == 0 ? shared[random.Next(shared.Length)] : Vector(random, unitVectors);
                made = (from.Index.Append(name, vector), from.Model.Append(name, vector));
            }

            history.Add(made);
            latest = made;
        }

        // 20 removals of ~5 rows each against ~100 rows: the newest line of versions compacts more than once.
        var probes = shared.Concat(Enumerable.Range(0, 6).Select(_ => Vector(random, unitVectors))).ToList();
        foreach (var (index, version) in history)
        {
            var rebuilt = version.Build(unitVectors);
            Assert.Equal(rebuilt.Count, index.Count);
            Assert.Equal(rebuilt.IdentityCount, index.IdentityCount);
            foreach (var probe in probes)
            {
                Assert.Equal(rebuilt.TopTwo(probe), index.TopTwo(probe));
                foreach (var rule in Rules)
                {
                    Assert.Equal(rebuilt.DistancesByIdentity(probe, rule), index.DistancesByIdentity(probe, rule));
                }
            }
        }
    }

    [Fact]
    public void A_removal_copies_no_rows_until_a_quarter_are_removed_then_compacts_once_keeping_the_answers()
    {
        const int Rows = 200_000, People = 1000;
        var vectors = new float[Rows * Dim];
        var owner = new int[Rows];
        var names = Enumerable.Range(0, People).Select(i => $"p{i}").ToArray();
        var random = new Random(5);
        for (int r = 0; r < Rows; r++)
        {
            owner[r] = r % People;
            for (int j = 0; j < Dim; j++)
            {
                vectors[r * Dim + j] = (float)random.NextDouble();
            }
        }

        var index = new GalleryIndex(vectors, owner, names, Dim);
        var probe = vectors.AsSpan(123 * Dim, Dim).ToArray(); // row 123 belongs to p123
        long vectorBytes = (long)Rows * Dim * sizeof(float);
        int removed = 0;
        long largest = 0;
        // 200 rows each: 250 removals make exactly a quarter of the rows, the 251st crosses it.
        while (removed < People / 4)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            index = index.Without($"p{People - 1 - removed++}");
            largest = Math.Max(largest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        // The list of names (1000 references) per removal, not the 12.8 MB of vectors (nor the 0.8 MB of owners).
        Assert.InRange(largest, 0, 64 * 1024);
        Assert.Equal(Rows - removed * (Rows / People), index.Count);
        Assert.Equal(("p123", 0.0), index.TopTwo(probe).Best!.Value);

        long compactionBefore = GC.GetAllocatedBytesForCurrentThread();
        var compacted = index.Without($"p{People - 1 - removed++}");
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - compactionBefore, vectorBytes / 2, vectorBytes * 2);
        Assert.Equal(Rows - removed * (Rows / People), compacted.Count);
        Assert.Equal(People - removed, compacted.IdentityCount);
        Assert.Equal(index.TopTwo(probe).Best, compacted.TopTwo(probe).Best);
        string last = $"p{People - removed}";
        foreach (var rule in Rules)
        {
            Assert.Equal(index.DistancesByIdentity(probe, rule).Where(d => d.Name != last), compacted.DistancesByIdentity(probe, rule));
        }

        // Appends after a compaction go on in place.
        long appendBefore = GC.GetAllocatedBytesForCurrentThread();
        var appended = compacted.Append("p0", probe);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - appendBefore, 0, vectorBytes / 10);
        Assert.Equal(compacted.Count + 1, appended.Count);
        Assert.Throws<ArgumentException>(() => compacted.Without($"p{People - 1}"));
    }

    [Fact]
    public async Task A_search_on_a_version_never_sees_a_later_removal_even_while_it_is_made()
    {
        const int People = 64, PerPerson = 40;
        var random = new Random(9);
        var model = new Model();
        for (int i = 0; i < People * PerPerson; i++)
        {
            model = model.Append($"p{i % People}", Vector(random, true));
        }

        var v0 = model.Build(true);
        var probes = Enumerable.Range(0, People).Select(p => model.Rows.First(r => r.Name == $"p{p}").Vector).ToArray();
        var expected = probes.Select(p => v0.TopTwo(p)).ToArray();
        using var stop = new CancellationTokenSource();
        int searches = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested || searches < 50)
            {
                int p = searches++ % People;
                Assert.Equal(expected[p], v0.TopTwo(probes[p]));
            }
        });

        // Remove everyone but one person from v0's line of versions (compactions included), then re-enroll them.
        var current = v0;
        for (int p = 1; p < People; p++)
        {
            current = current.Without($"p{p}");
            Assert.NotEqual($"p{p}", current.TopTwo(probes[p]).Best!.Value.Name);
        }

        for (int p = 1; p < People; p++)
        {
            current = current.Append($"p{p}", Vector(random, true));
        }

        await stop.CancelAsync();
        await reader.WaitAsync(TimeSpan.FromSeconds(60)); // rethrows the reader's failed assertion
        Assert.Equal(People * PerPerson, v0.Count);
        Assert.Equal(PerPerson + People - 1, current.Count);
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

    // What a version should hold: its live rows in order and its identities in order, built afresh as raw arrays.
    private sealed record Model(List<(string Name, float[] Vector)> Rows, List<string> Names)
    {
        public Model()
            : this([], [])
        {
        }

        public Model Append(string name, float[] vector) =>
            new([.. Rows, (name, vector)], Names.Contains(name) ? [.. Names] : [.. Names, name]);

        public Model Without(string name) => new([.. Rows.Where(r => r.Name != name)], [.. Names.Where(n => n != name)]);

        public Model Renamed(string name, string newName) =>
            new([.. Rows.Select(r => r.Name == name ? (newName, r.Vector) : r)], [.. Names.Select(n => n == name ? newName : n)]);

        public GalleryIndex Build(bool unitVectors) => new(
            [.. Rows.SelectMany(r => r.Vector)], [.. Rows.Select(r => Names.IndexOf(r.Name))], [.. Names], Dim, unitVectors: unitVectors);
    }
}
