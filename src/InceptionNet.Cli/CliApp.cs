using System.CommandLine;
using System.Diagnostics;
using InceptionNet.Models;
using InceptionNet.Tensors;
using InceptionNet.Vision;
using InceptionNet.Weights;

namespace InceptionNet.Cli;

/// <summary>The command tree; <see cref="Run"/> is what <c>inceptionnet</c> executes.</summary>
public static class CliApp
{
    /// <summary>Exit code: success.</summary>
    public const int Success = 0;

    /// <summary>Exit code: an input or weights problem; the message is on stderr.</summary>
    public const int Error = 2;

    /// <summary>Parses <paramref name="args"/> and runs the command, writing to the given streams.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("InceptionNet: pure-managed face recognition (FaceNet, OpenFace) from Keras h5 weights.");
        var verbose = new Option<bool>("--verbose") { Description = "On an error, also print the stack trace (for bug reports).", Recursive = true };
        root.Options.Add(verbose);
        root.Subcommands.Add(EmbedCommand(stdout, stderr));
        root.Subcommands.Add(DetectCommand.Create(stdout, stderr));
        foreach (var command in new RecognitionCommands(stdout, stderr).All())
        {
            root.Subcommands.Add(command);
        }
        ParseResult parsed;
        try
        {
            parsed = root.Parse(args);
        }
        catch (Exception failure)
        {
            return CliErrors.Report(failure, args.Contains("--json"), args.Contains("--verbose"), stdout, stderr);
        }

        bool json = parsed.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--json") is Option<bool> jsonOption && parsed.GetValue(jsonOption);
        if (parsed.Errors.Count > 0)
        {
            // Usage errors are errors like any other (exit 2), so a caller can tell them from a rejection (exit 1).
            if (json)
            {
                stdout.WriteLine(new System.Text.Json.Nodes.JsonObject { ["error"] = string.Join(" ", parsed.Errors.Select(e => e.Message)), ["exit_code"] = Error }.ToJsonString());
            }

            foreach (var error in parsed.Errors)
            {
                stderr.WriteLine($"error: {error.Message}");
            }

            stderr.WriteLine("Run 'inceptionnet --help' or 'inceptionnet <command> --help' for usage.");
            return Error;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception failure)
        {
            return CliErrors.Report(failure, json, parsed.GetValue(verbose), stdout, stderr);
        }
    }

    /// <summary>Exit code: the face was rejected or is not in the database.</summary>
    public const int Rejected = 1;

    /// <summary>The <c>--model</c> option shared by every command that encodes (no default when a gallery can supply it).</summary>
    internal static Option<string> ModelOption(bool withDefault = true)
    {
        var option = new Option<string>("--model", "-m")
        {
            Description = "Model: facenet (Inception-ResNet-v1, 160×160), openface (course nn4.small2, 96×96) or openface-keras (Keras-OpenFace graph with LRN and L2 pooling) or faceapi (face-api's ResNet-34 descriptor, 150×150, threshold 0.6)."
                + (withDefault ? string.Empty : " Default: the gallery's model, else facenet."),
        };
        if (withDefault)
        {
            option.DefaultValueFactory = _ => "facenet";
        }

        option.AcceptOnlyFromAmong([.. FaceModels.Ids]);
        return option;
    }

    /// <summary>The <c>--weights</c> option shared by every command that encodes.</summary>
    internal static Option<string?> WeightsOption() => new("--weights", "-w")
    {
        Description = $"Keras .h5 file, course OpenFace CSV directory, or TensorFlow.js manifest (or its folder) for faceapi. Default: ${WeightsLoader.EnvironmentVariable}, then ./weights/…, then ../shared/weights/….",
    };

    private static Command EmbedCommand(TextWriter stdout, TextWriter stderr)
    {
        var model = ModelOption();
        var weights = WeightsOption();
        var batch = new Option<int>("--batch", "-b") { Description = "Images per forward pass.", DefaultValueFactory = _ => 16 };
        batch.Validators.Add(r =>
        {
            // Read the token, not the converted value: a token that is not a number is the parser's error to report,
            // and asking for its value here would throw.
            if (r.Tokens is [{ } token] && int.TryParse(token.Value, System.Globalization.CultureInfo.InvariantCulture, out int value) && value < 1)
            {
                r.AddError("--batch must be at least 1.");
            }
        });
        var json = new Option<bool>("--json") { Description = "Print a JSON array [{\"image\", \"embedding\", \"raw\"}] instead of a summary." };
        var images = new Argument<string[]>("images") { Description = "JPEG or PNG files.", Arity = ArgumentArity.OneOrMore };
        var faces = new FaceInput();
        var command = new Command("embed", "Print the 128-d encoding of each image (or of each face, with --detect).") { model, weights, batch, json, images };
        foreach (var option in faces.Options)
        {
            command.Options.Add(option);
        }

        command.SetAction(result => Embed(result.GetValue(model)!, result.GetValue(weights), result.GetValue(batch), result.GetValue(json),
            faces.FinderFor(result, result.GetValue(model)!),
            result.GetValue(images)!, stdout, stderr));
        return command;
    }

    private static int Embed(string modelId, string? weightsPath, int batchSize, bool json, FaceFinder? finder, string[] images, TextWriter stdout, TextWriter stderr)
    {
        var clock = Stopwatch.StartNew();
        var encoder = FaceModels.Resolve(modelId, weightsPath);

        if (!json)
        {
            stderr.WriteLine($"Loaded {encoder.ModelId} from {encoder.WeightsSource} in {clock.ElapsedMilliseconds} ms (weights sha256 {encoder.WeightsDigest[..16]}…, {encoder.Level}, {WorkerPool.Shared.WorkerCount} threads).");
        }

        // Decode everything first: a bad file is reported by name and the good ones are still encoded.
        var decoded = new List<(string Path, RgbImage Image)>();
        int failures = 0;
        bool noFace = false;
        foreach (string path in images)
        {
            try
            {
                decoded.Add((path, ImageDecoder.Decode(path)));
            }
            catch (InvalidImageException ex)
            {
                stderr.WriteLine($"error: {ex.Message}");
                failures++;
            }
        }

        if (finder is not null)
        {
            (decoded, var faceless) = finder.Find(decoded);
            foreach (string path in faceless)
            {
                stderr.WriteLine($"no face: {path}");
            }

            noFace = faceless.Count > 0;
        }

        clock.Restart();
        var encodings = encoder.Encode(decoded.Select(d => d.Image).ToList(), batchSize);
        double milliseconds = clock.Elapsed.TotalMilliseconds;
        if (json)
        {
            EmbeddingJson.Write(stdout, decoded.Select(d => d.Path).ToList(), encodings);
        }
        else
        {
            for (int i = 0; i < decoded.Count; i++)
            {
                var e = encodings[i];
                double norm = Math.Sqrt(e.Raw.Sum(v => (double)v * v));
                stdout.WriteLine($"{decoded[i].Path}: {decoded[i].Image.Width}x{decoded[i].Image.Height} → {e.Embedding.Length}-d, ‖raw‖ = {norm:F4}, embedding[0..4] = [{string.Join(", ", e.Embedding.Take(4).Select(v => v.ToString("F5", System.Globalization.CultureInfo.InvariantCulture)))}, …]");
            }

            if (decoded.Count > 0)
            {
                stderr.WriteLine($"Encoded {decoded.Count} image(s) in {milliseconds:F1} ms ({milliseconds / decoded.Count:F1} ms per image, batch {batchSize}).");
            }
        }

        return failures > 0 ? Error : noFace ? Rejected : Success;
    }
}
