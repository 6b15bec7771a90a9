using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Vision;
using InceptionNet.Weights;

namespace InceptionNet.Cli;

/// <summary>enroll, verify, identify, gallery, triplet-loss and demo: the door's commands.</summary>
internal sealed class RecognitionCommands(TextWriter stdout, TextWriter stderr)
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private static readonly string[] CourseDatabase = ["danielle", "younes", "tian", "andrew", "kian", "dan", "sebastiano", "bertrand", "kevin", "felix", "benoit", "arnaud"];

    private readonly Option<string> _gallery = new("--gallery", "-g") { Description = "Gallery file (JSON; created on first enroll).", Required = true };
    private readonly Option<string> _model = CliApp.ModelOption(withDefault: false);
    private readonly Option<string?> _weights = CliApp.WeightsOption();
    private readonly Option<bool> _json = new("--json") { Description = "Machine-readable JSON on stdout." };
    private readonly Option<double?> _threshold = new("--threshold", "-t") { Description = "Decision threshold (default: the gallery's calibrated one, else the model's: 0.7 for facenet/openface)." };
    private readonly FaceInput _faces = new();
    private readonly Option<string> _rule = new("--rule") { Description = "Compare with an identity's closest photo or with the mean of its photos.", DefaultValueFactory = _ => "closest" };

    public IEnumerable<Command> All()
    {
        _rule.AcceptOnlyFromAmong("closest", "mean");
        yield return Enroll();
        yield return Verify();
        yield return Identify();
        yield return GalleryCommand();
        yield return TripletLossCommand();
        yield return Demo();
    }

    private Command Enroll()
    {
        var name = new Option<string>("--name", "-n") { Description = "Identity to add the photos to.", Required = true };
        var photos = new Argument<string[]>("photos") { Description = "Photos of the person (all are kept).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("enroll", "Add photos of a person to a gallery.") { _gallery, name, _model, _weights, _threshold, _json, photos };
        AddFaceOptions(command);
        command.SetAction(r => Run(() =>
        {
            string path = r.GetValue(_gallery)!;
            var encoder = ResolveEncoder(r.GetValue(_model), r.GetValue(_weights), path);
            var files = r.GetValue(photos)!;
            var faces = _faces.Load(r, files); // every photo must decode (and hold a face) before the gallery is touched
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
        }));
        return command;
    }

    private Command Verify()
    {
        var name = new Option<string>("--name", "-n") { Description = "The identity the person claims.", Required = true };
        var photo = new Argument<string>("photo") { Description = "Photo of the person at the door." };
        var command = new Command("verify", "1:1 — is this person who they claim to be? Exit 0 = accepted, 1 = rejected, 2 = error.")
            { _gallery, name, _model, _weights, _threshold, _rule, _json, photo };
        AddFaceOptions(command);
        command.SetAction(r => Run(() =>
        {
            var (recognizer, encoder) = OpenRecognizer(r);
            var result = recognizer.Verify(_faces.Load(r, [r.GetValue(photo)!], largestOnly: true)[0].Face, r.GetValue(name)!);
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
        }));
        return command;
    }

    private Command Identify()
    {
        var margin = new Option<double>("--ambiguity-margin") { Description = "Flag answers whose two nearest identities are closer than this (0 disables).", DefaultValueFactory = _ => 0.02 };
        var photos = new Argument<string[]>("photos") { Description = "Photos to identify.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("identify", "1:K — who is this? Exit 0 = every photo recognized, 1 = some not in the database or ambiguous, 2 = error.")
            { _gallery, _model, _weights, _threshold, _rule, margin, _json, photos };
        AddFaceOptions(command);
        command.SetAction(r => Run(() =>
        {
            var (recognizer, _) = OpenRecognizer(r, r.GetValue(margin));
            var faces = _faces.Load(r, r.GetValue(photos)!);
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
        }));
        return command;
    }

    private Command GalleryCommand()
    {
        var list = new Command("list", "List identities and their photos.") { _gallery, _json };
        list.SetAction(r => Run(() =>
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
        }));

        var removeName = new Option<string>("--name", "-n") { Description = "Identity to remove.", Required = true };
        var remove = new Command("remove", "Remove an identity and all its photos.") { _gallery, removeName };
        remove.SetAction(r => Run(() =>
        {
            using var writer = Gallery.OpenForWrite(r.GetValue(_gallery)!, null);
            writer.Remove(r.GetValue(removeName)!);
            writer.Commit();
            stdout.WriteLine($"Removed {r.GetValue(removeName)}.");
            return CliApp.Success;
        }));

        var from = new Option<string>("--name", "-n") { Description = "Current name.", Required = true };
        var to = new Option<string>("--to") { Description = "New name.", Required = true };
        var rename = new Command("rename", "Rename an identity.") { _gallery, from, to };
        rename.SetAction(r => Run(() =>
        {
            using var writer = Gallery.OpenForWrite(r.GetValue(_gallery)!, null);
            writer.Rename(r.GetValue(from)!, r.GetValue(to)!);
            writer.Commit();
            stdout.WriteLine($"Renamed {r.GetValue(from)} to {r.GetValue(to)}.");
            return CliApp.Success;
        }));

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
        command.SetAction(r => Run(() =>
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
            var images = _faces.Load(r, files, largestOnly: true); // one face per labeled photo
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
        }));
        return command;
    }

    private Command Demo()
    {
        var images = new Option<string>("--images") { Description = "Folder of the course faces.", DefaultValueFactory = _ => Path.Combine("..", "shared", "images", "course") };
        var gallery = new Option<string?>("--gallery", "-g") { Description = "Gallery to build (default: a temporary file)." };
        var model = CliApp.ModelOption();
        var command = new Command("demo", "The course's happy house: build the 12-person database and open the door for camera_0 and camera_2.") { model, _weights, images, gallery };
        command.SetAction(r => Run(() =>
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
        }));
        return command;
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
            Rule = r.GetValue(_rule) == "mean" ? IdentityRule.Mean : IdentityRule.Closest,
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

    private int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (NoFaceException ex)
        {
            stderr.WriteLine($"no face: {ex.Message}");
            return CliApp.Rejected;
        }
        catch (Exception ex) when (ex is GalleryException or InvalidImageException or InvalidWeightsException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return CliApp.Error;
        }
    }
}
