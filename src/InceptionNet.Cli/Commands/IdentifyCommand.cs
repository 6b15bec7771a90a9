using System.CommandLine;
using System.Text.Json.Nodes;

namespace InceptionNet.Cli.Commands;

/// <summary><c>identify</c>: 1:K, who is this, for every face of every photo.</summary>
internal static class IdentifyCommand
{
    public static Command Create(CliConsole console)
    {
        var door = new DoorSetup();
        var margin = CliOptions.AtLeast(new Option<double>("--ambiguity-margin") { Description = "Flag answers whose two nearest identities are closer than this, at least 0 (0 disables).", DefaultValueFactory = _ => 0.02 }, 0);
        var photos = CliOptions.Paths(new Argument<string[]>("photos") { Description = "Photos to identify.", Arity = ArgumentArity.OneOrMore });
        var command = new Command("identify", "1:K — who is this? Every face found is answered (--largest: one per photo). Exit 0 = every face recognized, 1 = some not in the database, ambiguous or no face, 2 = error.")
            { door.Gallery, door.Model, door.Weights, door.Threshold, door.Rule, margin, door.Json, photos };
        door.Faces.AddTo(command);
        command.SetAction(async (r, cancellation) =>
        {
            var (recognizer, pipeline) = door.Recognizer(r, r.GetValue(margin));
            var array = new JsonArray();
            bool allAccepted = true;
            int failures = 0;
            await foreach (var photo in pipeline.EncodeAsync(r.GetValue(photos)!, r.GetValue(door.Faces.Largest), cancellation: cancellation))
            {
                if (photo.Error is not null)
                {
                    console.Stderr.WriteLine($"error: {photo.Error}");
                    failures++;
                    continue;
                }

                if (photo.NoFace)
                {
                    allAccepted = false;
                    console.Stderr.WriteLine($"no face: {photo.Source}");
                    array.Add((JsonNode)new JsonObject { ["image"] = photo.Source, ["identity"] = null, ["accepted"] = false, ["message"] = "no face" });
                    continue;
                }

                foreach (var (face, encoding) in photo.Faces)
                {
                    var x = recognizer.Identify(encoding);
                    allAccepted &= x.Accepted;
                    if (!r.GetValue(door.Json))
                    {
                        console.Stdout.WriteLine($"{face.Label}: {x.Message}");
                        continue;
                    }

                    array.Add((JsonNode)new JsonObject
                    {
                        ["image"] = face.Label,
                        ["box"] = face.Detection is { } d ? new JsonArray([.. d.Box.Select(v => (JsonNode)v)]) : null,
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
            }

            if (r.GetValue(door.Json))
            {
                console.Json(array);
            }

            return failures > 0 ? CliApp.Error : allAccepted ? CliApp.Success : CliApp.Rejected;
        });
        return command;
    }
}
