using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InceptionNet.Detection;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Vision;
using InceptionNet.Weights;

namespace InceptionNet.Cli;

/// <summary>enroll, verify, identify, gallery, triplet-loss and demo: the door's commands.</summary>
internal sealed partial class RecognitionCommands(TextWriter stdout, TextWriter stderr)
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private static readonly string[] CourseDatabase = ["danielle", "younes", "tian", "andrew", "kian", "dan", "sebastiano", "bertrand", "kevin", "felix", "benoit", "arnaud"];

    private readonly Option<string> _gallery = new("--gallery", "-g") { Description = "Gallery file (JSON; created on first enroll).", Required = true };
    private readonly Option<string> _model = CliApp.ModelOption(withDefault: false);
    private readonly Option<string?> _weights = CliApp.WeightsOption();
    private readonly Option<bool> _json = new("--json") { Description = "Machine-readable JSON on stdout." };
    private readonly Option<double?> _threshold = new("--threshold", "-t") { Description = "Decision threshold (default: the gallery's calibrated one, else the model's: 0.7 for facenet/openface, 0.6 for faceapi)." };
    private readonly FaceInput _faces = new();
    private readonly Option<string> _rule = new("--rule") { Description = "Compare with an identity's closest photo, with the mean of its photos, or average the distances to its photos (mean-distance: face-api's FaceMatcher).", DefaultValueFactory = _ => "closest" };

    public IEnumerable<Command> All()
    {
        _rule.AcceptOnlyFromAmong("closest", "mean", "mean-distance");
        yield return Enroll();
        yield return Verify();
        yield return Identify();
        yield return GalleryCommand();
        yield return TripletLossCommand();
        yield return Demo();
        yield return Watch();
        yield return Eval();
        yield return Calibrate();
    }

    private Command Enroll()
    {
        var name = new Option<string>("--name", "-n") { Description = "Identity to add the photos to.", Required = true };
        var photos = new Argument<string[]>("photos") { Description = "Photos of the person (all are kept).", Arity = ArgumentArity.ZeroOrMore };
        var fromDir = new Option<string?>("--from-dir") { Description = "Enroll every usable photo or frame of this folder (faces found with MTCNN; frames without a face, or with a face that is too small or blurry, are skipped and reported)." };
        var minFace = new Option<int>("--min-face") { Description = "With --from-dir: smallest usable face side in pixels.", DefaultValueFactory = _ => 40 };
        var minSharpness = new Option<double>("--min-sharpness") { Description = "With --from-dir: smallest variance of the Laplacian of the face chip (lower = blurrier).", DefaultValueFactory = _ => 10.0 };
        var command = new Command("enroll", "Add photos of a person to a gallery.") { _gallery, name, _model, _weights, _threshold, _json, fromDir, minFace, minSharpness, photos };
        AddFaceOptions(command);
        command.SetAction(r =>
        {
            string path = r.GetValue(_gallery)!;
            var encoder = ResolveEncoder(r.GetValue(_model), r.GetValue(_weights), path);
            var files = r.GetValue(photos)!;
            List<(string Label, RgbImage Face)> faces;
            if (r.GetValue(fromDir) is { } folder)
            {
                faces = FramesOf(folder, r.GetValue(_faces.Mtcnn), FaceInput.CutFor(r.GetValue(_faces.Align), encoder.ModelId), r.GetValue(minFace), r.GetValue(minSharpness), r.GetValue(_json));
                if (faces.Count == 0)
                {
                    throw new NoFaceException($"no usable face in {folder}; nothing was enrolled.");
                }
            }
            else if (files.Length == 0)
            {
                throw new GalleryException("give photos to enroll, or --from-dir DIR.");
            }
            else
            {
                faces = _faces.Load(r, files, encoder.ModelId); // every photo must decode (and hold a face) before the gallery is touched
            }

            var encodings = new List<FaceEncoding>();
            for (int i = 0; i < faces.Count; i++)
            {
                encodings.Add(encoder.Encode(faces[i].Face));
                Progress("encoding", i + 1, faces.Count, r.GetValue(_json));
            }

            using var writer = Gallery.OpenForWrite(path, ModelStamp.Of(encoder));
            double threshold = r.GetValue(_threshold) ?? writer.Gallery.Threshold ?? encoder.DefaultThreshold;
            var warnings = writer.Enroll(r.GetValue(name)!, faces.Zip(encodings, (f, e) => (f.Label, e)).ToList(), threshold);
            writer.Commit();
            foreach (string warning in warnings)
            {
                stderr.WriteLine($"warning: {warning}");
            }

            var person = writer.Gallery.Get(r.GetValue(name)!);
            if (r.GetValue(_json))
            {
                WriteJson(new JsonObject { ["identity"] = person.Name, ["added"] = faces.Count, ["photos"] = person.Entries.Count, ["warnings"] = new JsonArray(warnings.Select(w => (JsonNode)w).ToArray()) });
            }
            else
            {
                stdout.WriteLine($"Enrolled {faces.Count} photo(s) of {person.Name} ({person.Entries.Count} in total) into {path}.");
            }

            return CliApp.Success;
        });
        return command;
    }

    private Command Verify()
    {
        var name = new Option<string>("--name", "-n") { Description = "The identity the person claims.", Required = true };
        var photo = new Argument<string>("photo") { Description = "Photo of the person at the door." };
        var command = new Command("verify", "1:1 — is this person who they claim to be? Exit 0 = accepted, 1 = rejected, 2 = error.")
            { _gallery, name, _model, _weights, _threshold, _rule, _json, photo };
        AddFaceOptions(command);
        command.SetAction(r =>
        {
            var (recognizer, encoder) = OpenRecognizer(r);
            var result = recognizer.Verify(_faces.Load(r, [r.GetValue(photo)!], encoder.ModelId, largestOnly: true)[0].Face, r.GetValue(name)!);
            if (r.GetValue(_json))
            {
                WriteJson(new JsonObject
                {
                    ["identity"] = result.Identity,
                    ["distance"] = result.Distance,
                    ["threshold"] = result.Threshold,
                    ["accepted"] = result.Accepted,
                    ["message"] = result.Message,
                });
            }
            else
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.Message} (distance {result.Distance:F7}, threshold {result.Threshold:F2}, {encoder.ModelId})"));
            }

            return result.Accepted ? CliApp.Success : CliApp.Rejected;
        });
        return command;
    }

    private Command Identify()
    {
        var margin = new Option<double>("--ambiguity-margin") { Description = "Flag answers whose two nearest identities are closer than this (0 disables).", DefaultValueFactory = _ => 0.02 };
        var photos = new Argument<string[]>("photos") { Description = "Photos to identify.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("identify", "1:K — who is this? Exit 0 = every photo recognized, 1 = some not in the database or ambiguous, 2 = error.")
            { _gallery, _model, _weights, _threshold, _rule, margin, _json, photos };
        AddFaceOptions(command);
        command.SetAction(r =>
        {
            var (recognizer, encoder) = OpenRecognizer(r, r.GetValue(margin));
            var faces = _faces.Load(r, r.GetValue(photos)!, encoder.ModelId);
            var files = faces.Select(f => f.Label).ToArray();
            var results = faces.Select(f => recognizer.Identify(f.Face)).ToList();
            if (r.GetValue(_json))
            {
                var array = new JsonArray();
                for (int i = 0; i < files.Length; i++)
                {
                    var x = results[i];
                    array.Add(new JsonObject
                    {
                        ["image"] = files[i],
                        ["identity"] = x.Identity,
                        ["nearest"] = x.Nearest,
                        ["distance"] = double.IsFinite(x.Distance) ? x.Distance : null,
                        ["runner_up"] = x.RunnerUp,
                        ["runner_up_distance"] = x.RunnerUpDistance,
                        ["margin"] = x.Margin,
                        ["threshold"] = x.Threshold,
                        ["ambiguous"] = x.Ambiguous,
                        ["accepted"] = x.Accepted,
                        ["message"] = x.Message,
                    });
                }

                WriteJson(array);
            }
            else
            {
                for (int i = 0; i < files.Length; i++)
                {
                    stdout.WriteLine($"{files[i]}: {results[i].Message}");
                }
            }

            return results.All(x => x.Accepted) ? CliApp.Success : CliApp.Rejected;
        });
        return command;
    }

    private Command GalleryCommand()
    {
        var list = new Command("list", "List identities and their photos.") { _gallery, _json };
        list.SetAction(r =>
        {
            var gallery = Gallery.Open(r.GetValue(_gallery)!);
            if (r.GetValue(_json))
            {
                WriteJson(new JsonObject
                {
                    ["model"] = gallery.Model.ModelId,
                    ["weights_sha256"] = gallery.Model.WeightsDigest,
                    ["threshold"] = gallery.Threshold,
                    ["identities"] = new JsonArray(gallery.Identities.Select(i => (JsonNode)new JsonObject
                    {
                        ["name"] = i.Name,
                        ["photos"] = new JsonArray(i.Entries.Select(e => (JsonNode)e.Source).ToArray()),
                    }).ToArray()),
                });
            }
            else
            {
                stdout.WriteLine($"{gallery.Path}: {gallery.Identities.Count} identities, {gallery.EntryCount} photos, model {gallery.Model.ModelId} (weights {gallery.Model.WeightsDigest[..12]}…)");
                foreach (var identity in gallery.Identities)
                {
                    stdout.WriteLine($"  {identity.Name} ({identity.Entries.Count}): {string.Join(", ", identity.Entries.Select(e => e.Source))}");
                }
            }

            return CliApp.Success;
        });

        var removeName = new Option<string>("--name", "-n") { Description = "Identity to remove.", Required = true };
        var remove = new Command("remove", "Remove an identity and all its photos.") { _gallery, removeName };
        remove.SetAction(r =>
        {
            using var writer = Gallery.OpenForWrite(r.GetValue(_gallery)!, null);
            writer.Remove(r.GetValue(removeName)!);
            writer.Commit();
            stdout.WriteLine($"Removed {r.GetValue(removeName)}.");
            return CliApp.Success;
        });

        var from = new Option<string>("--name", "-n") { Description = "Current name.", Required = true };
        var to = new Option<string>("--to") { Description = "New name.", Required = true };
        var rename = new Command("rename", "Rename an identity.") { _gallery, from, to };
        rename.SetAction(r =>
        {
            using var writer = Gallery.OpenForWrite(r.GetValue(_gallery)!, null);
            writer.Rename(r.GetValue(from)!, r.GetValue(to)!);
            writer.Commit();
            stdout.WriteLine($"Renamed {r.GetValue(from)} to {r.GetValue(to)}.");
            return CliApp.Success;
        });

        return new Command("gallery", "Inspect or edit a gallery.") { list, remove, rename };
    }

    private Command TripletLossCommand()
    {
        var directory = new Argument<string>("dir") { Description = "A folder with one sub-folder of photos per person." };
        var alpha = new Option<double>("--alpha") { Description = "Margin α.", DefaultValueFactory = _ => TripletLoss.DefaultAlpha };
        var mining = new Option<string>("--mining") { Description = "Triplet selection.", DefaultValueFactory = _ => "batch-all" };
        mining.AcceptOnlyFromAmong("batch-all", "batch-hard", "semi-hard");
        var model = CliApp.ModelOption();
        var command = new Command("triplet-loss", "Report the triplet loss of the model over labeled photos.") { model, _weights, alpha, mining, _json, directory };
        command.Options.Add(_faces.Detect);
        command.Options.Add(_faces.Mtcnn);
        command.SetAction(r =>
        {
            string root = r.GetValue(directory)!;
            if (!Directory.Exists(root))
            {
                throw new GalleryException($"{root}: folder not found.");
            }

            var people = Directory.GetDirectories(root).Order(StringComparer.Ordinal).ToList();
            var files = new List<string>();
            var labels = new List<int>();
            for (int p = 0; p < people.Count; p++)
            {
                foreach (string file in Directory.GetFiles(people[p]).Where(IsImage).Order(StringComparer.Ordinal))
                {
                    files.Add(file);
                    labels.Add(p);
                }
            }

            if (people.Count < 2 || labels.GroupBy(l => l).All(g => g.Count() < 2))
            {
                throw new GalleryException($"{root}: needs at least two people and one person with two or more photos.");
            }

            var encoder = FaceModels.Resolve(r.GetValue(model)!, r.GetValue(_weights));
            var images = _faces.Load(r, files, encoder.ModelId, largestOnly: true); // one face per labeled photo
            var embeddings = new List<float[]>();
            for (int i = 0; i < images.Count; i++)
            {
                embeddings.Add(encoder.Encode(images[i].Face).Embedding);
                Progress("encoding", i + 1, images.Count, r.GetValue(_json));
            }

            var kind = r.GetValue(mining) switch { "batch-hard" => TripletMining.BatchHard, "semi-hard" => TripletMining.SemiHard, _ => TripletMining.BatchAll };
            var triplets = TripletLoss.Mine(embeddings, labels, kind, r.GetValue(alpha));
            double loss = TripletLoss.Compute(embeddings, triplets, r.GetValue(alpha));
            if (r.GetValue(_json))
            {
                WriteJson(new JsonObject
                {
                    ["people"] = people.Count,
                    ["photos"] = files.Count,
                    ["mining"] = r.GetValue(mining),
                    ["alpha"] = r.GetValue(alpha),
                    ["triplets"] = triplets.Count,
                    ["loss"] = loss,
                    ["mean_loss"] = triplets.Count > 0 ? loss / triplets.Count : 0,
                });
            }
            else
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{people.Count} people, {files.Count} photos, {r.GetValue(mining)}: {triplets.Count} triplets, loss {loss:F6} (mean {(triplets.Count > 0 ? loss / triplets.Count : 0):F6}, α = {r.GetValue(alpha)})"));
            }

            return CliApp.Success;
        });
        return command;
    }

    private Command Demo()
    {
        var images = new Option<string>("--images") { Description = "Folder of the course faces.", DefaultValueFactory = _ => Path.Combine("..", "shared", "images", "course") };
        var gallery = new Option<string?>("--gallery", "-g") { Description = "Gallery to build (default: a temporary file)." };
        var model = CliApp.ModelOption();
        var command = new Command("demo", "The course's happy house: build the 12-person database and open the door for camera_0 and camera_2.") { model, _weights, images, gallery };
        command.SetAction(r =>
        {
            string modelId = r.GetValue(model)!;
            FaceEncoder encoder;
            try
            {
                encoder = FaceModels.Resolve(modelId, r.GetValue(_weights));
            }
            catch (InvalidWeightsException) when (r.GetValue(_weights) is null)
            {
                string synthetic = Path.Combine("..", "shared", "fixtures", modelId == "facenet" ? "facenet-synthetic" : "openface-synthetic", "weights.h5");
                stderr.WriteLine($"note: no real {modelId} weights found; using the synthetic fixture weights {synthetic} (the course's numbers need the real ones).");
                encoder = FaceModels.Load(modelId, synthetic);
            }

            string folder = r.GetValue(images)!;
            string path = r.GetValue(gallery) ?? Path.Combine(Path.GetTempPath(), $"inceptionnet-demo-{Environment.ProcessId}.json");
            if (File.Exists(path) && r.GetValue(gallery) is null)
            {
                File.Delete(path);
            }

            string File_(string name) => Path.Combine(folder, name + (name == "danielle" ? ".png" : ".jpg"));
            using (var writer = Gallery.OpenForWrite(path, ModelStamp.Of(encoder)))
            {
                foreach (string name in CourseDatabase)
                {
                    if (!writer.Gallery.Contains(name))
                    {
                        writer.Enroll(name, [(File_(name), encoder.Encode(ImageDecoder.Decode(File_(name))))], encoder.DefaultThreshold);
                    }
                }

                writer.Commit();
            }

            // The course's who_is_it picks the nearest identity however close the runner-up is: no ambiguity check here.
            var recognizer = new FaceRecognizer(encoder, Gallery.Open(path), new RecognitionOptions { AmbiguityMargin = 0 });
            stdout.WriteLine($"Database: {CourseDatabase.Length} people in {path} ({encoder.ModelId}, weights {encoder.WeightsSource}).");
            foreach (var (photo, claim) in new[] { ("camera_0", "younes"), ("camera_2", "kian") })
            {
                var v = recognizer.Verify(ImageDecoder.Decode(File_(photo)), claim);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verify({photo}.jpg, \"{claim}\"): {v.Message} — distance {v.Distance:F7}, door {(v.Accepted ? "open" : "closed")}"));
            }

            var who = recognizer.Identify(ImageDecoder.Decode(File_("camera_0")));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"who_is_it(camera_0.jpg): {who.Message} (nearest {who.Nearest} at {who.Distance:F7})"));
            if (r.GetValue(gallery) is null)
            {
                File.Delete(path);
                File.Delete(path + ".lock");
            }

            return CliApp.Success;
        });
        return command;
    }

    private Command Watch()
    {
        var folder = new Argument<string>("dir") { Description = "Folder a camera drops frame files into." };
        var maxFrames = new Option<int>("--max-frames") { Description = "Stop after this many frames (0 = never).", DefaultValueFactory = _ => 0 };
        var idle = new Option<double>("--idle-timeout") { Description = "Stop after this many seconds without a new frame (0 = never).", DefaultValueFactory = _ => 0 };
        var command = new Command("watch", "Recognize every new frame file that appears in a folder: decision and latency per frame (Ctrl+C stops).")
            { _gallery, _model, _weights, _threshold, _json, maxFrames, idle, folder };
        command.Options.Add(_faces.Mtcnn);
        command.SetAction(r =>
        {
            string dir = r.GetValue(folder)!;
            if (!Directory.Exists(dir))
            {
                throw new GalleryException($"{dir}: folder not found.");
            }

            var (recognizer, encoder) = OpenRecognizer(r);
            var finder = new FaceFinder(r.GetValue(_faces.Mtcnn), largest: true, FaceInput.CutFor("auto", encoder.ModelId));
            var seen = new HashSet<string>(Directory.GetFiles(dir), StringComparer.Ordinal); // frames already there are not new
            int frames = 0;
            var lastFrame = DateTime.UtcNow;
            stderr.WriteLine($"Watching {dir} for new frames…"); // also with --json: the decisions go to stdout, and a caller can wait for this line

            while (r.GetValue(maxFrames) == 0 || frames < r.GetValue(maxFrames))
            {
                var fresh = Directory.GetFiles(dir).Where(f => IsImage(f) && !seen.Contains(f)).Order(StringComparer.Ordinal).ToList();
                foreach (string file in fresh)
                {
                    if (!IsComplete(file))
                    {
                        continue; // still being written; look again on the next pass
                    }

                    seen.Add(file);
                    frames++;
                    lastFrame = DateTime.UtcNow;
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    string decision;
                    IdentificationResult? result = null;
                    try
                    {
                        var (faces, faceless) = finder.Find([(file, ImageDecoder.Decode(file))]);
                        result = faceless.Count > 0 ? null : recognizer.Identify(faces[0].Face);
                        decision = result?.Message ?? "no face";
                    }
                    catch (InvalidImageException ex)
                    {
                        decision = $"unreadable ({ex.Problem})";
                    }

                    double ms = clock.Elapsed.TotalMilliseconds;
                    if (r.GetValue(_json))
                    {
                        WriteJson(new JsonObject
                        {
                            ["frame"] = file,
                            ["identity"] = result?.Identity,
                            ["distance"] = result is null || !double.IsFinite(result.Distance) ? null : result.Distance,
                            ["accepted"] = result?.Accepted ?? false,
                            ["message"] = decision,
                            ["latency_ms"] = Math.Round(ms, 1),
                        });
                    }
                    else
                    {
                        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{file}: {decision} ({ms:F0} ms)"));
                    }

                    stdout.Flush();
                    if (r.GetValue(maxFrames) > 0 && frames >= r.GetValue(maxFrames))
                    {
                        break;
                    }
                }

                if (r.GetValue(idle) > 0 && (DateTime.UtcNow - lastFrame).TotalSeconds > r.GetValue(idle))
                {
                    break;
                }

                Thread.Sleep(100);
            }

            return CliApp.Success;
        });
        return command;
    }

    // A frame is complete when its size has stopped changing and it can be opened for reading.
    private static bool IsComplete(string file)
    {
        try
        {
            long size = new FileInfo(file).Length;
            Thread.Sleep(20);
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
            return size > 0 && stream.Length == size;
        }
        catch (IOException)
        {
            return false;
        }
    }

    // enroll --from-dir: every image of a folder, the largest face of each, skipping what would make a poor template.
    private List<(string Label, RgbImage Face)> FramesOf(string folder, string? mtcnn, FaceCut cut, int minFace, double minSharpness, bool quiet)
    {
        if (!Directory.Exists(folder))
        {
            throw new GalleryException($"{folder}: folder not found.");
        }

        var files = Directory.GetFiles(folder).Where(IsImage).Order(StringComparer.Ordinal).ToList();
        var detector = MtcnnDetector.Load(DetectCommand.Resolve(mtcnn));
        var kept = new List<(string, RgbImage)>();
        for (int i = 0; i < files.Count; i++)
        {
            string file = files[i];
            string? skip = null;
            try
            {
                var image = ImageDecoder.Decode(file);
                var faces = detector.Detect(image);
                if (faces.Count == 0)
                {
                    skip = "no face";
                }
                else
                {
                    var face = faces.MaxBy(f => f.Area)!;
                    double side = Math.Min(face.Box[2] - face.Box[0], face.Box[3] - face.Box[1]);
                    var chip = FaceFinder.Cut(image, face, cut);
                    double sharpness = Sharpness(chip);
                    if (side < minFace)
                    {
                        skip = string.Create(CultureInfo.InvariantCulture, $"face too small ({side:F0} px < {minFace})");
                    }
                    else if (sharpness < minSharpness)
                    {
                        skip = string.Create(CultureInfo.InvariantCulture, $"face too blurry (sharpness {sharpness:F1} < {minSharpness})");
                    }
                    else
                    {
                        kept.Add((file, chip));
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidImageException or ArgumentException)
            {
                skip = ex.Message;
            }

            if (skip is not null)
            {
                stderr.WriteLine($"{(quiet ? string.Empty : "\n")}skipped {file}: {skip}");
            }

            Progress("frames", i + 1, files.Count, quiet);
        }

        return kept;
    }

    // Variance of the 4-neighbour Laplacian of the grey chip: the usual focus measure.
    private static double Sharpness(RgbImage chip)
    {
        int w = chip.Width, h = chip.Height;
        var grey = new double[w * h];
        for (int p = 0; p < grey.Length; p++)
        {
            grey[p] = 0.299 * chip.Pixels[p * 3] + 0.587 * chip.Pixels[p * 3 + 1] + 0.114 * chip.Pixels[p * 3 + 2];
        }

        double sum = 0, sumSquares = 0;
        int n = 0;
        for (int y = 1; y < h - 1; y++)
        {
            for (int x = 1; x < w - 1; x++)
            {
                double l = grey[(y - 1) * w + x] + grey[(y + 1) * w + x] + grey[y * w + x - 1] + grey[y * w + x + 1] - 4 * grey[y * w + x];
                sum += l;
                sumSquares += l * l;
                n++;
            }
        }

        return n == 0 ? 0 : sumSquares / n - (sum / n) * (sum / n);
    }

    private void AddFaceOptions(Command command)
    {
        foreach (var option in _faces.Options)
        {
            command.Options.Add(option);
        }
    }

    private (FaceRecognizer Recognizer, FaceEncoder Encoder) OpenRecognizer(ParseResult r, double ambiguityMargin = 0.02)
    {
        string path = r.GetValue(_gallery)!;
        var gallery = Gallery.Open(path);
        var encoder = ResolveEncoder(r.GetValue(_model), r.GetValue(_weights), path);
        var options = new RecognitionOptions
        {
            Threshold = r.GetValue(_threshold),
            Rule = r.GetValue(_rule) switch { "mean" => IdentityRule.Mean, "mean-distance" => IdentityRule.MeanDistance, _ => IdentityRule.Closest },
            AmbiguityMargin = ambiguityMargin,
        };
        return (new FaceRecognizer(encoder, gallery, options), encoder);
    }

    // A gallery remembers its model: --model may be omitted when one exists.
    private static FaceEncoder ResolveEncoder(string? modelId, string? weights, string galleryPath)
    {
        string id = modelId ?? (Gallery.Exists(galleryPath) ? Gallery.Open(galleryPath).Model.ModelId : "facenet");
        return FaceModels.Resolve(id, weights);
    }

    private static bool IsImage(string path) =>
        Path.GetExtension(path).ToUpperInvariant() is ".JPG" or ".JPEG" or ".PNG";

    private void Progress(string what, int done, int total, bool quiet)
    {
        if (quiet || total < 4)
        {
            return;
        }

        int width = 30, filled = done * width / total;
        stderr.Write($"\r{what} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total}");
        if (done == total)
        {
            stderr.WriteLine();
        }
    }

    private void WriteJson(JsonNode node) => stdout.WriteLine(node.ToJsonString(Compact));
}
