using System.Runtime.CompilerServices;
using InceptionNet.Detection;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Vision;

namespace InceptionNet.Pipeline;

/// <summary>A face ready for the encoder: the chip, and the detection it came from (null when the photo was taken whole).</summary>
/// <param name="Label">The photo's path, plus <c>#k</c> when the photo holds several faces.</param>
/// <param name="Chip">The pixels the encoder reads.</param>
/// <param name="Detection">The MTCNN face, or null.</param>
public sealed record PreparedFace(string Label, RgbImage Chip, DetectedFace? Detection);

/// <summary>One photo's faces with their encodings, or why it has none.</summary>
/// <param name="Source">The photo's path.</param>
/// <param name="Faces">Every face kept, in detection order (empty when none was found or the photo failed).</param>
/// <param name="Error">Why the photo could not be read (the <see cref="InvalidImageException"/> message), else null.</param>
public sealed record EncodedPhoto(string Source, IReadOnlyList<(PreparedFace Face, FaceEncoding Encoding)> Faces, string? Error)
{
    /// <summary>The photo was read but holds no face.</summary>
    public bool NoFace => Error is null && Faces.Count == 0;
}

/// <summary>
/// Decode → detect (when the face input says so) → the model's crop → batched encode, one photo after another with
/// memory bounded by the batch, not by the number of photos: the CLI's and the service's one way from photos to
/// embeddings and decisions.
/// </summary>
public sealed class FacePipeline
{
    private readonly Lazy<MtcnnDetector> _detector;

    /// <summary>Creates a pipeline for <paramref name="encoder"/> reading faces as <paramref name="input"/> says.</summary>
    /// <param name="model">The model's descriptor.</param>
    /// <param name="encoder">Its loaded encoder.</param>
    /// <param name="input">How faces are taken from photos.</param>
    /// <param name="mtcnnDirectory">MTCNN weights folder (null: the default places); loaded on first use.</param>
    public FacePipeline(ModelDescriptor model, FaceEncoder encoder, FaceInput input, string? mtcnnDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(input);
        Model = model;
        Encoder = encoder;
        Input = input;
        _detector = new(() => MtcnnDetector.Load(ModelRegistry.FindMtcnn(mtcnnDirectory)));
    }

    /// <summary>The model.</summary>
    public ModelDescriptor Model { get; }

    /// <summary>Its encoder.</summary>
    public FaceEncoder Encoder { get; }

    /// <summary>How faces are taken from photos.</summary>
    public FaceInput Input { get; }

    /// <summary>The MTCNN detector (loaded on first use).</summary>
    public MtcnnDetector Detector => _detector.Value;

    /// <summary>What a gallery made by this pipeline records.</summary>
    public ModelStamp Stamp => ModelStamp.Of(Encoder);

    /// <summary>The faces of <paramref name="image"/>: the whole photo, or each MTCNN face (the largest only when asked) cut as the input says.</summary>
    /// <exception cref="InvalidImageException">The image is too small or too large for the detector.</exception>
    public IReadOnlyList<PreparedFace> Prepare(string label, RgbImage image, bool largestOnly)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (Input.TakesWhole(image, Model.InputSize))
        {
            return [new PreparedFace(label, image, null)];
        }

        IReadOnlyList<DetectedFace> faces;
        try
        {
            faces = Detector.Detect(image);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidImageException(label, ex.Message, ex);
        }

        if (largestOnly && faces.Count > 1)
        {
            faces = [faces.MaxBy(f => f.Area)!];
        }

        return [.. faces.Select((f, k) => new PreparedFace(faces.Count > 1 ? $"{label}#{k}" : label, Input.Cut(image, f), f))];
    }

    /// <summary>
    /// Encodes the faces of every photo in <paramref name="paths"/>, in order, <paramref name="batchSize"/> faces per
    /// forward pass. A photo that cannot be read is reported in its <see cref="EncodedPhoto.Error"/>, not thrown, so
    /// the caller decides whether one bad file stops the run. Only the current batch's chips are held.
    /// </summary>
    public async IAsyncEnumerable<EncodedPhoto> EncodeAsync(IEnumerable<string> paths, bool largestOnly, int batchSize = 16,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var waiting = new List<(string Source, IReadOnlyList<PreparedFace> Faces, string? Error)>();
        int waitingFaces = 0;
        foreach (string path in paths)
        {
            cancellation.ThrowIfCancellationRequested();
            await Task.Yield(); // let a caller on a single-threaded context see each photo as it is done
            (string, IReadOnlyList<PreparedFace>, string?) photo;
            try
            {
                photo = (path, Prepare(path, ImageDecoder.Decode(path), largestOnly), null);
            }
            catch (InvalidImageException ex)
            {
                photo = (path, [], ex.Message);
            }

            waiting.Add(photo);
            waitingFaces += photo.Item2.Count;
            MemoryCeiling.AfterPhoto(); // the decoded photo is garbage now: only its chips are kept
            if (waitingFaces >= batchSize)
            {
                foreach (var done in Flush(waiting, batchSize))
                {
                    yield return done;
                }

                waitingFaces = 0;
            }
        }

        foreach (var done in Flush(waiting, batchSize))
        {
            yield return done;
        }
    }

    /// <summary>Encodes prepared faces in batches.</summary>
    public IReadOnlyList<FaceEncoding> Encode(IReadOnlyList<PreparedFace> faces, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(faces);
        return Encoder.Encode([.. faces.Select(f => f.Chip)], batchSize);
    }

    /// <summary>A recognizer over <paramref name="gallery"/>, refusing a gallery made with another model or face input.</summary>
    /// <exception cref="GalleryException">The gallery's model, weights or face input differ from this pipeline's.</exception>
    public FaceRecognizer Recognizer(Gallery gallery, RecognitionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(gallery);
        gallery.EnsureCompatible(Stamp);
        gallery.EnsureFaceInput(Input.Id);
        return new FaceRecognizer(Encoder, gallery, options);
    }

    private List<EncodedPhoto> Flush(List<(string Source, IReadOnlyList<PreparedFace> Faces, string? Error)> waiting, int batchSize)
    {
        var faces = waiting.SelectMany(p => p.Faces).ToList();
        var encodings = faces.Count == 0 ? [] : Encode(faces, batchSize);
        var result = new List<EncodedPhoto>(waiting.Count);
        int next = 0;
        foreach (var (source, photoFaces, error) in waiting)
        {
            var pairs = new List<(PreparedFace, FaceEncoding)>(photoFaces.Count);
            foreach (var face in photoFaces)
            {
                pairs.Add((face, encodings[next++]));
            }

            result.Add(new EncodedPhoto(source, pairs, error));
        }

        waiting.Clear();
        return result;
    }
}
