using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Tensors;
using InceptionNet.Vision;

namespace InceptionNet.Cli;

/// <summary>eval and calibrate: accuracy on labelled photos, and a threshold for a target false accept rate.</summary>
internal sealed partial class RecognitionCommands
{
    private static Option<int> Folds() => new("--folds") { Description = "Cross-validation folds (LFW: 10).", DefaultValueFactory = _ => 10 };

    private static Option<double> Far(string description) => new("--far") { Description = description, DefaultValueFactory = _ => 1e-3 };

    private static Option<string?> Root() => new("--root") { Description = "Folder that relative paths of a pairs file are resolved against (default: the current folder)." };

    private Command Eval()
    {
        var data = new Argument<string>("data") { Description = "A folder with one sub-folder of photos per person, or a pairs file: LFW pairs.txt, or CSV img1,img2,same." };
        var model = CliApp.ModelOption();
        var folds = Folds();
        var far = Far("Report the threshold that keeps the false accept rate at or below this.");
        var root = Root();
        var output = new Option<string>("--out", "-o") { Description = "Folder for report.md, report.html, roc.svg and histogram.svg.", DefaultValueFactory = _ => "eval-report" };
        var command = new Command("eval", "Verification accuracy on labelled photos: distance distributions, ROC/AUC, k-fold accuracy, TAR@FAR, and a report with plots.")
            { data, model, _weights, folds, far, root, output, _json };
        AddFaceOptions(command);
        command.SetAction(r =>
        {
            var encoder = FaceModels.Resolve(r.GetValue(model)!, r.GetValue(_weights));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (evaluation, details) = Score(r, encoder, r.GetValue(data)!, r.GetValue(root), r.GetValue(folds));
            details.Add(string.Create(CultureInfo.InvariantCulture, $"time: {clock.Elapsed.TotalSeconds:F1} s (decode, detect, encode and compare)"));
            var context = new EvaluationContext($"{encoder.ModelId} on {r.GetValue(data)}", encoder.ModelId, encoder.WeightsDigest, details, encoder.DefaultThreshold);
            var (paths, markdown) = EvaluationReport.Write(r.GetValue(output)!, evaluation, context, r.GetValue(far));
            var point = evaluation.AtFar(r.GetValue(far));
            if (r.GetValue(_json))
            {
                var cv = evaluation.CrossValidate();
                var (best, bestAccuracy) = evaluation.BestThreshold();
                WriteJson(new JsonObject
                {
                    ["model"] = encoder.ModelId,
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
                stdout.Write(markdown);
                stdout.WriteLine();
                stdout.WriteLine($"Report: {string.Join(", ", paths)}");
            }

            return CliApp.Success;
        });
        return command;
    }

    private Command Calibrate()
    {
        var far = Far("Target false accept rate; the stored threshold is the largest that meets it.");
        var data = new Option<string?>("--data") { Description = "Labelled photos to calibrate on (a per-person folder or a pairs file). Default: the gallery's own photos (needs people with two or more)." };
        var folds = Folds();
        var root = Root();
        var clear = new Option<bool>("--clear") { Description = "Remove the stored threshold (the model default applies again)." };
        var command = new Command("calibrate", "Choose the decision threshold for a target false accept rate and store it in the gallery.")
            { _gallery, _model, _weights, far, data, folds, root, clear, _json };
        AddFaceOptions(command);
        command.SetAction(r =>
        {
            string path = r.GetValue(_gallery)!;
            var gallery = Gallery.Open(path);
            double? threshold = null;
            VerificationEvaluation? evaluation = null;
            if (!r.GetValue(clear))
            {
                if (r.GetValue(data) is { } labelled)
                {
                    var encoder = ResolveEncoder(r.GetValue(_model), r.GetValue(_weights), path);
                    gallery.EnsureCompatible(ModelStamp.Of(encoder));
                    evaluation = Score(r, encoder, labelled, r.GetValue(root), r.GetValue(folds)).Evaluation;
                }
                else
                {
                    evaluation = new VerificationEvaluation(GalleryPairs(gallery, r.GetValue(folds)));
                }

                threshold = evaluation.AtFar(r.GetValue(far)).Threshold;
            }

            using (var writer = Gallery.OpenForWrite(path, null))
            {
                writer.SetThreshold(threshold);
                writer.Commit();
            }

            var point = evaluation?.AtFar(r.GetValue(far));
            if (r.GetValue(_json))
            {
                WriteJson(new JsonObject
                {
                    ["threshold"] = threshold,
                    ["target_far"] = r.GetValue(far),
                    ["far"] = point?.Far,
                    ["tar"] = point?.Tar,
                    ["resolvable"] = point?.Resolvable,
                    ["genuine_pairs"] = evaluation?.Genuine.Count,
                    ["impostor_pairs"] = evaluation?.Impostor.Count,
                });
            }
            else if (point is { } p)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Threshold {p.Threshold:F4} stored in {path}: measured FAR {p.Far:G3}, TAR {p.Tar:P1} on {evaluation!.Genuine.Count} genuine / {evaluation.Impostor.Count} impostor pairs."));
                if (!p.Resolvable)
                {
                    stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"warning: {evaluation.Impostor.Count} impostor pairs cannot measure a FAR of {p.TargetFar:G3} (need ≥ {Math.Ceiling(1 / p.TargetFar):F0}); the threshold is the smallest impostor distance, so no measured impostor is accepted."));
                }
            }
            else
            {
                stdout.WriteLine($"Stored threshold removed from {path}; the model default applies.");
            }

            return CliApp.Success;
        });
        return command;
    }

    // Every same-person pair (genuine) and cross-person pair (impostor) among a gallery's stored vectors.
    private static List<ScoredPair> GalleryPairs(Gallery gallery, int folds)
    {
        var items = gallery.Identities.SelectMany(i => i.Entries.Select(e => (i.Name, e.Source, e.Embedding))).ToList();
        return AllPairs(items.Select(i => i.Name).ToList(), folds)
            .Select(p => new ScoredPair(ElementwiseOps.Distance(items[p.I].Embedding, items[p.J].Embedding), p.Same, p.Fold, items[p.I].Source, items[p.J].Source))
            .ToList();
    }

    // Labelled pairs → distances. A per-person folder gives every pair; a pairs file gives its own.
    private (VerificationEvaluation Evaluation, List<string> Details) Score(ParseResult r, FaceEncoder encoder, string data, string? root, int folds)
    {
        if (folds < 2)
        {
            throw new GalleryException("--folds must be at least 2.");
        }

        var details = new List<string>();
        List<(string Left, string Right, bool Same, int Fold)> wanted;
        List<string> files;
        if (Directory.Exists(data))
        {
            var people = Directory.GetDirectories(data).Order(StringComparer.Ordinal).ToList();
            var photos = people.SelectMany(p => Directory.GetFiles(p).Where(IsImage).Order(StringComparer.Ordinal).Select(f => (Person: Path.GetFileName(p), File: f))).ToList();
            if (people.Count < 2 || photos.GroupBy(p => p.Person).All(g => g.Count() < 2))
            {
                throw new GalleryException($"{data}: needs sub-folders for at least two people, one of them with two or more photos.");
            }

            details.Add($"data: {people.Count} people, {photos.Count} photos in {data} (every pair; folds by a fixed shuffle)");
            files = photos.Select(p => p.File).ToList();
            wanted = AllPairs(photos.Select(p => p.Person).ToList(), folds)
                .Select(p => (photos[p.I].File, photos[p.J].File, p.Same, p.Fold)).ToList();
        }
        else if (File.Exists(data))
        {
            wanted = PairsFile.Read(data, root, folds);
            files = wanted.SelectMany(p => new[] { p.Left, p.Right }).Distinct(StringComparer.Ordinal).ToList();
            details.Add($"data: pairs file {data}, {wanted.Count} pairs over {files.Count} photos");
        }
        else
        {
            throw new GalleryException($"{data}: no such folder or pairs file.");
        }

        var encodings = EncodeEach(r, encoder, files, details);
        var pairs = new List<ScoredPair>();
        int dropped = 0;
        foreach (var (left, right, same, fold) in wanted)
        {
            if (encodings.TryGetValue(left, out var a) && encodings.TryGetValue(right, out var b))
            {
                pairs.Add(new ScoredPair(a.DistanceTo(b), same, fold, Short(left, data), Short(right, data)));
            }
            else
            {
                dropped++;
            }
        }

        if (dropped > 0)
        {
            details.Add($"{dropped} pair(s) dropped because a photo had no face or could not be read");
        }

        if (!pairs.Any(p => p.Same) || pairs.All(p => p.Same))
        {
            throw new GalleryException($"{data}: after dropping unusable photos there are {pairs.Count(p => p.Same)} genuine and {pairs.Count(p => !p.Same)} impostor pairs; both are needed.");
        }

        return (new VerificationEvaluation(pairs), details);
    }

    // Encodes every photo once (the largest face with --detect); unreadable or faceless photos are reported, not fatal.
    private Dictionary<string, FaceEncoding> EncodeEach(ParseResult r, FaceEncoder encoder, List<string> files, List<string> details)
    {
        var finder = _faces.FinderFor(r, encoder.ModelId, largestOnly: true);
        var result = new Dictionary<string, FaceEncoding>(StringComparer.Ordinal);
        var problems = new List<string>();
        bool quiet = r.GetValue(_json);
        for (int i = 0; i < files.Count; i++)
        {
            try
            {
                var image = ImageDecoder.Decode(files[i]);
                if (finder is not null)
                {
                    var (faces, _) = finder.Find([(files[i], image)]);
                    if (faces.Count == 0)
                    {
                        problems.Add($"{files[i]}: no face");
                        continue;
                    }

                    image = faces[0].Face;
                }

                result[files[i]] = encoder.Encode(image);
            }
            catch (InvalidImageException ex)
            {
                problems.Add(ex.Message);
            }

            Progress("encoding", i + 1, files.Count, quiet);
        }

        foreach (string problem in problems)
        {
            stderr.WriteLine($"skipped {problem}");
        }

        details.Add($"encoded {result.Count} of {files.Count} photos" + (finder is null ? " (whole images, no detection)" : " (largest MTCNN face of each)")
            + (problems.Count > 0 ? $"; skipped: {string.Join("; ", problems)}" : string.Empty));
        return result;
    }

    // Every pair (i < j) of labelled items: genuine when the labels agree. Folds: a fixed-seed shuffle dealt round-robin.
    private static List<(int I, int J, bool Same, int Fold)> AllPairs(List<string> labels, int folds)
    {
        var pairs = new List<(int I, int J, bool Same, int Fold)>();
        for (int i = 0; i < labels.Count; i++)
        {
            for (int j = i + 1; j < labels.Count; j++)
            {
                pairs.Add((i, j, labels[i] == labels[j], 0));
            }
        }

        var order = Enumerable.Range(0, pairs.Count).ToArray();
        new Random(20261123).Shuffle(order);
        for (int k = 0; k < order.Length; k++)
        {
            pairs[order[k]] = pairs[order[k]] with { Fold = k % folds };
        }

        return pairs;
    }

    private static string Short(string path, string data)
    {
        string root = Directory.Exists(data) ? data : Path.GetDirectoryName(Path.GetFullPath(data)) ?? string.Empty;
        string relative = Path.GetRelativePath(root, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }
}

/// <summary>Reads labelled pair lists: LFW <c>pairs.txt</c> and CSV <c>img1,img2,same</c>.</summary>
internal static class PairsFile
{
    /// <summary>
    /// LFW: an optional header "sets pairsPerSet" (or one count), then "name i j" (same person, images
    /// <c>name/name_000i.jpg</c>) or "name1 i name2 j" (different people); folds are the file's contiguous sets.
    /// CSV: <c>img1,img2,same</c> with an optional header; <c>same</c> is 1/0, true/false, yes/no or same/different.
    /// </summary>
    public static List<(string Left, string Right, bool Same, int Fold)> Read(string path, string? root, int folds)
    {
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        string baseDir = root ?? Directory.GetCurrentDirectory();
        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.Combine(baseDir, p);
        var pairs = new List<(string, string, bool)>();
        bool csv = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || (lines.Count > 0 && lines[0].Contains(',', StringComparison.Ordinal));
        for (int n = 0; n < lines.Count; n++)
        {
            string line = lines[n];
            string where = $"{path}:{n + 1}";
            if (csv)
            {
                var cells = line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
                if (cells.Length != 3)
                {
                    throw new GalleryException($"{where}: expected img1,img2,same; got '{line}'.");
                }

                if (n == 0 && !Path.HasExtension(cells[0]) && !Path.HasExtension(cells[1]))
                {
                    continue; // header such as img1,img2,same
                }

                bool? same = cells[2].ToUpperInvariant() switch
                {
                    "1" or "TRUE" or "YES" or "SAME" => true,
                    "0" or "FALSE" or "NO" or "DIFFERENT" => false,
                    _ => null,
                };
                if (same is null)
                {
                    throw new GalleryException($"{where}: '{cells[2]}' is not a same/different label (1/0, true/false, yes/no).");
                }

                pairs.Add((Resolve(cells[0]), Resolve(cells[1]), same.Value));
                continue;
            }

            var t = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (n == 0 && t.All(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out _)) && t.Length <= 2)
            {
                continue; // LFW header
            }

            string Lfw(string name, string index) => int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                ? Resolve(Path.Combine(name, $"{name}_{i:D4}.jpg"))
                : throw new GalleryException($"{where}: '{index}' is not an image number.");
            pairs.Add(t.Length switch
            {
                3 => (Lfw(t[0], t[1]), Lfw(t[0], t[2]), true),
                4 => (Lfw(t[0], t[1]), Lfw(t[2], t[3]), false),
                _ => throw new GalleryException($"{where}: expected 'name i j' or 'name1 i name2 j'; got '{line}'."),
            });
        }

        if (pairs.Count == 0)
        {
            throw new GalleryException($"{path}: no pairs.");
        }

        return pairs.Select((p, i) => (p.Item1, p.Item2, p.Item3, VerificationEvaluation.ContiguousFold(i, pairs.Count, folds))).ToList();
    }
}
