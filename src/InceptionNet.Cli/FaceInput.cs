using System.CommandLine;
using InceptionNet.Detection;
using InceptionNet.Recognition;
using InceptionNet.Vision;

namespace InceptionNet.Cli;

/// <summary>No face was found in a photo given with --detect (exit code 1, like a rejection).</summary>
internal sealed class NoFaceException(string message) : Exception(message);

/// <summary>How a detected face is cut for the encoder.</summary>
internal enum FaceCut
{
    /// <summary>davidsandberg: box + 44 px margin, 160×160 (FaceNet's training crops).</summary>
    Dsb,

    /// <summary>5-point similarity alignment to a template.</summary>
    Similarity,

    /// <summary>face-api's dlib-style square from the eyes and mouth, at its own size (the model pads and resizes).</summary>
    FaceApi,
}

/// <summary>
/// How commands turn photo paths into face images: decoded as they are (pre-cropped faces, the course's case), or, with
/// <c>--detect</c>, every MTCNN face (or the largest with <c>--largest</c>) cut the way the model's training crops were:
/// davidsandberg (margin 44, 160×160) for FaceNet/OpenFace, face-api's dlib-style square for faceapi.
/// </summary>
internal sealed class FaceInput
{
    public Option<bool> Detect { get; } = new("--detect") { Description = "Find faces first (MTCNN), so ordinary photos work." };

    public Option<bool> Largest { get; } = new("--largest") { Description = "With --detect: only the largest face of each photo." };

    public Option<string?> Mtcnn { get; } = new("--mtcnn") { Description = "With --detect: folder with det1/det2/det3.npy." };

    public Option<string> Align { get; } = CreateAlign();

    public IEnumerable<Option> Options => [Detect, Largest, Mtcnn, Align];

    private static Option<string> CreateAlign()
    {
        var option = new Option<string>("--align")
        {
            Description = "With --detect: auto (the model's own: faceapi for --model faceapi, else dsb), dsb (box + 44 px margin, FaceNet's training crops), "
                + "faceapi (face-api's dlib-style square from eyes and mouth) or similarity (5-point alignment to a template).",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong("auto", "dsb", "faceapi", "similarity");
        return option;
    }

    /// <summary>The cut for <paramref name="align"/> (an <c>--align</c> value) and the model that will encode the faces.</summary>
    public static FaceCut CutFor(string? align, string modelId) => align switch
    {
        "dsb" => FaceCut.Dsb,
        "similarity" => FaceCut.Similarity,
        "faceapi" => FaceCut.FaceApi,
        _ => modelId == "faceapi" ? FaceCut.FaceApi : FaceCut.Dsb,
    };

    /// <summary>A finder for the parsed options, or null without <c>--detect</c>.</summary>
    public FaceFinder? FinderFor(ParseResult r, string modelId, bool largestOnly = false) =>
        r.GetValue(Detect) ? new FaceFinder(r.GetValue(Mtcnn), largestOnly || r.GetValue(Largest), CutFor(r.GetValue(Align), modelId)) : null;

    /// <summary>
    /// Loads every photo (all must decode, else nothing is returned). Each result is labelled with its path, plus
    /// <c>#k</c> when a photo holds several faces.
    /// </summary>
    public List<(string Label, RgbImage Face)> Load(ParseResult r, IReadOnlyList<string> files, string modelId, bool largestOnly = false)
    {
        var images = new List<RgbImage>();
        var errors = new List<string>();
        foreach (string file in files)
        {
            try
            {
                images.Add(ImageDecoder.Decode(file));
            }
            catch (InvalidImageException ex)
            {
                errors.Add(ex.Message);
            }
        }

        if (errors.Count > 0)
        {
            throw new GalleryException($"{string.Join("; ", errors)} ({errors.Count} of {files.Count} photo(s) unreadable; nothing was changed).");
        }

        var finder = FinderFor(r, modelId, largestOnly);
        if (finder is null)
        {
            return files.Zip(images, (f, i) => (f, i)).ToList();
        }

        var (result, faceless) = finder.Find(files.Zip(images, (f, i) => (f, i)).ToList());
        if (faceless.Count > 0)
        {
            throw new NoFaceException($"no face found in {string.Join(", ", faceless)}" + (faceless.Count < files.Count ? " (nothing was changed)." : "."));
        }

        return result;
    }
}

/// <summary>MTCNN on decoded photos: every face (or the largest) cut as <paramref name="cut"/> says.</summary>
internal sealed class FaceFinder(string? mtcnnDirectory, bool largest, FaceCut cut = FaceCut.Dsb)
{
    // Loaded on first use, so a missing weights folder is reported by the command like any other error.
    private readonly Lazy<MtcnnDetector> _detector = new(() => MtcnnDetector.Load(DetectCommand.Resolve(mtcnnDirectory)));

    public (List<(string Label, RgbImage Face)> Faces, List<string> Faceless) Find(List<(string Path, RgbImage Image)> photos)
    {
        var result = new List<(string, RgbImage)>();
        var faceless = new List<string>();
        foreach (var (path, image) in photos)
        {
            IReadOnlyList<DetectedFace> faces;
            try
            {
                faces = _detector.Value.Detect(image);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidImageException(path, ex.Message, ex);
            }

            if (faces.Count == 0)
            {
                faceless.Add(path);
                continue;
            }

            if (largest)
            {
                faces = [faces.MaxBy(f => f.Area)!];
            }

            for (int k = 0; k < faces.Count; k++)
            {
                var chip = Cut(image, faces[k], cut);
                result.Add((faces.Count > 1 ? $"{path}#{k}" : path, chip));
            }
        }

        return (result, faceless);
    }

    /// <summary>Cuts <paramref name="face"/> out of <paramref name="image"/> as <paramref name="cut"/> says.</summary>
    public static RgbImage Cut(RgbImage image, DetectedFace face, FaceCut cut) => cut switch
    {
        FaceCut.Similarity => FaceAligner.SimilarityAlign(image, face, 160).Chip,
        FaceCut.FaceApi => FaceAligner.FaceApiCrop(image, face).Chip,
        _ => FaceAligner.DavidSandbergCrop(image, face).Chip,
    };
}
