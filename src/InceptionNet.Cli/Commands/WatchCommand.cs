using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.Server.Door;
using InceptionNet.Vision;

namespace InceptionNet.Cli.Commands;

/// <summary><c>watch</c>: a decision for every new frame file a camera drops into a folder.</summary>
internal static class WatchCommand
{
    public static Command Create(CliConsole console)
    {
        var door = new DoorSetup();
        var folder = CliOptions.Paths(new Argument<string>("dir") { Description = "Folder a camera drops frame files into." });
        var maxFrames = CliOptions.AtLeast(new Option<int>("--max-frames") { Description = "Stop after this many frames (0 = never).", DefaultValueFactory = _ => 0 }, 0);
        var idle = CliOptions.AtLeast(new Option<double>("--idle-timeout") { Description = "Stop after this many seconds without a new frame (0 = never).", DefaultValueFactory = _ => 0 }, 0);
        var doorSettings = new Option<string?>("--door-settings")
        {
            Description = "The door rule as JSON (votes, window, window_seconds, min_face_side, min_sharpness, cooldown_seconds). "
                + "Default: the gallery's side file NAME.door.json beside NAME.gallery.json (as serve keeps it), else the defaults.",
        };
        var command = new Command("watch", "Recognize every new frame file that appears in a folder: decision and latency per frame, the largest face of each, and the door's "
            + "multi-frame decision (the same rule as serve's /door; a frame's time is its file's write time). Ctrl+C stops. Faces are read as the gallery was enrolled.")
            { door.Gallery, door.Model, door.Weights, door.Threshold, door.Json, maxFrames, idle, doorSettings, folder };
        command.Options.Add(door.Faces.Mtcnn);
        command.SetAction(async (r, cancellation) =>
        {
            string dir = r.GetValue(folder)!;
            if (!Directory.Exists(dir))
            {
                throw new InvalidDatasetException($"{dir}: folder not found.");
            }

            var (recognizer, pipeline) = door.Recognizer(r);
            var voter = new DoorVoter(DoorRuleFor(r.GetValue(doorSettings), r.GetValue(door.Gallery)!));
            var seen = new HashSet<string>(Directory.GetFiles(dir), StringComparer.Ordinal); // frames already there are not new
            int frames = 0, limit = r.GetValue(maxFrames);
            var lastFrame = DateTime.UtcNow;
            console.Stderr.WriteLine($"Watching {dir} for new frames…"); // also with --json: the decisions go to stdout, and a caller can wait for this line
            while (!cancellation.IsCancellationRequested && (limit == 0 || frames < limit))
            {
                foreach (string file in Directory.GetFiles(dir).Where(f => PairDataset.IsImage(f) && !seen.Contains(f)).Order(StringComparer.Ordinal))
                {
                    if (!IsComplete(file))
                    {
                        continue; // still being written; look again on the next pass
                    }

                    seen.Add(file);
                    frames++;
                    lastFrame = DateTime.UtcNow;
                    var outcome = Decide(file, pipeline, recognizer, voter, out var result, out var atDoor);
                    Report(file, outcome, result, atDoor, console, r.GetValue(door.Json));
                    if (limit > 0 && frames >= limit)
                    {
                        break;
                    }
                }

                if (r.GetValue(idle) > 0 && (DateTime.UtcNow - lastFrame).TotalSeconds > r.GetValue(idle))
                {
                    break;
                }

                try
                {
                    await Task.Delay(100, cancellation);
                }
                catch (OperationCanceledException)
                {
                    break; // Ctrl+C: stop watching, not an error
                }
            }

            return CliApp.Success;
        });
        return command;
    }

    // --door-settings, else the side file serve keeps beside the gallery (DATA/NAME.door.json), else the defaults.
    private static DoorRule DoorRuleFor(string? settings, string gallery)
    {
        string? path = settings;
        if (path is null && gallery.EndsWith(".gallery.json", StringComparison.Ordinal))
        {
            path = gallery[..^".gallery.json".Length] + ".door.json";
            path = File.Exists(path) ? path : null;
        }

        try
        {
            return path is null ? new DoorRule() : DoorSettingsJson.ParseRule(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is FormatException or IOException)
        {
            throw new InvalidDatasetException($"{path}: {ex.Message}");
        }
    }

    // The largest face is identified (as before); every face counts for the door, which wants exactly one in view.
    private static (string Decision, double Milliseconds) Decide(string file, FacePipeline pipeline, FaceRecognizer recognizer, DoorVoter voter,
        out IdentificationResult? result, out DoorDecision? atDoor)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        result = null;
        atDoor = null;
        string decision;
        try
        {
            var at = new DateTimeOffset(File.GetLastWriteTimeUtc(file));
            var faces = pipeline.Prepare(file, ImageDecoder.Decode(file), largestOnly: false).OrderByDescending(f => f.Detection?.Area ?? double.MaxValue).ToList();
            result = faces.Count == 0 ? null : recognizer.Identify(pipeline.Encoder.Encode(faces[0].Chip));
            decision = result?.Message ?? "no face";
            double side = faces.Count == 0 ? 0 : FaceQuality.Side(faces[0]);
            double sharpness = faces.Count == 0 ? 0 : FaceQuality.Sharpness(faces[0].Chip);
            atDoor = voter.Observe(new DoorFrame(at, faces.Count, side, sharpness, result?.Identity, result is null || !double.IsFinite(result.Distance) ? null : result.Distance));
        }
        catch (InvalidImageException ex)
        {
            decision = $"unreadable ({ex.Problem})";
        }

        return (decision, clock.Elapsed.TotalMilliseconds);
    }

    private static void Report(string file, (string Decision, double Milliseconds) outcome, IdentificationResult? result, DoorDecision? atDoor, CliConsole console, bool json)
    {
        if (json)
        {
            console.Json(new JsonObject
            {
                ["frame"] = file,
                ["identity"] = result?.Identity,
                ["distance"] = result is null || !double.IsFinite(result.Distance) ? null : result.Distance,
                ["accepted"] = result?.Accepted ?? false,
                ["message"] = outcome.Decision,
                ["door"] = atDoor?.Code,
                ["door_message"] = atDoor?.Message,
                ["opened"] = atDoor?.Announce ?? false,
                ["latency_ms"] = Math.Round(outcome.Milliseconds, 1),
            });
        }
        else
        {
            string doorLine = atDoor is null ? "" : $"; door: {atDoor.Message}{(atDoor.Announce ? " [OPEN]" : "")}";
            console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{file}: {outcome.Decision}{doorLine} ({outcome.Milliseconds:F0} ms)"));
        }

        console.Stdout.Flush();
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
}
