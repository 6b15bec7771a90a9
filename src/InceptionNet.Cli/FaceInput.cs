using System.CommandLine;
using InceptionNet.Detection;
using InceptionNet.Recognition;
using InceptionNet.Vision;

namespace InceptionNet.Cli;

/// <summary>No face was found in a photo given with --detect (exit code 1, like a rejection).</summary>
internal sealed class NoFaceException(string message) : Exception(message);

/// <summary>
/// How commands turn photo paths into face images: decoded as they are (pre-cropped faces, the course's case), or, with
/// <c>--detect</c>, every MTCNN face (or the largest with <c>--largest</c>) cut as FaceNet's training crops were
/// (davidsandberg, margin 44, 160×160; the model then resizes to its own input).
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
        var option = new Option<string>("--align") { Description = "With --detect: dsb (box + 44 px margin, FaceNet's training crops) or similarity (5-point alignment to a template).", DefaultValueFactory = _ => "dsb" };
        option.AcceptOnlyFromAmong("dsb", "similarity");
        return option;
    }

    /// <summary>
    /// Loads every photo (all must decode, else nothing is returned). Each result is labelled with its path, plus
    /// <c>#k</c> when a photo holds several faces.
    /// </summary>
    public List<(string Label, RgbImage Face)> Load(ParseResult r, IReadOnlyList<string> files, bool largestOnly = false)
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

        if (!r.GetValue(Detect))
        {
            return files.Zip(images, (f, i) => (f, i)).ToList();
        }

        var finder = new FaceFinder(r.GetValue(Mtcnn), largestOnly || r.GetValue(Largest), r.GetValue(Align) == "similarity");
        var (result, faceless) = finder.Find(files.Zip(images, (f, i) => (f, i)).ToList());
        if (faceless.Count > 0)
        {
            throw new NoFaceException($"no face found in {string.Join(", ", faceless)}" + (faceless.Count < files.Count ? " (nothing was changed)." : "."));
        }

        return result;
    }
}

/// <summary>MTCNN on decoded photos: every face (or the largest) cut as a davidsandberg 160×160 chip.</summary>
internal sealed class FaceFinder(string? mtcnnDirectory, bool largest, bool similarity = false)
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
                var chip = similarity ? FaceAligner.SimilarityAlign(image, faces[k], 160).Chip : FaceAligner.DavidSandbergCrop(image, faces[k]).Chip;
                result.Add((faces.Count > 1 ? $"{path}#{k}" : path, chip));
            }
        }

        return (result, faceless);
    }
}
