using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
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
    /// the caller decides whether one bad file stops the run; any other failure (an unreadable folder, a detector
    /// error) is thrown where that photo comes in the order, after every earlier photo was returned.
    /// </summary>
    /// <remarks>
    /// <paramref name="paths"/> is enumerated, and each photo decoded and its faces detected, on a second thread, at most
    /// <c>batchSize</c> photos (plus the one being prepared) ahead of the encoder, so the next photos are read while a
    /// batch is encoded (the two share the worker pool one kernel at a time; the single-threaded parts, decoding and the
    /// detector's serial steps, fill the encoder's gaps). Memory stays bounded by the photos waiting, not by the number
    /// of photos: a decoded photo is dropped once its chips are cut. The results are the same, bit for bit, as preparing
    /// and encoding one photo after another.
    /// </remarks>
    public async IAsyncEnumerable<EncodedPhoto> EncodeAsync(IEnumerable<string> paths, bool largestOnly, int batchSize = 16,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        // Counted in photos, each holding only its chips (the decoded photo is dropped once they are cut).
        var prepared = Channel.CreateBounded<PreparedPhoto>(new BoundedChannelOptions(PrepareAhead * batchSize)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var producer = Task.Run(() => PrepareAllAsync(paths, largestOnly, prepared.Writer, stop.Token), CancellationToken.None);
        try
        {
            var waiting = new List<PreparedPhoto>();
            int waitingFaces = 0;
            await foreach (var photo in prepared.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
            {
                cancellation.ThrowIfCancellationRequested(); // photos already read ahead are not encoded after a cancel
                if (photo.Failure is not null)
                {
                    foreach (var done in Flush(waiting, batchSize))
                    {
                        yield return done;
                    }

                    photo.Failure.Throw();
                }

                waiting.Add(photo);
                waitingFaces += photo.Faces.Count;
                if (waitingFaces >= batchSize)
                {
                    foreach (var done in Flush(waiting, batchSize))
                    {
                        yield return done;
                    }

                    waitingFaces = 0;
                }
            }

            await producer.ConfigureAwait(false); // a cancelled run ends here with its OperationCanceledException
            foreach (var done in Flush(waiting, batchSize))
            {
                yield return done;
            }
        }
        finally
        {
            // The caller stopped early, or something failed: the preparing thread stops at its next photo and is waited
            // for, so no decode outlives the enumeration.
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    // How many batches' worth of photos (batchSize each) EncodeAsync prepares ahead of the encoder.
    internal const int PrepareAhead = 1;

    // One photo as the preparing thread hands it over: its faces, the InvalidImageException message, or the failure that
    // ends the run at this photo.
    private sealed record PreparedPhoto(string Source, IReadOnlyList<PreparedFace> Faces, string? Error, ExceptionDispatchInfo? Failure);

    private async Task PrepareAllAsync(IEnumerable<string> paths, bool largestOnly, ChannelWriter<PreparedPhoto> writer, CancellationToken stop)
    {
        try
        {
            foreach (string path in paths)
            {
                stop.ThrowIfCancellationRequested();
                PreparedPhoto photo;
                try
                {
                    photo = new(path, Prepare(path, ImageDecoder.Decode(path), largestOnly), null, null);
                }
                catch (InvalidImageException ex)
                {
                    photo = new(path, [], ex.Message, null);
                }

                MemoryCeiling.AfterPhoto(); // the decoded photo is garbage now: only its chips are kept
                await writer.WriteAsync(photo, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            // Handed over in order, so the photos before it are still encoded and returned first.
            await writer.WriteAsync(new PreparedPhoto("", [], null, ExceptionDispatchInfo.Capture(ex)), stop).ConfigureAwait(false);
        }
        finally
        {
            writer.TryComplete();
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

    private List<EncodedPhoto> Flush(List<PreparedPhoto> waiting, int batchSize)
    {
        var faces = waiting.SelectMany(p => p.Faces).ToList();
        var encodings = faces.Count == 0 ? [] : Encode(faces, batchSize);
        var result = new List<EncodedPhoto>(waiting.Count);
        int next = 0;
        foreach (var (source, photoFaces, error, _) in waiting)
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
