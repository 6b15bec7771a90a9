using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Pipeline;

namespace InceptionNet.Cli;

/// <summary>Where a command writes, and whether a person is watching (progress bars only on a terminal).</summary>
/// <param name="Stdout">Results (text or JSON).</param>
/// <param name="Stderr">Messages, warnings and progress.</param>
/// <param name="Interactive">stderr is a terminal: progress lines with carriage returns are wanted.</param>
internal sealed record CliConsole(TextWriter Stdout, TextWriter Stderr, bool Interactive)
{
    public void Json(JsonNode node) => Stdout.WriteLine(node.ToJsonString());

    public void Progress(string what, int done, int total)
    {
        if (!Interactive || total < 4)
        {
            return;
        }

        int width = 30, filled = done * width / total;
        Stderr.Write($"\r{what} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total}");
        if (done == total)
        {
            Stderr.WriteLine();
        }
    }
}

/// <summary>The options several commands share, each range-checked where it is declared.</summary>
internal static class CliOptions
{
    public static Option<bool> Json(string description = "Machine-readable JSON on stdout (errors too).") => new("--json") { Description = description };

    /// <summary><c>--model</c>; without a default when a gallery can supply it.</summary>
    public static Option<string?> Model(bool withDefault = true)
    {
        var option = new Option<string?>("--model", "-m")
        {
            Description = "Model: " + string.Join("; ", ModelRegistry.All.Select(m => $"{m.Id} ({m.Description})")) + "."
                + (withDefault ? " Default: facenet." : " Default: the gallery's model, else facenet."),
        };
        if (withDefault)
        {
            option.DefaultValueFactory = _ => "facenet";
        }

        option.AcceptOnlyFromAmong([.. ModelRegistry.Ids]);
        return option;
    }

    public static Option<string?> Weights() => new("--weights", "-w")
    {
        Description = "Keras .h5 file, course OpenFace CSV folder, or TensorFlow.js manifest (or its folder) for faceapi. Default: $INCEPTIONNET_WEIGHTS, then ./weights/…, then ../shared/weights/….",
    };

    public static Option<string> Gallery() => new("--gallery", "-g") { Description = "Gallery file (JSON; created on first enroll).", Required = true };

    public static Option<double?> Threshold() => Positive(new Option<double?>("--threshold", "-t")
    {
        Description = "Decision threshold, > 0 (default: the gallery's calibrated one, else the model's: 0.7 for facenet/openface, 0.6 for faceapi).",
    });

    public static Option<string> Rule()
    {
        var option = new Option<string>("--rule")
        {
            Description = "Compare with an identity's closest photo, with the mean of its photos, or average the distances to its photos (mean-distance: face-api's FaceMatcher).",
            DefaultValueFactory = _ => "closest",
        };
        option.AcceptOnlyFromAmong("closest", "mean", "mean-distance");
        return option;
    }

    public static Option<double> Far(string description) => Probability(new Option<double>("--far") { Description = description + " Between 0 and 1, exclusive.", DefaultValueFactory = _ => 1e-3 });

    public static Option<int> Folds() => AtLeast(new Option<int>("--folds") { Description = "Cross-validation folds, at least 2 (LFW: 10).", DefaultValueFactory = _ => 10 }, 2);

    public static Option<string?> Root() => new("--root") { Description = "Folder that relative paths of a pairs file are resolved against (default: the current folder)." };

    /// <summary>Files or folders: a token that looks like an option is an unknown option, not a file name.</summary>
    public static Argument<T> Paths<T>(Argument<T> argument)
    {
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.Length > 1 && token.Value[0] == '-')
                {
                    result.AddError($"unknown option '{token.Value}'.");
                }
            }
        });
        return argument;
    }

    public static Option<int> AtLeast(Option<int> option, int minimum) =>
        Checked(option, v => v >= minimum, $"must be at least {minimum}");

    public static Option<double> AtLeast(Option<double> option, double minimum) =>
        Checked(option, v => v >= minimum, FormattableString.Invariant($"must be at least {minimum}"));

    public static Option<double?> Positive(Option<double?> option) => Checked(option, v => v > 0, "must be greater than 0");

    public static Option<double> Probability(Option<double> option) => Checked(option, v => v is > 0 and < 1, "must be between 0 and 1, exclusive");

    // Reads the token, not the converted value: a token that is not a number is the parser's error to report, and
    // asking for its value here would throw.
    private static TOption Checked<TOption>(TOption option, Func<double, bool> ok, string rule)
        where TOption : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens is [{ } token] && double.TryParse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && (!double.IsFinite(value) || !ok(value)))
            {
                result.AddError($"{option.Name} {rule} (got {token.Value}).");
            }
        });
        return option;
    }
}

/// <summary><c>--detect</c>, <c>--whole</c>, <c>--largest</c>, <c>--mtcnn</c>, <c>--align</c>: how faces are taken from photos.</summary>
internal sealed class FaceOptions
{
    public Option<bool> Detect { get; } = new("--detect") { Description = "Find faces with MTCNN (ordinary photos). Default: as the gallery was enrolled, else the model's own (faceapi detects; facenet/openface take the whole photo)." };

    public Option<bool> Whole { get; } = new("--whole") { Description = "The whole photo is the face (pre-cropped faces, as in the course)." };

    public Option<bool> Largest { get; } = new("--largest") { Description = "When detecting: only the largest face of each photo." };

    public Option<string?> Mtcnn { get; } = new("--mtcnn") { Description = $"Folder with det1/det2/det3.npy. Default: ${ModelRegistry.MtcnnEnvironmentVariable}, ./weights/mtcnn, ../shared/weights/mtcnn." };

    public Option<string> Align { get; } = CreateAlign();

    public void AddTo(Command command, bool withLargest = true)
    {
        command.Options.Add(Detect);
        command.Options.Add(Whole);
        if (withLargest)
        {
            command.Options.Add(Largest);
        }

        command.Options.Add(Mtcnn);
        command.Options.Add(Align);
        command.Validators.Add(r =>
        {
            if (r.GetValue(Detect) && r.GetValue(Whole))
            {
                r.AddError("--detect and --whole contradict each other; give one.");
            }
        });
    }

    public FaceInputMode Mode(ParseResult r) => r.GetValue(Detect) ? FaceInputMode.Detect : r.GetValue(Whole) ? FaceInputMode.Whole : FaceInputMode.Auto;

    public FaceCrop? Crop(ParseResult r) => r.GetValue(Align) switch
    {
        "dsb" => FaceCrop.Dsb,
        "faceapi" => FaceCrop.FaceApi,
        "similarity" => FaceCrop.Similarity,
        _ => null,
    };

    /// <summary>A pipeline for <paramref name="model"/>, reading faces as the options, the gallery's record or the model say.</summary>
    public FacePipeline Pipeline(ParseResult r, ModelDescriptor model, string? weights, string? recordedFaceInput, FaceInputMode? forced = null)
    {
        var input = FaceInput.Choose(model, forced ?? Mode(r), Crop(r), recordedFaceInput);
        return new FacePipeline(model, ModelRegistry.LoadEncoder(model, weights), input, r.GetValue(Mtcnn));
    }

    private static Option<string> CreateAlign()
    {
        var option = new Option<string>("--align")
        {
            Description = "When detecting: auto (the model's own: faceapi's square for faceapi, else dsb), dsb (box + 44 px margin, FaceNet's training crops), "
                + "faceapi (face-api's dlib-style square from eyes and mouth) or similarity (5-point alignment to a template).",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong("auto", "dsb", "faceapi", "similarity");
        return option;
    }
}
