using InceptionNet.Recognition;

namespace InceptionNet.Pipeline;

/// <summary>What calibration found and whether it may be stored.</summary>
/// <param name="Point">The operating point for the requested FAR.</param>
/// <param name="ImpostorPairs">How many impostor pairs measured it.</param>
/// <param name="NeededImpostorPairs">How many a FAR this small needs to be measured at all (⌈1 / FAR⌉).</param>
/// <param name="ClosestImpostor">The smallest impostor distance.</param>
/// <param name="Refusal">Why the threshold must not be stored without <c>--force</c>, or null.</param>
public sealed record CalibrationResult(FarOperatingPoint Point, int ImpostorPairs, long NeededImpostorPairs, double ClosestImpostor, string? Refusal);

/// <summary>
/// Chooses the threshold that meets a target false accept rate, and says when the data cannot support it: too few
/// impostor pairs to measure the rate, or a threshold that would loosen the current one past the closest impostor.
/// </summary>
public static class Calibration
{
    /// <summary>Calibrates on <paramref name="evaluation"/> for <paramref name="targetFar"/>, given the threshold in force now.</summary>
    public static CalibrationResult Calibrate(VerificationEvaluation evaluation, double targetFar, double currentThreshold)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        if (!(targetFar > 0 && targetFar < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetFar), targetFar, "The false accept rate must be between 0 and 1, exclusive.");
        }

        var point = evaluation.AtFar(targetFar);
        int impostors = evaluation.Impostor.Count;
        long needed = (long)Math.Ceiling(1 / targetFar - 1e-9);
        double closest = evaluation.Impostor[0];
        string? refusal = null;
        if (!point.Resolvable)
        {
            refusal = FormattableString.Invariant($"{impostors} impostor pairs cannot measure a FAR of {targetFar:G3}: that needs at least {needed} (more people, or more photos per person)");
        }
        else if (point.Threshold > currentThreshold && point.Threshold > closest)
        {
            refusal = FormattableString.Invariant($"the threshold would loosen from {currentThreshold:F4} to {point.Threshold:F4}, past the closest impostor pair ({closest:F4})");
        }

        return new CalibrationResult(point, impostors, needed, closest, refusal);
    }
}
