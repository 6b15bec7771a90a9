using System.CommandLine;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;

namespace InceptionNet.Cli.Commands;

/// <summary>What the door commands share: a gallery, and a pipeline that reads faces the way the gallery was enrolled.</summary>
internal sealed class DoorSetup
{
    public Option<string> Gallery { get; } = CliOptions.Gallery();

    public Option<string?> Model { get; } = CliOptions.Model(withDefault: false);

    public Option<string?> Weights { get; } = CliOptions.Weights();

    public Option<double?> Threshold { get; } = CliOptions.Threshold();

    public Option<string> Rule { get; } = CliOptions.Rule();

    public Option<bool> Json { get; } = CliOptions.Json();

    public FaceOptions Faces { get; } = new();

    /// <summary>The model a command on <paramref name="gallery"/> uses: --model, else the gallery's, else facenet.</summary>
    public ModelDescriptor ModelFor(ParseResult r, Gallery? gallery) =>
        ModelRegistry.Get(r.GetValue(Model) ?? gallery?.Model.ModelId ?? "facenet");

    /// <summary>
    /// The gallery (null when it does not exist yet and <paramref name="mustExist"/> is false) and a pipeline whose model,
    /// weights and face input it accepts — checked before any photo is read, so a mismatch costs nothing.
    /// </summary>
    public (Gallery? Gallery, FacePipeline Pipeline) Open(ParseResult r, bool mustExist, FaceInputMode? forced = null)
    {
        string path = r.GetValue(Gallery)!;
        var gallery = mustExist || InceptionNet.Recognition.Gallery.Exists(path) || Directory.Exists(path) ? InceptionNet.Recognition.Gallery.Open(path) : null;
        var pipeline = Faces.Pipeline(r, ModelFor(r, gallery), r.GetValue(Weights), gallery?.FaceInput, forced);
        if (gallery is not null)
        {
            gallery.EnsureCompatible(pipeline.Stamp);
            gallery.EnsureFaceInput(pipeline.Input.Id);
        }

        return (gallery, pipeline);
    }

    /// <summary>A recognizer over the existing gallery with the command's threshold, rule and ambiguity margin.</summary>
    public (FaceRecognizer Recognizer, FacePipeline Pipeline) Recognizer(ParseResult r, double ambiguityMargin = 0.02)
    {
        var (gallery, pipeline) = Open(r, mustExist: true);
        var options = new RecognitionOptions
        {
            Threshold = r.GetValue(Threshold),
            Rule = r.GetValue(Rule) switch { "mean" => IdentityRule.Mean, "mean-distance" => IdentityRule.MeanDistance, _ => IdentityRule.Closest },
            AmbiguityMargin = ambiguityMargin,
        };
        return (pipeline.Recognizer(gallery!, options), pipeline);
    }
}
