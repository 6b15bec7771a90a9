using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;

namespace InceptionNet.Cli.Commands;

/// <summary><c>triplet-loss</c>: the model's triplet loss over a folder of people.</summary>
internal static class TripletLossCommand
{
    public static Command Create(CliConsole console)
    {
        var directory = CliOptions.Paths(new Argument<string>("dir") { Description = "A folder with one sub-folder of photos per person." });
        var alpha = CliOptions.AtLeast(new Option<double>("--alpha") { Description = "Margin α, at least 0.", DefaultValueFactory = _ => TripletLoss.DefaultAlpha }, 0);
        var mining = new Option<string>("--mining") { Description = "Triplet selection.", DefaultValueFactory = _ => "batch-all" };
        mining.AcceptOnlyFromAmong("batch-all", "batch-hard", "semi-hard");
        var model = CliOptions.Model();
        var weights = CliOptions.Weights();
        var json = CliOptions.Json();
        var faces = new FaceOptions();
        var command = new Command("triplet-loss", "Report the triplet loss of the model over labeled photos (the largest face of each).") { model, weights, alpha, mining, json, directory };
        faces.AddTo(command, withLargest: false);
        command.SetAction(async (r, cancellation) =>
        {
            string root = r.GetValue(directory)!;
            if (!Directory.Exists(root))
            {
                throw new InvalidDatasetException($"{root}: folder not found.");
            }

            var people = Directory.GetDirectories(root).Order(StringComparer.Ordinal).ToList();
            var files = new List<string>();
            var labelOf = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int p = 0; p < people.Count; p++)
            {
                foreach (string file in PairDataset.Images(people[p]))
                {
                    files.Add(file);
                    labelOf[file] = p;
                }
            }

            if (people.Count < 2 || labelOf.Values.GroupBy(l => l).All(g => g.Count() < 2))
            {
                throw new InvalidDatasetException($"{root}: needs at least two people and one person with two or more photos.");
            }

            var pipeline = faces.Pipeline(r, ModelRegistry.Get(r.GetValue(model)!), r.GetValue(weights), recordedFaceInput: null);
            var embeddings = new List<float[]>();
            var labels = new List<int>();
            int done = 0;
            await foreach (var photo in pipeline.EncodeAsync(files, largestOnly: true, cancellation: cancellation))
            {
                if (photo.Error is not null)
                {
                    throw new InvalidDatasetException($"{photo.Error} (every labelled photo must be readable).");
                }

                if (photo.NoFace)
                {
                    throw new NoFaceException($"no face found in {photo.Source}.");
                }

                embeddings.Add(photo.Faces[0].Encoding.Embedding);
                labels.Add(labelOf[photo.Source]);
                console.Progress("encoding", ++done, files.Count);
            }

            var kind = r.GetValue(mining) switch { "batch-hard" => TripletMining.BatchHard, "semi-hard" => TripletMining.SemiHard, _ => TripletMining.BatchAll };
            var triplets = TripletLoss.Mine(embeddings, labels, kind, r.GetValue(alpha));
            double loss = TripletLoss.Compute(embeddings, triplets, r.GetValue(alpha));
            double mean = triplets.Count > 0 ? loss / triplets.Count : 0;
            if (r.GetValue(json))
            {
                console.Json(new JsonObject
                {
                    ["people"] = people.Count,
                    ["photos"] = files.Count,
                    ["mining"] = r.GetValue(mining),
                    ["alpha"] = r.GetValue(alpha),
                    ["triplets"] = triplets.Count,
                    ["loss"] = loss,
                    ["mean_loss"] = mean,
                });
            }
            else
            {
                console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{people.Count} people, {files.Count} photos, {r.GetValue(mining)}: {triplets.Count} triplets, loss {loss:F6} (mean {mean:F6}, α = {r.GetValue(alpha)})"));
            }

            return CliApp.Success;
        });
        return command;
    }
}
