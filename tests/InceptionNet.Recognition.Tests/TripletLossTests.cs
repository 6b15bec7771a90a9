using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Recognition.Tests;

public sealed class TripletLossTests
{
    [Fact]
    public void Perfect_predictions_give_zero()
    {
        // A = P exactly, N at squared distance 4 > α: every term is max(0 − 4 + 0.2, 0) = 0.
        float[] a = [1, 0, 0, 1], p = [1, 0, 0, 1], n = [-1, 0, 0, -1];
        Assert.Equal(0.0, TripletLoss.Compute(a, p, n, dim: 2));
    }

    [Fact]
    public void Anchor_equal_to_positive_and_negative_gives_alpha_per_triplet()
    {
        float[] a = [0.5f, 0.5f, 1, 2, 3, 4];
        Assert.Equal(3 * 0.2, TripletLoss.Compute(a, a, a, dim: 2), 12);
        Assert.Equal(3 * 0.5, TripletLoss.Compute(a, a, a, dim: 2, alpha: 0.5), 12);
    }

    [Fact]
    public void Mixed_batch_sums_only_positive_terms()
    {
        // Triplet 1: ‖a−p‖² = 1, ‖a−n‖² = 0.25 → 1 − 0.25 + 0.2 = 0.95.
        // Triplet 2: ‖a−p‖² = 0, ‖a−n‖² = 9 → negative → 0.
        // Triplet 3: ‖a−p‖² = 0.25, ‖a−n‖² = 0.36 → 0.25 − 0.36 + 0.2 = 0.09.
        float[] a = [0, 0, 0, 0, 1, 1];
        float[] p = [1, 0, 0, 0, 1, 1.5f];
        float[] n = [0, 0.5f, 3, 0, 1.6f, 1];
        Assert.Equal(0.95 + 0.09, TripletLoss.Compute(a, p, n, dim: 2), 6);
    }

    [Fact]
    public void Mismatched_shapes_are_refused() =>
        Assert.Throws<ArgumentException>(() => TripletLoss.Compute([1, 2, 3], [1, 2, 3], [1, 2], dim: 3));

    // Four 1-d points: person 0 at 0 and 1; person 1 at 1.3 and 3. Squared distances: d(0,1)=1, d(0,2)=1.69,
    // d(0,3)=9, d(1,2)=0.09, d(1,3)=4, d(2,3)=2.89.
    private static readonly float[][] Points = [[0f], [1f], [1.3f], [3f]];
    private static readonly int[] Labels = [0, 0, 1, 1];

    [Fact]
    public void Batch_hard_takes_the_farthest_positive_and_nearest_negative()
    {
        var triplets = TripletLoss.Mine(Points, Labels, TripletMining.BatchHard);
        Assert.Equal([new Triplet(0, 1, 2), new Triplet(1, 0, 2), new Triplet(2, 3, 1), new Triplet(3, 2, 1)], triplets);
    }

    [Fact]
    public void Batch_all_keeps_every_triplet_with_positive_loss()
    {
        var triplets = TripletLoss.Mine(Points, Labels, TripletMining.BatchAll, alpha: 0.2);
        // (0,1,2): 1 − 1.69 + 0.2 < 0 → out; (1,0,2): 1 − 0.09 + 0.2 > 0 → in; (1,0,3): 1 − 4 + 0.2 < 0 → out;
        // (2,3,1): 2.89 − 0.09 + 0.2 > 0 → in; (2,3,0): 2.89 − 1.69 + 0.2 > 0 → in; (3,2,1): 2.89 − 4 + 0.2 < 0 → out.
        Assert.Equal([new Triplet(1, 0, 2), new Triplet(2, 3, 0), new Triplet(2, 3, 1)], triplets.OrderBy(t => t.Anchor).ThenBy(t => t.Negative));
        Assert.Equal((1 - 0.09 + 0.2) + (2.89 - 1.69 + 0.2) + (2.89 - 0.09 + 0.2), TripletLoss.Compute(Points, triplets), 5);
    }

    [Fact]
    public void Semi_hard_needs_a_negative_beyond_the_positive_but_within_alpha()
    {
        // (0,1): negatives 1.69 and 9; 1 < 1.69 < 1 + 0.8 → chosen with α = 0.8, none with α = 0.2.
        Assert.Contains(new Triplet(0, 1, 2), TripletLoss.Mine(Points, Labels, TripletMining.SemiHard, alpha: 0.8));
        Assert.DoesNotContain(TripletLoss.Mine(Points, Labels, TripletMining.SemiHard, alpha: 0.2), t => t.Anchor == 0);
    }
}
