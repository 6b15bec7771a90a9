using InceptionNet.Models;
using InceptionNet.Recognition;

namespace InceptionNet.Pipeline;

/// <summary>Scores labelled pairs with a pipeline: each photo encoded once (its largest face), then the distances.</summary>
public static class EvaluationRunner
{
    /// <summary>
    /// Encodes every photo of <paramref name="pairs"/> once through <paramref name="pipeline"/> (streaming, batched) and
    /// scores each pair. Photos that cannot be read or hold no face are reported through <paramref name="skipped"/> and
    /// their pairs dropped.
    /// </summary>
    /// <exception cref="InvalidDatasetException">Fewer than one genuine and one impostor pair are left.</exception>
    public static async Task<(VerificationEvaluation Evaluation, List<string> Details)> ScoreAsync(FacePipeline pipeline, IReadOnlyList<LabelledPair> pairs, string data,
        Action<int, int>? progress = null, Action<string>? skipped = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(pairs);
        var files = pairs.SelectMany(p => new[] { p.Left, p.Right }).Distinct(StringComparer.Ordinal).ToList();
        var encodings = new Dictionary<string, FaceEncoding>(StringComparer.Ordinal);
        var problems = new List<string>();
        int done = 0;
        await foreach (var photo in pipeline.EncodeAsync(files, largestOnly: true, cancellation: cancellation))
        {
            if (photo.Error is not null || photo.NoFace)
            {
                string problem = photo.Error ?? $"{photo.Source}: no face";
                problems.Add(problem);
                skipped?.Invoke(problem);
            }
            else
            {
                encodings[photo.Source] = photo.Faces[0].Encoding;
            }

            progress?.Invoke(++done, files.Count);
        }

        var scored = new List<ScoredPair>();
        int dropped = 0;
        foreach (var (left, right, same, fold) in pairs)
        {
            if (encodings.TryGetValue(left, out var a) && encodings.TryGetValue(right, out var b))
            {
                scored.Add(new ScoredPair(a.DistanceTo(b), same, fold, Short(left, data), Short(right, data)));
            }
            else
            {
                dropped++;
            }
        }

        var details = new List<string>
        {
            $"encoded {encodings.Count} of {files.Count} photos as '{pipeline.Input.Id}' ({Gallery.DescribeFaceInput(pipeline.Input.Id)}; the largest face of each)"
                + (problems.Count > 0 ? $"; skipped: {string.Join("; ", problems)}" : string.Empty),
        };
        if (dropped > 0)
        {
            details.Add($"{dropped} pair(s) dropped because a photo had no face or could not be read");
        }

        if (!scored.Any(p => p.Same) || scored.All(p => p.Same))
        {
            throw new InvalidDatasetException($"{data}: after dropping unusable photos there are {scored.Count(p => p.Same)} genuine and {scored.Count(p => !p.Same)} impostor pairs; both are needed.");
        }

        return (new VerificationEvaluation(scored), details);
    }

    private static string Short(string path, string data)
    {
        string root = Directory.Exists(data) ? data : Path.GetDirectoryName(Path.GetFullPath(data)) ?? string.Empty;
        string relative = Path.GetRelativePath(root, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }
}
