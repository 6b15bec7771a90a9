using System.Text.Json.Serialization;

namespace InceptionNet.Server.Http;

/// <summary>An error answer: <c>{"error": "…"}</c>.</summary>
/// <param name="Error">What was wrong, naming the field or input.</param>
public sealed record ErrorResponse(string Error);

/// <summary>A face's quality measures.</summary>
/// <param name="FaceSide">Shorter side of the detected box, in pixels.</param>
/// <param name="Sharpness">Variance of the Laplacian of the face chip (lower is blurrier).</param>
/// <param name="DetectionScore">MTCNN's probability (null when the photo was taken whole).</param>
public sealed record QualityJson(double FaceSide, double Sharpness, double? DetectionScore);

/// <summary>One face of an identify answer.</summary>
/// <param name="Box">[x1, y1, x2, y2] in the photo, or null when the photo is the face.</param>
/// <param name="Identity">Who it is, or null (unknown or ambiguous); never a person over the threshold.</param>
/// <param name="Distance">Distance to the nearest person (null for an empty collection).</param>
/// <param name="Threshold">The threshold in force.</param>
/// <param name="Decision">accepted, unknown or ambiguous.</param>
/// <param name="Nearest">The nearest person, whatever the distance (for operators; null when empty).</param>
/// <param name="RunnerUp">The second nearest person.</param>
/// <param name="RunnerUpDistance">Its distance.</param>
/// <param name="Margin">RunnerUpDistance − Distance.</param>
/// <param name="Quality">Quality measures.</param>
public sealed record IdentifiedFace(double[]? Box, string? Identity, double? Distance, double Threshold, string Decision, string? Nearest,
    string? RunnerUp, double? RunnerUpDistance, double? Margin, QualityJson Quality);

/// <summary>The answer to identify.</summary>
/// <param name="Faces">Each face found, largest first.</param>
/// <param name="LatencyMs">Time spent in the service.</param>
public sealed record IdentifyResponse(IReadOnlyList<IdentifiedFace> Faces, double LatencyMs);

/// <summary>The answer to verify.</summary>
/// <param name="Person">The claimed person.</param>
/// <param name="Distance">Distance to that person's closest photo.</param>
/// <param name="Threshold">The threshold in force.</param>
/// <param name="Accepted">Distance under the threshold.</param>
/// <param name="Box">The face used (the largest).</param>
/// <param name="LatencyMs">Time spent in the service.</param>
public sealed record VerifyResponse(string Person, double Distance, double Threshold, bool Accepted, double[]? Box, double LatencyMs);

/// <summary>The answer to enroll.</summary>
/// <param name="Person">Who was enrolled.</param>
/// <param name="Photos">How many photos that person now has.</param>
/// <param name="Box">The face taken from the photo.</param>
public sealed record EnrollResponse(string Person, int Photos, double[]? Box);

/// <summary>One enrolled person.</summary>
/// <param name="Name">The name.</param>
/// <param name="Photos">Number of photos.</param>
public sealed record PersonJson(string Name, int Photos);

/// <summary>The people of a collection.</summary>
/// <param name="Collection">Its name.</param>
/// <param name="People">Everyone enrolled, in enrolment order.</param>
public sealed record PeopleResponse(string Collection, IReadOnlyList<PersonJson> People);

/// <summary>A collection's description.</summary>
/// <param name="Collection">Its name.</param>
/// <param name="Model">The model its embeddings come from.</param>
/// <param name="FaceInput">How faces are taken from photos.</param>
/// <param name="People">Number of people.</param>
/// <param name="Created">Whether this request created it.</param>
public sealed record CollectionResponse(string Collection, string Model, string FaceInput, int People, bool Created);

/// <summary>A rename request body.</summary>
/// <param name="Name">The new name.</param>
public sealed record RenameRequest(string? Name);

/// <summary>A change that returns no data.</summary>
/// <param name="Ok">Always true.</param>
/// <param name="Person">The person changed, when one was.</param>
public sealed record OkResponse(bool Ok, string? Person);

/// <summary>One detected face.</summary>
/// <param name="Box">[x1, y1, x2, y2].</param>
/// <param name="Score">MTCNN's probability.</param>
/// <param name="Landmarks">Five points (eyes, nose, mouth corners) as [x, y].</param>
public sealed record DetectedFaceJson(double[] Box, double Score, double[][] Landmarks);

/// <summary>The answer to detect.</summary>
/// <param name="Faces">Faces found, most probable first.</param>
/// <param name="LatencyMs">Time spent in the service.</param>
public sealed record DetectResponse(IReadOnlyList<DetectedFaceJson> Faces, double LatencyMs);

/// <summary>One embedded face.</summary>
/// <param name="Box">[x1, y1, x2, y2], or null when the photo is the face.</param>
/// <param name="Embedding">The model's embedding.</param>
public sealed record EmbeddedFace(double[]? Box, float[] Embedding);

/// <summary>The answer to embed.</summary>
/// <param name="Model">The model.</param>
/// <param name="Faces">Faces and embeddings.</param>
/// <param name="LatencyMs">Time spent in the service.</param>
public sealed record EmbedResponse(string Model, IReadOnlyList<EmbeddedFace> Faces, double LatencyMs);

/// <summary>Liveness and readiness.</summary>
/// <param name="Status">ok, loading or failed.</param>
/// <param name="Model">The model, once loaded.</param>
/// <param name="Error">Why loading failed.</param>
public sealed record HealthResponse(string Status, string? Model, string? Error);

/// <summary>Source-generated serializers for every body the service reads or writes (no reflection: NativeAOT-ready).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(IdentifyResponse))]
[JsonSerializable(typeof(VerifyResponse))]
[JsonSerializable(typeof(EnrollResponse))]
[JsonSerializable(typeof(PeopleResponse))]
[JsonSerializable(typeof(CollectionResponse))]
[JsonSerializable(typeof(RenameRequest))]
[JsonSerializable(typeof(OkResponse))]
[JsonSerializable(typeof(DetectResponse))]
[JsonSerializable(typeof(EmbedResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(Door.DoorResponse))]
[JsonSerializable(typeof(Door.DoorSettingsResponse))]
[JsonSerializable(typeof(Door.ThresholdResponse))]
[JsonSerializable(typeof(Door.CalibrateResponse))]
public sealed partial class ApiJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The instance the service writes with: as <see cref="JsonSerializerContext"/>'s default, but leaving quotes,
    /// apostrophes, '+' and non-ASCII letters unescaped, so messages and names read as written (still valid JSON;
    /// the bodies are never embedded in HTML).
    /// </summary>
    public static ApiJsonContext Service { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
