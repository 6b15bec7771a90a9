using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Detection;
using InceptionNet.Pipeline;
using InceptionNet.Vision;

namespace InceptionNet.Cli.Commands;

/// <summary><c>detect</c>: MTCNN faces, boxes and landmarks, as text, JSON or a drawing.</summary>
internal static class DetectCommand
{
    public static Command Create(CliConsole console)
    {
        var weights = new Option<string?>("--mtcnn") { Description = $"Folder with det1.npy, det2.npy, det3.npy. Default: ${ModelRegistry.MtcnnEnvironmentVariable}, ./weights/mtcnn, ../shared/weights/mtcnn." };
        var json = CliOptions.Json("Print JSON: [{\"image\", \"faces\": [{\"box\", \"probability\", \"landmarks\"}]}].");
        var largest = new Option<bool>("--largest") { Description = "Keep only the largest face of each photo." };
        var minFace = CliOptions.AtLeast(new Option<int>("--min-face") { Description = "Smallest face side in pixels, at least 12 (MTCNN's own minimum).", DefaultValueFactory = _ => 20 }, 12);
        var draw = new Option<string?>("--draw") { Description = "Write the photo with boxes and landmarks drawn to this PNG (several photos: OUT_1.png, OUT_2.png, …)." };
        var photos = CliOptions.Paths(new Argument<string[]>("photos") { Arity = ArgumentArity.OneOrMore, Description = "Photos." });
        var command = new Command("detect", "Find faces and their 5 landmarks (MTCNN). Landmarks: left eye, right eye, nose, left and right mouth corners.")
            { weights, json, largest, minFace, draw, photos };
        command.SetAction(r =>
        {
            var detector = MtcnnDetector.Load(ModelRegistry.FindMtcnn(r.GetValue(weights)), new MtcnnOptions { MinFaceSize = r.GetValue(minFace) });
            var results = new JsonArray();
            int failures = 0;
            var files = r.GetValue(photos)!;
            for (int index = 0; index < files.Length; index++)
            {
                string photo = files[index];
                IReadOnlyList<DetectedFace> faces;
                RgbImage image;
                try
                {
                    image = ImageDecoder.Decode(photo);
                    faces = detector.Detect(image);
                }
                catch (InvalidImageException ex)
                {
                    console.Stderr.WriteLine($"error: {ex.Message}");
                    failures++;
                    continue;
                }
                catch (ArgumentException ex)
                {
                    console.Stderr.WriteLine($"error: {photo}: {ex.Message}");
                    failures++;
                    continue;
                }

                if (r.GetValue(largest) && faces.Count > 1)
                {
                    faces = [faces.MaxBy(f => f.Area)!];
                }

                if (r.GetValue(draw) is { } drawPath)
                {
                    string target = files.Length == 1 ? drawPath : Path.Combine(Path.GetDirectoryName(drawPath) ?? string.Empty, $"{Path.GetFileNameWithoutExtension(drawPath)}_{index + 1}.png");
                    PngEncoder.Write(target, DetectionDrawing.Draw(image, faces));
                }

                if (!r.GetValue(json))
                {
                    console.Stdout.WriteLine($"{photo}: {faces.Count} face(s)" + string.Concat(faces.Select(f => string.Create(CultureInfo.InvariantCulture,
                        $"\n  box [{f.Box[0]:F1}, {f.Box[1]:F1}, {f.Box[2]:F1}, {f.Box[3]:F1}] p = {f.Probability:F4}"))));
                }

                MemoryCeiling.AfterPhoto();
                results.Add((JsonNode)new JsonObject
                {
                    ["image"] = photo,
                    ["faces"] = new JsonArray(faces.Select(f => (JsonNode)new JsonObject
                    {
                        ["box"] = new JsonArray(f.Box.Select(v => (JsonNode)v).ToArray()),
                        ["probability"] = f.Probability,
                        ["landmarks"] = new JsonArray(f.Landmarks.Select(p => (JsonNode)new JsonArray(p.X, p.Y)).ToArray()),
                    }).ToArray()),
                });
            }

            if (r.GetValue(json))
            {
                console.Json(results);
            }

            return failures > 0 ? CliApp.Error : CliApp.Success;
        });
        return command;
    }
}
