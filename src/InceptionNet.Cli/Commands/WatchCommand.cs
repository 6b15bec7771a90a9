using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
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
        var command = new Command("watch", "Recognize every new frame file that appears in a folder: decision and latency per frame, the largest face of each (Ctrl+C stops). Faces are read as the gallery was enrolled.")
            { door.Gallery, door.Model, door.Weights, door.Threshold, door.Json, maxFrames, idle, folder };
        command.Options.Add(door.Faces.Mtcnn);
        command.SetAction(async (r, cancellation) =>
        {
            string dir = r.GetValue(folder)!;
            if (!Directory.Exists(dir))
            {
                throw new InvalidDatasetException($"{dir}: folder not found.");
            }

            var (recognizer, pipeline) = door.Recognizer(r);
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
                    Report(file, Decide(file, pipeline, recognizer, out var result), result, console, r.GetValue(door.Json));
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

    private static (string Decision, double Milliseconds) Decide(string file, FacePipeline pipeline, FaceRecognizer recognizer, out IdentificationResult? result)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        result = null;
        string decision;
        try
        {
            var faces = pipeline.Prepare(file, ImageDecoder.Decode(file), largestOnly: true);
            result = faces.Count == 0 ? null : recognizer.Identify(pipeline.Encoder.Encode(faces[0].Chip));
            decision = result?.Message ?? "no face";
        }
        catch (InvalidImageException ex)
        {
            decision = $"unreadable ({ex.Problem})";
        }

        return (decision, clock.Elapsed.TotalMilliseconds);
    }

    private static void Report(string file, (string Decision, double Milliseconds) outcome, IdentificationResult? result, CliConsole console, bool json)
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
                ["latency_ms"] = Math.Round(outcome.Milliseconds, 1),
            });
        }
        else
        {
            console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{file}: {outcome.Decision} ({outcome.Milliseconds:F0} ms)"));
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
