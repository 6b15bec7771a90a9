using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;

namespace InceptionNet.Cli.Commands;

/// <summary><c>eval</c>: verification accuracy on labelled photos, with a report.</summary>
internal static class EvalCommand
{
    public static Command Create(CliConsole console)
    {
        var data = CliOptions.Paths(new Argument<string>("data") { Description = "A folder with one sub-folder of photos per person, or a pairs file: LFW pairs.txt, or CSV img1,img2,same." });
        var model = CliOptions.Model();
        var weights = CliOptions.Weights();
        var folds = CliOptions.Folds();
        var far = CliOptions.Far("Report the threshold that keeps the false accept rate at or below this.");
        var root = CliOptions.Root();
        var output = new Option<string>("--out", "-o") { Description = "Folder for report.md, report.html, roc.svg and histogram.svg (must not hold a report yet, unless --force).", DefaultValueFactory = _ => "eval-report" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing report in --out." };
        var json = CliOptions.Json();
        var faces = new FaceOptions();
        var command = new Command("eval", "Verification accuracy on labelled photos: distance distributions, ROC/AUC, k-fold accuracy, TAR@FAR, and a report with plots.")
            { data, model, weights, folds, far, root, output, force, json };
        faces.AddTo(command, withLargest: false);
        command.SetAction(async (r, cancellation) =>
        {
            // Checked before any photo is read: finding out after minutes of work is the wrong moment.
            string outDir = r.GetValue(output)!;
            if (File.Exists(outDir))
            {
                throw new InvalidDatasetException($"{outDir}: --out must be a folder, and this is a file.");
            }

            if (!r.GetValue(force) && Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            {
                throw new InvalidDatasetException($"{outDir}: already holds files; choose another --out, or add --force to overwrite the report.");
            }

            var (pairs, description) = PairDataset.Load(r.GetValue(data)!, r.GetValue(root), r.GetValue(folds));
            var pipeline = faces.Pipeline(r, ModelRegistry.Get(r.GetValue(model)!), r.GetValue(weights), recordedFaceInput: null);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (evaluation, details) = await EvaluationRunner.ScoreAsync(pipeline, pairs, r.GetValue(data)!,
                (done, total) => console.Progress("encoding", done, total), problem => console.Stderr.WriteLine($"skipped {problem}"), cancellation);
            details.Insert(0, "data: " + description);
            details.Add(string.Create(CultureInfo.InvariantCulture, $"time: {clock.Elapsed.TotalSeconds:F1} s (decode, detect, encode and compare)"));
            var encoder = pipeline.Encoder;
            var context = new EvaluationContext($"{encoder.ModelId} on {r.GetValue(data)}", encoder.ModelId, encoder.WeightsDigest, details, encoder.DefaultThreshold);
            var (paths, markdown) = EvaluationReport.Write(outDir, evaluation, context, r.GetValue(far));
            var point = evaluation.AtFar(r.GetValue(far));
            if (r.GetValue(json))
            {
                var cv = evaluation.CrossValidate();
                var (best, bestAccuracy) = evaluation.BestThreshold();
                console.Json(new JsonObject
                {
                    ["model"] = encoder.ModelId,
                    ["face_input"] = pipeline.Input.Id,
                    ["genuine_pairs"] = evaluation.Genuine.Count,
                    ["impostor_pairs"] = evaluation.Impostor.Count,
                    ["auc"] = evaluation.Auc,
                    ["best_threshold"] = best,
                    ["best_accuracy"] = bestAccuracy,
                    ["cv_accuracy"] = cv.Mean,
                    ["cv_std"] = cv.StandardDeviation,
                    ["tar_at_far"] = new JsonObject(EvaluationReport.StandardFars.Append(r.GetValue(far)).Distinct().Select(f =>
                    {
                        var p = evaluation.AtFar(f);
                        return KeyValuePair.Create(f.ToString("G3", CultureInfo.InvariantCulture),
                            (JsonNode?)new JsonObject { ["tar"] = p.Tar, ["threshold"] = p.Threshold, ["far"] = p.Far, ["resolvable"] = p.Resolvable });
                    })),
                    ["threshold_for_far"] = point.Threshold,
                    ["report"] = paths[0],
                });
            }
            else
            {
                console.Stdout.Write(markdown);
                console.Stdout.WriteLine();
                console.Stdout.WriteLine($"Report: {string.Join(", ", paths)}");
            }

            return CliApp.Success;
        });
        return command;
    }
}
