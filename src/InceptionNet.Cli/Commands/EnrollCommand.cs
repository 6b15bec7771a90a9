using System.CommandLine;
using System.Text.Json.Nodes;
using InceptionNet.Models;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;

namespace InceptionNet.Cli.Commands;

/// <summary><c>enroll</c>: add photos of a person to a gallery, all or nothing.</summary>
internal static class EnrollCommand
{
    public static Command Create(CliConsole console)
    {
        var door = new DoorSetup();
        var name = new Option<string>("--name", "-n") { Description = "Identity to add the photos to.", Required = true };
        var photos = CliOptions.Paths(new Argument<string[]>("photos") { Description = "Photos of the person (all are kept).", Arity = ArgumentArity.ZeroOrMore });
        var fromDir = new Option<string?>("--from-dir") { Description = "Enroll every usable photo or frame of this folder (the largest MTCNN face of each; frames without a face, or with a face that is too small or blurry, are skipped and reported)." };
        var minFace = CliOptions.AtLeast(new Option<int>("--min-face") { Description = "With --from-dir: smallest usable face side in pixels, at least 1.", DefaultValueFactory = _ => 40 }, 1);
        var minSharpness = CliOptions.AtLeast(new Option<double>("--min-sharpness") { Description = "With --from-dir: smallest variance of the Laplacian of the face chip, at least 0 (lower = blurrier).", DefaultValueFactory = _ => 10.0 }, 0);
        var command = new Command("enroll", "Add photos of a person to a gallery (all of them or, when one fails, none).")
            { door.Gallery, name, door.Model, door.Weights, door.Threshold, door.Json, fromDir, minFace, minSharpness, photos };
        door.Faces.AddTo(command);
        command.SetAction(async (r, cancellation) =>
        {
            string person = r.GetValue(name)!;
            InceptionNet.Recognition.Gallery.ValidateName(person); // before any work: a bad name costs nothing
            string? folder = r.GetValue(fromDir);
            var files = r.GetValue(photos)!;
            if (folder is null && files.Length == 0)
            {
                throw new InvalidDatasetException("give photos to enroll, or --from-dir DIR.");
            }

            // Frames of a folder are ordinary photos: their faces are always found with MTCNN.
            var (existing, pipeline) = door.Open(r, mustExist: false, forced: folder is not null ? FaceInputMode.Detect : null);
            List<(string Label, FaceEncoding Encoding)> enrolled;
            if (folder is not null)
            {
                enrolled = await FromFolder(pipeline, folder, r.GetValue(minFace), r.GetValue(minSharpness), console, r.GetValue(door.Json), cancellation);
                if (enrolled.Count == 0)
                {
                    throw new NoFaceException($"no usable face in {folder}; nothing was enrolled.");
                }
            }
            else
            {
                enrolled = await FromPhotos(pipeline, files, console, cancellation);
            }

            using var writer = InceptionNet.Recognition.Gallery.OpenForWrite(r.GetValue(door.Gallery)!, pipeline.Stamp, faceInput: pipeline.Input.Id);
            double threshold = r.GetValue(door.Threshold) ?? writer.Gallery.Threshold ?? pipeline.Encoder.DefaultThreshold;
            var warnings = writer.Enroll(person, enrolled, threshold);
            writer.Commit();
            foreach (string warning in warnings)
            {
                console.Stderr.WriteLine($"warning: {warning}");
            }

            var entry = writer.Gallery.Get(person);
            if (r.GetValue(door.Json))
            {
                console.Json(new JsonObject { ["identity"] = entry.Name, ["added"] = enrolled.Count, ["photos"] = entry.Entries.Count, ["face_input"] = pipeline.Input.Id, ["warnings"] = new JsonArray([.. warnings.Select(w => (JsonNode)w)]) });
            }
            else
            {
                console.Stdout.WriteLine($"Enrolled {enrolled.Count} photo(s) of {entry.Name} ({entry.Entries.Count} in total) into {r.GetValue(door.Gallery)} (faces: {pipeline.Input.Id}{(existing is null ? ", new gallery" : string.Empty)}).");
            }

            return CliApp.Success;
        });
        return command;
    }

    // Every photo must decode and show a face before the gallery is touched; a photo with several faces enrolls its largest.
    private static async Task<List<(string, FaceEncoding)>> FromPhotos(FacePipeline pipeline, string[] files, CliConsole console, CancellationToken cancellation)
    {
        var result = new List<(string, FaceEncoding)>();
        var errors = new List<string>();
        var faceless = new List<string>();
        int done = 0;
        await foreach (var photo in pipeline.EncodeAsync(files, largestOnly: true, cancellation: cancellation))
        {
            if (photo.Error is not null)
            {
                errors.Add(photo.Error);
            }
            else if (photo.NoFace)
            {
                faceless.Add(photo.Source);
            }
            else
            {
                result.Add((photo.Source, photo.Faces[0].Encoding));
            }

            console.Progress("encoding", ++done, files.Length);
        }

        if (errors.Count > 0)
        {
            throw new InvalidDatasetException($"{string.Join("; ", errors)} ({errors.Count} of {files.Length} photo(s) unreadable; nothing was changed).");
        }

        if (faceless.Count > 0)
        {
            throw new NoFaceException($"no face found in {string.Join(", ", faceless)} (nothing was changed).");
        }

        return result;
    }

    private static async Task<List<(string, FaceEncoding)>> FromFolder(FacePipeline pipeline, string folder, int minFace, double minSharpness, CliConsole console, bool json, CancellationToken cancellation)
    {
        if (!Directory.Exists(folder))
        {
            throw new InvalidDatasetException($"{folder}: folder not found.");
        }

        var files = PairDataset.Images(folder);
        var kept = new List<(string, FaceEncoding)>();
        int done = 0;
        await foreach (var photo in pipeline.EncodeAsync(files, largestOnly: true, cancellation: cancellation))
        {
            string? skip = photo.Error ?? (photo.NoFace ? "no face" : FaceQuality.Reject(photo.Faces[0].Face, minFace, minSharpness));
            if (skip is null)
            {
                kept.Add((photo.Source, photo.Faces[0].Encoding));
            }
            else
            {
                console.Stderr.WriteLine($"{(console.Interactive && !json ? "\n" : string.Empty)}skipped {photo.Source}: {skip}");
            }

            console.Progress("frames", ++done, files.Count);
        }

        return kept;
    }
}
