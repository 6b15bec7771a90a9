using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models;

/// <summary>The face encoders by id (what each model needs beyond its weights lives in the pipeline's ModelRegistry).</summary>
public static class FaceModels
{
    /// <summary>Model ids accepted by <see cref="Load"/>.</summary>
    public static IReadOnlyList<string> Ids { get; } = ["facenet", "openface", "openface-keras", "faceapi"];

    /// <summary>Loads model <paramref name="modelId"/> from <paramref name="weightsPath"/>.</summary>
    public static FaceEncoder Load(string modelId, string weightsPath, ExecutionContext? context = null) => modelId switch
    {
        "facenet" => FaceNetInceptionResNetV1.Load(weightsPath, context),
        "openface" => OpenFaceNn4Small2.Load(weightsPath, OpenFaceVariant.Course, context),
        "openface-keras" => OpenFaceNn4Small2.Load(weightsPath, OpenFaceVariant.KerasOpenFace, context),
        "faceapi" => FaceApiResNet34.Load(weightsPath, context),
        _ => throw new ArgumentException($"Unknown model '{modelId}'. Known: {string.Join(", ", Ids)}."),
    };
}
