using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using InceptionNet.Pipeline;

namespace InceptionNet.Cli.Commands;

/// <summary><c>embed</c>: the 128-d encoding of each image, or of each face found in it.</summary>
internal static class EmbedCommand
{
    public static Command Create(CliConsole console)
    {
        var model = CliOptions.Model();
        var weights = CliOptions.Weights();
        var batch = CliOptions.AtLeast(new Option<int>("--batch", "-b") { Description = "Faces per forward pass, at least 1.", DefaultValueFactory = _ => 16 }, 1);
        var json = CliOptions.Json("Print a JSON array [{\"image\", \"embedding\", \"raw\", \"box\"}] instead of a summary (box only for detected faces).");
        var images = CliOptions.Paths(new Argument<string[]>("images") { Description = "JPEG or PNG files.", Arity = ArgumentArity.OneOrMore });
        var faces = new FaceOptions();
        var command = new Command("embed", "Print the 128-d encoding of each image (or of each face, when faces are detected).") { model, weights, batch, json, images };
        faces.AddTo(command);
        command.SetAction(async (r, cancellation) =>
        {
            var clock = Stopwatch.StartNew();
            var pipeline = faces.Pipeline(r, ModelRegistry.Get(r.GetValue(model)!), r.GetValue(weights), recordedFaceInput: null);
            var encoder = pipeline.Encoder;
            if (!r.GetValue(json))
            {
                console.Stderr.WriteLine($"Loaded {encoder.ModelId} from {encoder.WeightsSource} in {clock.ElapsedMilliseconds} ms (weights sha256 {encoder.WeightsDigest[..16]}…, {encoder.Level}, faces: {pipeline.Input.Id}).");
            }

            clock.Restart();
            var results = new List<EmbeddingJson.Entry>();
            int failures = 0, faceless = 0, photos = 0;
            await foreach (var photo in pipeline.EncodeAsync(r.GetValue(images)!, r.GetValue(faces.Largest), r.GetValue(batch), cancellation))
            {
                if (photo.Error is not null)
                {
                    console.Stderr.WriteLine($"error: {photo.Error}");
                    failures++;
                    continue;
                }

                if (photo.NoFace)
                {
                    console.Stderr.WriteLine($"no face: {photo.Source}");
                    faceless++;
                    continue;
                }

                photos++;
                foreach (var (face, encoding) in photo.Faces)
                {
                    results.Add(new EmbeddingJson.Entry(face.Label, encoding, face.Detection?.Box));
                    if (!r.GetValue(json))
                    {
                        double norm = Math.Sqrt(encoding.Raw.Sum(v => (double)v * v));
                        console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{face.Label}: {face.Chip.Width}x{face.Chip.Height} → {encoding.Embedding.Length}-d, ‖raw‖ = {norm:F4}, embedding[0..4] = [{string.Join(", ", encoding.Embedding.Take(4).Select(v => v.ToString("F5", CultureInfo.InvariantCulture)))}, …]"));
                    }
                }
            }

            double milliseconds = clock.Elapsed.TotalMilliseconds;
            if (r.GetValue(json))
            {
                EmbeddingJson.Write(console.Stdout, results);
            }
            else if (results.Count > 0)
            {
                string what = pipeline.Input.Detect ? $"face(s) of {photos} image(s)" : "image(s)";
                console.Stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Encoded {results.Count} {what} in {milliseconds:F1} ms ({milliseconds / results.Count:F1} ms per image, batch {r.GetValue(batch)})."));
            }

            return failures > 0 ? CliApp.Error : faceless > 0 ? CliApp.Rejected : CliApp.Success;
        });
        return command;
    }
}
