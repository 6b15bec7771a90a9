using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Pipeline.Tests;

public sealed class CalibrationTests
{
    // Genuine pairs at 0.2..0.5, impostor pairs at 0.8 and beyond: n impostors.
    private static VerificationEvaluation Evaluation(int impostors) => new(
        [.. Enumerable.Range(0, 4).Select(i => new ScoredPair(0.2 + i * 0.1, true, i % 2)),
         .. Enumerable.Range(0, impostors).Select(i => new ScoredPair(0.8 + i * 0.001, false, i % 2))]);

    [Fact]
    public void Too_few_impostor_pairs_for_the_far_is_refused_with_the_number_needed()
    {
        var result = Calibration.Calibrate(Evaluation(32), 1e-3, 0.6);
        Assert.Equal(1000, result.NeededImpostorPairs);
        Assert.Equal(32, result.ImpostorPairs);
        Assert.Contains("32 impostor pairs cannot measure a FAR of 0.001: that needs at least 1000", result.Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Loosening_past_the_closest_impostor_is_refused_and_tightening_is_not()
    {
        // 1000 impostors, FAR 1e-2: 10 of them may be accepted, so the threshold lands on the 11th (0.810), past the
        // closest (0.800). From 0.6 that loosens: refused. From 0.9 it tightens: stored.
        var loosen = Calibration.Calibrate(Evaluation(1000), 1e-2, 0.6);
        Assert.Equal(0.810, loosen.Point.Threshold, 9);
        Assert.Contains("would loosen from 0.6000 to 0.8100, past the closest impostor pair (0.8000)", loosen.Refusal, StringComparison.Ordinal);
        Assert.Null(Calibration.Calibrate(Evaluation(1000), 1e-2, 0.9).Refusal);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_far_outside_zero_to_one_is_an_argument_error(double far) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Calibrate(Evaluation(10), far, 0.6));
}
