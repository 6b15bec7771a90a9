using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;

namespace InceptionNet.Cli.Commands;

/// <summary><c>calibrate</c>: store the threshold that meets a target false accept rate, when the data can support it.</summary>
internal static class CalibrateCommand
{
    public static Command Create(CliConsole console)
    {
        var door = new DoorSetup();
        var far = CliOptions.Far("Target false accept rate; the stored threshold is the largest that meets it.");
        var data = new Option<string?>("--data") { Description = "Labelled photos to calibrate on (a per-person folder or a pairs file), read as the gallery's faces were. Default: the gallery's own photos (needs people with two or more)." };
        var folds = CliOptions.Folds();
        var root = CliOptions.Root();
        var clear = new Option<bool>("--clear") { Description = "Remove the stored threshold (the model default applies again)." };
        var force = new Option<bool>("--force") { Description = "Store the threshold even when too few impostor pairs measure the FAR, or when it loosens the threshold past the closest impostor." };
        var command = new Command("calibrate", "Choose the decision threshold for a target false accept rate and store it in the gallery. Refuses (and keeps the current threshold) when the data cannot support it.")
            { door.Gallery, door.Model, door.Weights, far, data, folds, root, clear, force, door.Json };
        door.Faces.AddTo(command, withLargest: false);
        command.SetAction(async (r, cancellation) =>
        {
            string path = r.GetValue(door.Gallery)!;
            if (r.GetValue(clear))
            {
                Store(path, null);
                console.Stdout.WriteLine($"Stored threshold removed from {path}; the model default applies.");
                return CliApp.Success;
            }

            VerificationEvaluation evaluation;
            Gallery gallery;
            double modelDefault;
            if (r.GetValue(data) is { } labelled)
            {
                var (opened, pipeline) = door.Open(r, mustExist: true);
                gallery = opened!;
                modelDefault = pipeline.Encoder.DefaultThreshold;
                var (pairs, _) = PairDataset.Load(labelled, r.GetValue(root), r.GetValue(folds));
                evaluation = (await EvaluationRunner.ScoreAsync(pipeline, pairs, labelled, (done, total) => console.Progress("encoding", done, total),
                    problem => console.Stderr.WriteLine($"skipped {problem}"), cancellation)).Evaluation;
            }
            else
            {
                gallery = Gallery.Open(path);
                modelDefault = ModelRegistry.Get(gallery.Model.ModelId).DefaultThreshold;
                var pairs = PairDataset.GalleryPairs(gallery, r.GetValue(folds));
                if (!pairs.Any(p => p.Same) || pairs.All(p => p.Same))
                {
                    throw new InvalidDatasetException($"{path}: calibrating on the gallery's own photos needs at least one person with two or more photos and two people; give --data DATA instead.");
                }

                evaluation = new VerificationEvaluation(pairs);
            }

            double current = gallery.Threshold ?? modelDefault;
            var result = Calibration.Calibrate(evaluation, r.GetValue(far), current);
            var p = result.Point;
            bool stored = result.Refusal is null || r.GetValue(force);
            if (stored)
            {
                Store(path, p.Threshold);
            }

            if (r.GetValue(door.Json))
            {
                console.Json(new JsonObject
                {
                    ["stored"] = stored,
                    ["threshold"] = stored ? p.Threshold : current,
                    ["proposed_threshold"] = p.Threshold,
                    ["previous_threshold"] = current,
                    ["target_far"] = p.TargetFar,
                    ["far"] = p.Far,
                    ["tar"] = p.Tar,
                    ["resolvable"] = p.Resolvable,
                    ["genuine_pairs"] = evaluation.Genuine.Count,
                    ["impostor_pairs"] = evaluation.Impostor.Count,
                    ["needed_impostor_pairs"] = result.NeededImpostorPairs,
                    ["refusal"] = result.Refusal,
                });
            }
            else
            {
                string measured = string.Create(CultureInfo.InvariantCulture, $"measured FAR {p.Far:G3}, TAR {p.Tar:P1} on {evaluation.Genuine.Count} genuine / {evaluation.Impostor.Count} impostor pairs");
                console.Stdout.WriteLine(stored
                    ? string.Create(CultureInfo.InvariantCulture, $"Threshold {p.Threshold:F4} stored in {path} (was {current:F4}): {measured}.")
                    : string.Create(CultureInfo.InvariantCulture, $"Threshold kept at {current:F4}: {measured}."));
            }

            if (result.Refusal is not null)
            {
                console.Stderr.WriteLine(stored ? $"warning: stored with --force although {result.Refusal}." : $"refused: {result.Refusal}. Add --force to store {p.Threshold:F4} anyway.");
            }

            return stored ? CliApp.Success : CliApp.Rejected;
        });
        return command;
    }

    private static void Store(string path, double? threshold)
    {
        using var writer = Gallery.OpenForWrite(path, null);
        writer.SetThreshold(threshold);
        writer.Commit();
    }
}
