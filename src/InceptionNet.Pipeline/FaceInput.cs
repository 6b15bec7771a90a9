using InceptionNet.Detection;
using InceptionNet.Vision;

namespace InceptionNet.Pipeline;

/// <summary>How a detected face is cut out of its photo for the encoder.</summary>
public enum FaceCrop
{
    /// <summary>davidsandberg: box + 44 px margin, 160×160 (FaceNet's training crops).</summary>
    Dsb,

    /// <summary>face-api's dlib-style square from the eyes and the mouth, at its own size (the model pads and resizes).</summary>
    FaceApi,

    /// <summary>5-point similarity alignment to a template.</summary>
    Similarity,
}

/// <summary>Whether faces are looked for in a photo: from the model and the gallery, or forced one way.</summary>
public enum FaceInputMode
{
    /// <summary>What the gallery was enrolled with, else the model's default.</summary>
    Auto,

    /// <summary>Find faces with MTCNN and cut them (ordinary photos).</summary>
    Detect,

    /// <summary>The whole photo is the face (pre-cropped faces, the course's case).</summary>
    Whole,
}

/// <summary>
/// How faces are taken from photos: the whole photo, or MTCNN faces cut one way. Galleries record its <see cref="Id"/>,
/// and a probe prepared another way is refused, since comparing a whole photo with cropped faces gives confident wrong
/// answers.
/// </summary>
/// <param name="Detect">Look for faces with MTCNN.</param>
/// <param name="Crop">How a found face is cut (meaningless without <paramref name="Detect"/>).</param>
public sealed record FaceInput(bool Detect, FaceCrop Crop)
{
    /// <summary>The whole photo, no detection.</summary>
    public static FaceInput Whole { get; } = new(false, FaceCrop.Dsb);

    /// <summary>Every face-input id, as <see cref="Id"/> spells them.</summary>
    public static IReadOnlyList<string> Ids { get; } = ["whole", "mtcnn+dsb", "mtcnn+faceapi", "mtcnn+similarity"];

    /// <summary>The id galleries record: <c>whole</c>, <c>mtcnn+dsb</c>, <c>mtcnn+faceapi</c> or <c>mtcnn+similarity</c>.</summary>
    public string Id => Detect ? "mtcnn+" + Crop.ToString().ToLowerInvariant() : "whole";

    /// <summary>Parses an <see cref="Id"/>.</summary>
    /// <exception cref="ArgumentException">Not a face-input id.</exception>
    public static FaceInput Parse(string id) => id switch
    {
        "whole" => Whole,
        "mtcnn+dsb" => new(true, FaceCrop.Dsb),
        "mtcnn+faceapi" => new(true, FaceCrop.FaceApi),
        "mtcnn+similarity" => new(true, FaceCrop.Similarity),
        _ => throw new ArgumentException($"'{id}' is not a face input (whole, mtcnn+dsb, mtcnn+faceapi or mtcnn+similarity)."),
    };

    /// <summary>
    /// The face input a command uses: forced by <paramref name="mode"/>, else the one <paramref name="recorded"/> by the
    /// gallery, else the model's default. <paramref name="crop"/> overrides the model's crop when faces are detected.
    /// </summary>
    public static FaceInput Choose(ModelDescriptor model, FaceInputMode mode, FaceCrop? crop, string? recorded)
    {
        ArgumentNullException.ThrowIfNull(model);
        return mode switch
        {
            FaceInputMode.Whole => Whole,
            FaceInputMode.Detect => new(true, crop ?? model.Crop),
            _ when recorded is not null && crop is null => Parse(recorded),
            _ when crop is not null => new(true, crop.Value),
            _ => model.DetectsByDefault ? new(true, model.Crop) : Whole,
        };
    }

    /// <summary>
    /// Whether <paramref name="image"/> is taken whole although faces are detected: with face-api's crop, a photo no
    /// larger than the model's input is already a face chip (the course's 96×96 faces); detecting in it would cut the
    /// chip smaller than the model reads.
    /// </summary>
    public bool TakesWhole(RgbImage image, int modelInputSize)
    {
        ArgumentNullException.ThrowIfNull(image);
        return !Detect || (Crop == FaceCrop.FaceApi && image.Width <= modelInputSize && image.Height <= modelInputSize);
    }

    /// <summary>Cuts <paramref name="face"/> out of <paramref name="image"/> as <see cref="Crop"/> says.</summary>
    public RgbImage Cut(RgbImage image, DetectedFace face) => Crop switch
    {
        FaceCrop.Similarity => FaceAligner.SimilarityAlign(image, face, 160).Chip,
        FaceCrop.FaceApi => FaceAligner.FaceApiCrop(image, face).Chip,
        _ => FaceAligner.DavidSandbergCrop(image, face).Chip,
    };
}
