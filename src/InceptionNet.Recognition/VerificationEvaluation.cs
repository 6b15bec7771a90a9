namespace InceptionNet.Recognition;

/// <summary>One labelled comparison: the distance between two faces and whether they are the same person.</summary>
/// <param name="Distance">Euclidean distance between the two encodings.</param>
/// <param name="Same">True for a genuine pair (same person), false for an impostor pair.</param>
/// <param name="Fold">Cross-validation fold (0 ≤ fold &lt; k).</param>
/// <param name="Left">Label of the first face (for reports).</param>
/// <param name="Right">Label of the second face.</param>
public sealed record ScoredPair(double Distance, bool Same, int Fold, string Left = "", string Right = "");

/// <summary>A point of the ROC curve: accept when distance &lt; <see cref="Threshold"/>.</summary>
/// <param name="Threshold">Acceptance threshold.</param>
/// <param name="Far">False accept rate: impostor pairs accepted / impostor pairs.</param>
/// <param name="Tar">True accept rate: genuine pairs accepted / genuine pairs.</param>
public readonly record struct RocPoint(double Threshold, double Far, double Tar);

/// <summary>The operating point for a target false accept rate.</summary>
/// <param name="TargetFar">The FAR asked for.</param>
/// <param name="Threshold">Largest threshold whose measured FAR is ≤ the target.</param>
/// <param name="Far">Measured FAR at that threshold.</param>
/// <param name="Tar">Measured TAR at that threshold.</param>
/// <param name="Resolvable">
/// False when there are fewer than 1/target impostor pairs: the measured FAR is then 0 by construction and says nothing
/// about the true rate at that level.
/// </param>
public readonly record struct FarOperatingPoint(double TargetFar, double Threshold, double Far, double Tar, bool Resolvable);

/// <summary>Accuracy at the best threshold under k-fold cross-validation (LFW protocol).</summary>
/// <param name="Mean">Mean test-fold accuracy.</param>
/// <param name="StandardDeviation">Standard deviation over folds (population, as LFW reports it).</param>
/// <param name="FoldAccuracies">Accuracy on each held-out fold.</param>
/// <param name="FoldThresholds">Threshold chosen on the other folds, per fold.</param>
public sealed record CrossValidatedAccuracy(double Mean, double StandardDeviation, IReadOnlyList<double> FoldAccuracies, IReadOnlyList<double> FoldThresholds);

/// <summary>
/// Verification metrics over labelled pairs: ROC and its AUC, the best-threshold accuracy (on all pairs and k-fold
/// cross-validated), TAR at fixed FARs and the threshold meeting a target FAR. A pair is accepted when its distance is
/// strictly below the threshold, as <see cref="FaceRecognizer"/> decides.
/// </summary>
public sealed class VerificationEvaluation
{
    private readonly double[] _genuine;
    private readonly double[] _impostor;
    private readonly ScoredPair[] _byDistance; // every pair, ascending distance: threshold sweeps walk it once

    /// <summary>Evaluates <paramref name="pairs"/>; needs at least one genuine and one impostor pair.</summary>
    public VerificationEvaluation(IReadOnlyList<ScoredPair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        Pairs = pairs;
        _genuine = pairs.Where(p => p.Same).Select(p => p.Distance).Order().ToArray();
        _impostor = pairs.Where(p => !p.Same).Select(p => p.Distance).Order().ToArray();
        if (_genuine.Length == 0 || _impostor.Length == 0)
        {
            throw new ArgumentException($"Evaluation needs genuine and impostor pairs; got {_genuine.Length} genuine and {_impostor.Length} impostor.");
        }

        if (pairs.Any(p => !double.IsFinite(p.Distance)))
        {
            throw new ArgumentException("Every distance must be finite.");
        }

        _byDistance = [.. pairs.OrderBy(p => p.Distance)];
    }

    /// <summary>The pairs evaluated.</summary>
    public IReadOnlyList<ScoredPair> Pairs { get; }

    /// <summary>Genuine distances, ascending.</summary>
    public IReadOnlyList<double> Genuine => _genuine;

    /// <summary>Impostor distances, ascending.</summary>
    public IReadOnlyList<double> Impostor => _impostor;

    /// <summary>
    /// Area under the ROC curve: the probability that a random impostor pair is farther apart than a random genuine pair
    /// (ties count one half) — the Mann–Whitney statistic, equal to the trapezoid area under the full ROC.
    /// </summary>
    public double Auc
    {
        get
        {
            double wins = 0;
            int lo = 0, hi = 0;
            foreach (double g in _genuine)
            {
                while (lo < _impostor.Length && _impostor[lo] < g)
                {
                    lo++;
                }

                hi = Math.Max(hi, lo);
                while (hi < _impostor.Length && _impostor[hi] <= g)
                {
                    hi++;
                }

                wins += (_impostor.Length - hi) + 0.5 * (hi - lo);
            }

            return wins / ((double)_genuine.Length * _impostor.Length);
        }
    }

    /// <summary>
    /// The ROC from (0, 0) to (1, 1): one point per distinct distance, with the threshold just above it (and a first point
    /// with threshold equal to the smallest distance, which accepts nothing).
    /// </summary>
    public IReadOnlyList<RocPoint> Roc()
    {
        var thresholds = Candidates();
        return thresholds.Select(t => new RocPoint(t, Rate(_impostor, t), Rate(_genuine, t))).ToList();
    }

    /// <summary>TAR and FAR when accepting distances below <paramref name="threshold"/>.</summary>
    public (double Tar, double Far) RatesAt(double threshold) => (Rate(_genuine, threshold), Rate(_impostor, threshold));

    /// <summary>Accuracy over all pairs at <paramref name="threshold"/>.</summary>
    public double AccuracyAt(double threshold) => Accuracy(Pairs, threshold);

    /// <summary>The threshold with the highest accuracy over all pairs (midpoints between distances; ties → smallest).</summary>
    public (double Threshold, double Accuracy) BestThreshold() => Best(_byDistance, excludedFold: null);

    /// <summary>
    /// LFW protocol: for each fold, the best threshold on the other folds is applied to it; mean and standard deviation of
    /// the held-out accuracies. Folds without pairs are skipped.
    /// </summary>
    public CrossValidatedAccuracy CrossValidate()
    {
        var folds = Pairs.Select(p => p.Fold).Distinct().Order().ToList();
        if (folds.Count < 2)
        {
            throw new InvalidOperationException("Cross-validation needs pairs in at least two folds.");
        }

        var accuracies = new List<double>();
        var thresholds = new List<double>();
        foreach (int fold in folds)
        {
            var test = Pairs.Where(p => p.Fold == fold).ToList();
            var (threshold, _) = Best(_byDistance, excludedFold: fold); // trained on every other fold
            thresholds.Add(threshold);
            accuracies.Add(Accuracy(test, threshold));
        }

        double mean = accuracies.Average();
        double std = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / accuracies.Count);
        return new CrossValidatedAccuracy(mean, std, accuracies, thresholds);
    }

    /// <summary>
    /// The largest threshold whose measured FAR does not exceed <paramref name="targetFar"/>: with M impostor distances
    /// sorted ascending, accepting below the (⌊target·M⌋+1)-th one accepts at most ⌊target·M⌋ impostors.
    /// </summary>
    public FarOperatingPoint AtFar(double targetFar)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetFar);
        int allowed = (int)Math.Floor(targetFar * _impostor.Length + 1e-9);
        double threshold = allowed >= _impostor.Length ? Math.BitIncrement(_impostor[^1]) : _impostor[allowed];
        var (tar, far) = RatesAt(threshold);
        return new FarOperatingPoint(targetFar, threshold, far, tar, Resolvable: _impostor.Length * targetFar >= 1);
    }

    /// <summary>Assigns folds: contiguous blocks in the given order (LFW pairs files list their 10 sets one after the other).</summary>
    public static int ContiguousFold(int index, int count, int folds) => (int)((long)index * folds / Math.Max(count, 1));

    private static double Rate(double[] sorted, double threshold)
    {
        int below = LowerBound(sorted, threshold);
        return (double)below / sorted.Length;
    }

    // Number of values strictly below x.
    private static int LowerBound(double[] sorted, double x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < x)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private List<double> Candidates()
    {
        var all = _genuine.Concat(_impostor).Distinct().Order().ToList();
        var result = new List<double> { all[0] };
        result.AddRange(all.Select(Math.BitIncrement));
        return result;
    }

    private static double Accuracy(IReadOnlyList<ScoredPair> pairs, double threshold) =>
        pairs.Count == 0 ? 0 : (double)pairs.Count(p => (p.Distance < threshold) == p.Same) / pairs.Count;

    // The threshold with the most correct decisions among the pairs not in excludedFold, in one pass over pairs sorted
    // by distance. Candidates are those of the plain definition: the smallest distance (accepts nothing), the midpoint
    // between each two neighbouring distinct distances, and just above the largest (accepts all); ties go to the
    // smallest threshold. Accepting everything below a candidate makes every genuine pair below it right and every
    // impostor pair at or above it right, so the count moves by one group of equal distances per step: O(P), where
    // trying each candidate on every pair was O(P²).
    private static (double Threshold, double Accuracy) Best(ScoredPair[] sorted, int? excludedFold)
    {
        int total = 0, impostors = 0;
        foreach (var p in sorted)
        {
            if (p.Fold != excludedFold)
            {
                total++;
                impostors += p.Same ? 0 : 1;
            }
        }

        if (total == 0)
        {
            throw new InvalidOperationException("No pairs to choose a threshold from.");
        }

        int correct = impostors; // the first candidate, the smallest distance, accepts nothing
        int bestCorrect = -1;
        double bestThreshold = 0;
        double? previous = null;
        int i = 0;
        while (i < sorted.Length)
        {
            if (sorted[i].Fold == excludedFold)
            {
                i++;
                continue;
            }

            double distance = sorted[i].Distance;
            double candidate = previous is { } below ? (below + distance) / 2 : distance;
            if (correct > bestCorrect)
            {
                bestCorrect = correct;
                bestThreshold = candidate;
            }

            // Move the threshold past every pair at this distance.
            for (; i < sorted.Length && sorted[i].Distance == distance; i++)
            {
                if (sorted[i].Fold != excludedFold)
                {
                    correct += sorted[i].Same ? 1 : -1;
                }
            }

            previous = distance;
        }

        if (correct > bestCorrect)
        {
            bestCorrect = correct;
            bestThreshold = Math.BitIncrement(previous!.Value);
        }

        return (bestThreshold, (double)bestCorrect / total);
    }
}
