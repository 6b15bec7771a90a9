using System.Diagnostics;
using InceptionNet.Detection;
using InceptionNet.Models;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.Server.Batching;
using InceptionNet.Server.Collections;
using InceptionNet.Vision;

namespace InceptionNet.Server.Http;

/// <summary>What one request did, for its answer, the audit line and the metrics.</summary>
/// <param name="Status">HTTP status.</param>
/// <param name="Body">The JSON body (one of <see cref="ApiJsonContext"/>'s types).</param>
/// <param name="Decision">For the audit log: accepted, unknown, ambiguous, rejected, enrolled, ok, …</param>
/// <param name="Identity">Who was recognised, verified or enrolled.</param>
/// <param name="Distance">The deciding distance.</param>
public sealed record Outcome(int Status, object Body, string Decision, string? Identity = null, double? Distance = null);

/// <summary>
/// The service's work behind the HTTP routes, free of HTTP: decode → detect → crop (the pipeline library) → batched
/// encode (<see cref="EncodeBatcher"/>) → decide against a collection snapshot (<see cref="IGalleryStore"/>).
/// </summary>
public sealed class FaceService : IAsyncDisposable
{
    private readonly ServeOptions _options;

    /// <summary>Wraps a loaded pipeline.</summary>
    public FaceService(FacePipeline pipeline, ServeOptions options, ServiceMetrics metrics)
    {
        Pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(metrics);
        Collections = GalleryStores.Open(options, pipeline);
        Batcher = new EncodeBatcher(pipeline.Encoder, options.MaxBatch, options.MaxWait, options.QueueCapacity) { BatchEncoded = metrics.Batch };
    }

    /// <summary>The pipeline (model, face input, detector).</summary>
    public FacePipeline Pipeline { get; }

    /// <summary>The collections.</summary>
    public IGalleryStore Collections { get; }

    /// <summary>The micro-batching encoder queue.</summary>
    public EncodeBatcher Batcher { get; }

    /// <summary>Decodes an uploaded image: 400 when it is not a readable JPEG or PNG, 422 when it has too many pixels.</summary>
    public RgbImage Decode(byte[] bytes)
    {
        try
        {
            return ImageDecoder.Decode(bytes, "image", _options.MaxPixels);
        }
        catch (InvalidImageException ex) when (ex.OverPixelLimit)
        {
            throw ApiException.Unprocessable(ex.Message);
        }
        catch (InvalidImageException ex)
        {
            throw ApiException.BadRequest(ex.Message);
        }
    }

    /// <summary>The faces of a photo as the model takes them, largest first.</summary>
    public IReadOnlyList<PreparedFace> Faces(RgbImage image, bool largestOnly)
    {
        IReadOnlyList<PreparedFace> faces;
        try
        {
            faces = Pipeline.Prepare("image", image, largestOnly);
        }
        catch (InvalidImageException ex)
        {
            throw ApiException.Unprocessable(ex.Message);
        }

        return [.. faces.OrderByDescending(f => f.Detection?.Area ?? double.MaxValue)];
    }

    /// <summary>Encodes faces through the batch queue; 503 (retry after 1 s) when the queue is full.</summary>
    public async Task<FaceEncoding[]> EncodeAsync(IReadOnlyList<PreparedFace> faces, CancellationToken cancellation)
    {
        var pending = Batcher.TryEncodeAsync([.. faces.Select(f => f.Chip)], cancellation)
            ?? throw new ApiException(503, $"the encoder queue is full ({Batcher.Capacity} faces waiting); retry shortly") { RetryAfterSeconds = 1 };
        return await pending.ConfigureAwait(false);
    }

    /// <summary>POST /v1/collections/{c}/identify.</summary>
    public async Task<Outcome> IdentifyAsync(string collection, byte[] body, Stopwatch clock, CancellationToken cancellation)
    {
        var snapshot = Collections.Get(collection);
        var faces = Faces(Decode(body), largestOnly: false);
        if (faces.Count == 0)
        {
            throw ApiException.Unprocessable("no face found in the image");
        }

        var encodings = await EncodeAsync(faces, cancellation).ConfigureAwait(false);
        var answers = new List<IdentifiedFace>(faces.Count);
        for (int i = 0; i < faces.Count; i++)
        {
            var result = snapshot.Recognizer.Identify(encodings[i]);
            bool empty = result.Nearest is null;
            string decision = result.Accepted ? "accepted" : result.Ambiguous ? "ambiguous" : "unknown";
            answers.Add(new IdentifiedFace(Box(faces[i]), result.Identity, empty ? null : result.Distance, result.Threshold, decision,
                result.Nearest, result.RunnerUp, result.RunnerUpDistance, result.Margin, Quality(faces[i])));
        }

        var first = answers[0];
        return new Outcome(200, new IdentifyResponse(answers, clock.Elapsed.TotalMilliseconds), first.Decision, first.Identity, first.Distance);
    }

    /// <summary>POST /v1/collections/{c}/verify?name=N (the largest face).</summary>
    public async Task<Outcome> VerifyAsync(string collection, string? name, byte[] body, Stopwatch clock, CancellationToken cancellation)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw ApiException.BadRequest("the query parameter 'name' is required (the person to verify against)");
        }

        var snapshot = Collections.Get(collection);
        IGalleryStore.RequirePerson(snapshot.Gallery, collection, name);
        var faces = Faces(Decode(body), largestOnly: true);
        if (faces.Count == 0)
        {
            throw ApiException.Unprocessable("no face found in the image");
        }

        var encodings = await EncodeAsync(faces, cancellation).ConfigureAwait(false);
        var result = snapshot.Recognizer.Verify(encodings[0], name);
        return new Outcome(200, new VerifyResponse(result.Identity, result.Distance, result.Threshold, result.Accepted, Box(faces[0]), clock.Elapsed.TotalMilliseconds),
            result.Accepted ? "accepted" : "rejected", result.Identity, result.Distance);
    }

    /// <summary>POST /v1/collections/{c}/people/{name}/photos[?largest=true].</summary>
    public async Task<Outcome> EnrollAsync(string collection, string person, bool largest, byte[] body, string source, CancellationToken cancellation)
    {
        Collections.Get(collection); // 404 before any work
        var faces = Faces(Decode(body), largestOnly: largest);
        if (faces.Count == 0)
        {
            throw ApiException.Unprocessable("no face found in the image");
        }

        if (faces.Count > 1)
        {
            throw ApiException.Unprocessable($"{faces.Count} faces found; send a photo of one person, or add ?largest=true to take the largest face");
        }

        if (FaceQuality.Reject(faces[0], _options.MinFace, _options.MinSharpness) is { } problem)
        {
            throw ApiException.Unprocessable(problem);
        }

        var encodings = await EncodeAsync(faces, cancellation).ConfigureAwait(false);
        int photos = await Collections.EnrollAsync(collection, person, [(source, encodings[0])], cancellation).ConfigureAwait(false);
        return new Outcome(201, new EnrollResponse(person, photos, Box(faces[0])), "enrolled", person);
    }

    /// <summary>POST /v1/detect.</summary>
    public Outcome Detect(byte[] body, Stopwatch clock)
    {
        var image = Decode(body);
        IReadOnlyList<DetectedFace> faces;
        try
        {
            faces = Pipeline.Detector.Detect(image);
        }
        catch (ArgumentException ex)
        {
            throw ApiException.Unprocessable(ex.Message);
        }

        var json = faces.Select(f => new DetectedFaceJson([.. f.Box.Select(Round)], f.Probability, [.. f.Landmarks.Select(p => new[] { Round(p.X), Round(p.Y) })])).ToList();
        return new Outcome(200, new DetectResponse(json, clock.Elapsed.TotalMilliseconds), faces.Count == 0 ? "no_face" : "ok");
    }

    /// <summary>POST /v1/embed.</summary>
    public async Task<Outcome> EmbedAsync(byte[] body, bool largest, Stopwatch clock, CancellationToken cancellation)
    {
        var faces = Faces(Decode(body), largest);
        if (faces.Count == 0)
        {
            throw ApiException.Unprocessable("no face found in the image");
        }

        var encodings = await EncodeAsync(faces, cancellation).ConfigureAwait(false);
        var json = faces.Select((f, i) => new EmbeddedFace(Box(f), encodings[i].Embedding)).ToList();
        return new Outcome(200, new EmbedResponse(Pipeline.Model.Id, json, clock.Elapsed.TotalMilliseconds), "ok");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Batcher.DisposeAsync().ConfigureAwait(false);
        await Collections.DisposeAsync().ConfigureAwait(false);
    }

    private static double[]? Box(PreparedFace face) => face.Detection is { } d ? [.. d.Box.Take(4).Select(Round)] : null;

    private static QualityJson Quality(PreparedFace face)
    {
        return new QualityJson(Round(FaceQuality.Side(face)), Math.Round(FaceQuality.Sharpness(face.Chip), 2), face.Detection?.Probability);
    }

    private static double Round(double value) => Math.Round(value, 2);
}
