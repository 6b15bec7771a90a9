using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Detection;
using InceptionNet.Vision;
using InceptionNet.Weights;

namespace InceptionNet.Cli;

/// <summary><c>detect</c>: MTCNN faces, boxes and landmarks of ordinary photos.</summary>
internal static class DetectCommand
{
    /// <summary>Environment variable pointing at the folder with det1/det2/det3.npy.</summary>
    public const string EnvironmentVariable = "INCEPTIONNET_MTCNN";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var weights = new Option<string?>("--mtcnn") { Description = $"Folder with det1.npy, det2.npy, det3.npy. Default: ${EnvironmentVariable}, ./weights/mtcnn, ../shared/weights/mtcnn." };
        var json = new Option<bool>("--json") { Description = "[{\"image\", \"faces\": [{\"box\": [x1, y1, x2, y2], \"probability\", \"landmarks\": [[x, y] × 5]}]}]" };
        var largest = new Option<bool>("--largest") { Description = "Keep only the largest face of each photo." };
        var minFace = new Option<int>("--min-face") { Description = "Smallest face side in pixels.", DefaultValueFactory = _ => 20 };
        var draw = new Option<string?>("--draw") { Description = "Write the photo with boxes and landmarks drawn to this PNG (several photos: OUT_1.png, OUT_2.png, …)." };
        var photos = new Argument<string[]>("photos") { Arity = ArgumentArity.OneOrMore, Description = "Photos." };
        var command = new Command("detect", "Find faces and their 5 landmarks (MTCNN). Landmarks: left eye, right eye, nose, left and right mouth corners.")
            { weights, json, largest, minFace, draw, photos };
        command.SetAction(r =>
        {
            var detector = MtcnnDetector.Load(Resolve(r.GetValue(weights)), new MtcnnOptions { MinFaceSize = Math.Max(r.GetValue(minFace), 12) });

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
                    stderr.WriteLine($"error: {ex.Message}");
                    failures++;
                    continue;
                }
                catch (ArgumentException ex)
                {
                    stderr.WriteLine($"error: {photo}: {ex.Message}");
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
                    stdout.WriteLine($"{photo}: {faces.Count} face(s)" + string.Concat(faces.Select(f => string.Create(CultureInfo.InvariantCulture,
                        $"\n  box [{f.Box[0]:F1}, {f.Box[1]:F1}, {f.Box[2]:F1}, {f.Box[3]:F1}] p = {f.Probability:F4}"))));
                }

                results.Add(new JsonObject
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
                stdout.WriteLine(results.ToJsonString());
            }

            return failures > 0 ? CliApp.Error : CliApp.Success;
        });
        return command;
    }

    public static string Resolve(string? argument)
    {
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(argument))
        {
            candidates.Add(argument);
        }
        else
        {
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(env))
            {
                candidates.Add(env);
            }

            candidates.Add(Path.Combine("weights", "mtcnn"));
            candidates.Add(Path.Combine("..", "shared", "weights", "mtcnn"));
        }

        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, "det1.npy")))
            ?? throw new InvalidWeightsException(argument ?? "mtcnn", $"no det1.npy/det2.npy/det3.npy found (tried {string.Join(", ", candidates)}). Pass --mtcnn DIR or set ${EnvironmentVariable}.");
    }
}
