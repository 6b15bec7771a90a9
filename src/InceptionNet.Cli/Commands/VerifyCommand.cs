using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Vision;

namespace InceptionNet.Cli.Commands;

/// <summary><c>verify</c>: 1:1, is this person who they claim to be.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliConsole console)
    {
        var door = new DoorSetup();
        var name = new Option<string>("--name", "-n") { Description = "The identity the person claims.", Required = true };
        var photo = CliOptions.Paths(new Argument<string>("photo") { Description = "Photo of the person at the door." });
        var command = new Command("verify", "1:1 — is this person who they claim to be? Exit 0 = accepted, 1 = rejected or no face, 2 = error.")
            { door.Gallery, name, door.Model, door.Weights, door.Threshold, door.Rule, door.Json, photo };
        door.Faces.AddTo(command, withLargest: false);
        command.SetAction(r =>
        {
            var (recognizer, pipeline) = door.Recognizer(r);
            string file = r.GetValue(photo)!;
            var faces = pipeline.Prepare(file, ImageDecoder.Decode(file), largestOnly: true);
            if (faces.Count == 0)
            {
                throw new NoFaceException($"no face found in {file}.");
            }

            var result = recognizer.Verify(pipeline.Encoder.Encode(faces[0].Chip), r.GetValue(name)!);
            if (r.GetValue(door.Json))
            {
                console.Json(new JsonObject
                {
                    ["identity"] = result.Identity,
                    ["distance"] = result.Distance,
                    ["threshold"] = result.Threshold,
                    ["accepted"] = result.Accepted,
                    ["message"] = result.Message,
                    ["box"] = faces[0].Detection is { } d ? new JsonArray([.. d.Box.Select(v => (JsonNode)v)]) : null,
                });
            }
            else
            {
                console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.Message} (distance {result.Distance:F7}, threshold {result.Threshold:F2}, {pipeline.Model.Id})"));
            }

            return result.Accepted ? CliApp.Success : CliApp.Rejected;
        });
        return command;
    }
}
