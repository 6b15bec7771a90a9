namespace InceptionNet.Recognition;

/// <summary>A triplet of row indices into a set of embeddings.</summary>
/// <param name="Anchor">Anchor row.</param>
/// <param name="Positive">Same identity as the anchor.</param>
/// <param name="Negative">Another identity.</param>
public readonly record struct Triplet(int Anchor, int Positive, int Negative);

/// <summary>How triplets are chosen from a labeled set of embeddings.</summary>
public enum TripletMining
{
    /// <summary>Every valid (anchor, positive, negative) with a positive loss.</summary>
    BatchAll,

    /// <summary>Per anchor: its farthest positive and its nearest negative.</summary>
    BatchHard,

    /// <summary>
    /// FaceNet's semi-hard selection: per (anchor, positive), the nearest negative that is still farther than the positive,
    /// ‖a−p‖² &lt; ‖a−n‖² &lt; ‖a−p‖² + α; pairs without such a negative are skipped.
    /// </summary>
    SemiHard,
}

/// <summary>The triplet loss of FaceNet and the course, and triplet mining.</summary>
public static class TripletLoss
{
    /// <summary>Default margin α (course and FaceNet paper).</summary>
    public const double DefaultAlpha = 0.2;

    /// <summary>
    /// J = Σᵢ max(‖f(Aᵢ)−f(Pᵢ)‖² − ‖f(Aᵢ)−f(Nᵢ)‖² + α, 0) over a batch: sum over the batch, squared distances summed over the
    /// embedding axis, exactly as the course's <c>triplet_loss</c>. Inputs are [batch, dim] row-major.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> anchors, ReadOnlySpan<float> positives, ReadOnlySpan<float> negatives, int dim, double alpha = DefaultAlpha)
    {
        if (dim < 1 || anchors.Length % dim != 0 || positives.Length != anchors.Length || negatives.Length != anchors.Length)
        {
            throw new ArgumentException($"Anchors ({anchors.Length}), positives ({positives.Length}) and negatives ({negatives.Length}) must be equal multiples of dim {dim}.");
        }

        double total = 0;
        for (int i = 0; i < anchors.Length / dim; i++)
        {
            var a = anchors.Slice(i * dim, dim);
            total += Math.Max(Squared(a, positives.Slice(i * dim, dim)) - Squared(a, negatives.Slice(i * dim, dim)) + alpha, 0);
        }

        return total;
    }

    /// <summary>The loss of explicit triplets over a set of embeddings.</summary>
    public static double Compute(IReadOnlyList<float[]> embeddings, IEnumerable<Triplet> triplets, double alpha = DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(triplets);
        return triplets.Sum(t => Math.Max(Squared(embeddings[t.Anchor], embeddings[t.Positive]) - Squared(embeddings[t.Anchor], embeddings[t.Negative]) + alpha, 0));
    }

    /// <summary>Chooses triplets from <paramref name="embeddings"/> labeled by <paramref name="labels"/>.</summary>
    public static IReadOnlyList<Triplet> Mine(IReadOnlyList<float[]> embeddings, IReadOnlyList<int> labels, TripletMining mining, double alpha = DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(labels);
        if (embeddings.Count != labels.Count)
        {
            throw new ArgumentException($"{embeddings.Count} embeddings but {labels.Count} labels.");
        }

        int n = embeddings.Count;
        var d = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                d[i, j] = d[j, i] = Squared(embeddings[i], embeddings[j]);
            }
        }

        var result = new List<Triplet>();
        for (int a = 0; a < n; a++)
        {
            if (mining == TripletMining.BatchHard)
            {
                int hardestPositive = -1, hardestNegative = -1;
                for (int j = 0; j < n; j++)
                {
                    if (j == a)
                    {
                        continue;
                    }

                    if (labels[j] == labels[a] && (hardestPositive < 0 || d[a, j] > d[a, hardestPositive]))
                    {
                        hardestPositive = j;
                    }
                    else if (labels[j] != labels[a] && (hardestNegative < 0 || d[a, j] < d[a, hardestNegative]))
                    {
                        hardestNegative = j;
                    }
                }

                if (hardestPositive >= 0 && hardestNegative >= 0)
                {
                    result.Add(new Triplet(a, hardestPositive, hardestNegative));
                }

                continue;
            }

            for (int p = 0; p < n; p++)
            {
                if (p == a || labels[p] != labels[a])
                {
                    continue;
                }

                int chosen = -1;
                for (int q = 0; q < n; q++)
                {
                    if (labels[q] == labels[a])
                    {
                        continue;
                    }

                    if (mining == TripletMining.BatchAll)
                    {
                        if (d[a, p] - d[a, q] + alpha > 0)
                        {
                            result.Add(new Triplet(a, p, q));
                        }
                    }
                    else if (d[a, q] > d[a, p] && d[a, q] < d[a, p] + alpha && (chosen < 0 || d[a, q] < d[a, chosen]))
                    {
                        chosen = q;
                    }
                }

                if (chosen >= 0)
                {
                    result.Add(new Triplet(a, p, chosen));
                }
            }
        }

        return result;
    }

    private static double Squared(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => InceptionNet.Tensors.ElementwiseOps.SquaredDistance(a, b);
}
