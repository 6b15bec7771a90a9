using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Recognition.Tests;

public sealed class VerificationEvaluationTests
{
    // Genuine 0.2, 0.4, 0.6; impostor 0.5, 0.8, 0.9, 1.0 (two folds).
    private static readonly ScoredPair[] Pairs =
    [
        new(0.2, true, 0), new(0.4, true, 1), new(0.6, true, 0),
        new(0.5, false, 1), new(0.8, false, 0), new(0.9, false, 1), new(1.0, false, 0),
    ];

    [Fact]
    public void Auc_counts_impostors_farther_than_genuines()
    {
        // Pairs (g, i) with i > g: 0.2 → 4, 0.4 → 4, 0.6 → 3 (0.5 is closer): 11 of 12.
        Assert.Equal(11.0 / 12, new VerificationEvaluation(Pairs).Auc, 12);
        // Ties count one half.
        var tied = new VerificationEvaluation([new(0.5, true, 0), new(0.5, false, 1)]);
        Assert.Equal(0.5, tied.Auc, 12);
    }

    [Fact]
    public void Roc_runs_from_nothing_to_everything_and_its_trapezoid_area_is_the_auc()
    {
        var e = new VerificationEvaluation(Pairs);
        var roc = e.Roc();
        Assert.Equal((0.0, 0.0), (roc[0].Far, roc[0].Tar));
        Assert.Equal((1.0, 1.0), (roc[^1].Far, roc[^1].Tar));
        double area = 0;
        for (int i = 1; i < roc.Count; i++)
        {
            area += (roc[i].Far - roc[i - 1].Far) * (roc[i].Tar + roc[i - 1].Tar) / 2;
        }

        Assert.Equal(e.Auc, area, 12);
    }

    [Fact]
    public void Best_threshold_and_rates()
    {
        var e = new VerificationEvaluation(Pairs);
        var (threshold, accuracy) = e.BestThreshold();
        // Between 0.4 and 0.5: 2 genuine accepted, 4 impostors rejected, 0.6 genuine rejected → 6/7. The first best wins.
        Assert.Equal(0.45, threshold, 12);
        Assert.Equal(6.0 / 7, accuracy, 12);
        Assert.Equal((2.0 / 3, 0.0), e.RatesAt(0.45));
        Assert.Equal((1.0, 0.25), e.RatesAt(0.7)); // accept strictly below: 0.5 accepted
    }

    [Fact]
    public void Threshold_for_a_target_far_is_the_largest_that_meets_it()
    {
        var e = new VerificationEvaluation(Pairs);
        var p = e.AtFar(0.25); // one of four impostors may be accepted → accept below the 2nd impostor, 0.8
        Assert.Equal(0.8, p.Threshold, 12);
        Assert.Equal((0.25, 1.0), (p.Far, p.Tar));
        Assert.True(p.Resolvable);
        var strict = e.AtFar(1e-3); // no impostor may be accepted, and four pairs cannot measure 1e-3
        Assert.Equal(0.5, strict.Threshold, 12);
        Assert.Equal((0.0, 2.0 / 3), (strict.Far, strict.Tar));
        Assert.False(strict.Resolvable);
    }

    [Fact]
    public void Cross_validation_picks_the_threshold_on_the_other_folds()
    {
        var cv = new VerificationEvaluation(Pairs).CrossValidate();
        Assert.Equal(2, cv.FoldAccuracies.Count);
        // Fold 0 held out: train on {0.4 g, 0.5 i, 0.9 i} → best 0.45; fold 0 = {0.2 g, 0.6 g, 0.8 i, 1.0 i} → 3/4.
        // Fold 1 held out: train on {0.2 g, 0.6 g, 0.8 i, 1.0 i} → best 0.7; fold 1 = {0.4 g, 0.5 i, 0.9 i} → 2/3.
        Assert.Equal([0.45, 0.7], cv.FoldThresholds.Select(t => Math.Round(t, 12)));
        Assert.Equal([0.75, 2.0 / 3], cv.FoldAccuracies);
        Assert.Equal((0.75 + 2.0 / 3) / 2, cv.Mean, 12);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(7, 3)]
    [InlineData(400, 10)]
    public void The_one_pass_threshold_sweep_equals_trying_every_candidate_on_every_pair(int seed, int folds)
    {
        // Distances on a coarse grid, so many pairs tie: ties are where a sweep can go wrong.
        var random = new Random(seed);
        var pairs = Enumerable.Range(0, 300).Select(i =>
        {
            bool same = random.Next(3) == 0;
            double distance = Math.Round((same ? 0.5 : 0.9) + random.NextDouble() * 0.6, 2);
            return new ScoredPair(distance, same, i % folds);
        }).ToList();
        var e = new VerificationEvaluation(pairs);
        Assert.Equal(ReferenceBest(pairs), e.BestThreshold());
        var cv = e.CrossValidate();
        for (int fold = 0; fold < folds; fold++)
        {
            var (threshold, _) = ReferenceBest(pairs.Where(p => p.Fold != fold).ToList());
            Assert.Equal(threshold, cv.FoldThresholds[fold]);
            var test = pairs.Where(p => p.Fold == fold).ToList();
            Assert.Equal((double)test.Count(p => (p.Distance < threshold) == p.Same) / test.Count, cv.FoldAccuracies[fold]);
        }
    }

    // The definition, O(P²): every candidate threshold tried on every pair; ties go to the smallest threshold.
    private static (double Threshold, double Accuracy) ReferenceBest(IReadOnlyList<ScoredPair> pairs)
    {
        var distances = pairs.Select(p => p.Distance).Distinct().Order().ToList();
        var candidates = new List<double> { distances[0] };
        candidates.AddRange(distances.Zip(distances.Skip(1), (a, b) => (a + b) / 2));
        candidates.Add(Math.BitIncrement(distances[^1]));
        var best = (Threshold: 0.0, Accuracy: -1.0);
        foreach (double t in candidates)
        {
            double accuracy = (double)pairs.Count(p => (p.Distance < t) == p.Same) / pairs.Count;
            if (accuracy > best.Accuracy)
            {
                best = (t, accuracy);
            }
        }

        return best;
    }

    [Fact]
    public void Needs_both_kinds_of_pairs()
    {
        Assert.Throws<ArgumentException>(() => new VerificationEvaluation([new(0.1, true, 0)]));
        Assert.Throws<ArgumentException>(() => new VerificationEvaluation([new(0.1, true, 0), new(double.NaN, false, 0)]));
    }

    [Fact]
    public void Report_files_are_written_and_the_svg_is_well_formed()
    {
        string dir = Directory.CreateTempSubdirectory("inceptionnet-report-").FullName;
        try
        {
            var e = new VerificationEvaluation(Pairs);
            var (paths, _) = EvaluationReport.Write(dir, e, new EvaluationContext("test", "faceapi", "abcdef0123456789abcdef", ["data: hand-made"], 0.6), 1e-3);
            Assert.All(paths, p => Assert.True(new FileInfo(p).Length > 100, p));
            foreach (string svg in paths.Where(p => p.EndsWith(".svg", StringComparison.Ordinal)))
            {
                var doc = System.Xml.Linq.XDocument.Load(svg); // throws when malformed
                Assert.Equal("svg", doc.Root!.Name.LocalName);
            }

            string markdown = File.ReadAllText(paths[0]);
            Assert.Contains("ROC AUC | 0.9167", markdown, StringComparison.Ordinal);
            Assert.Contains("not measurable: only 4 impostor pairs", markdown, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
