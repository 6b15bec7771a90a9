using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models;

/// <summary>The models the product ships, by CLI id, and where their weights are looked for.</summary>
public static class FaceModels
{
    /// <summary>Model ids accepted by <see cref="Load"/>.</summary>
    public static IReadOnlyList<string> Ids { get; } = ["facenet", "openface", "openface-keras", "faceapi"];

    /// <summary>Weights locations tried (under ./weights and ../shared/weights) when none is given.</summary>
    public static IReadOnlyList<string> DefaultWeightPaths(string modelId) => modelId switch
    {
        "facenet" => ["facenet/model.h5", "keras-facenet-h5/model.h5", "facenet.h5", "model.h5"],
        "openface" or "openface-keras" => ["openface/nn4.small2.v1.h5", "openface/weights.h5", "nn4.small2.v1.h5", "openface", "openface/csv"],
        "faceapi" => ["faceapi/" + FaceApiResNet34.ManifestPrefix + TfjsWeightReader.ManifestSuffix, "faceapi"],
        _ => throw new ArgumentException($"Unknown model '{modelId}'. Known: {string.Join(", ", Ids)}."),
    };

    /// <summary>Loads model <paramref name="modelId"/> from <paramref name="weightsPath"/>.</summary>
    public static FaceEncoder Load(string modelId, string weightsPath, ExecutionContext? context = null) => modelId switch
    {
        "facenet" => FaceNetInceptionResNetV1.Load(weightsPath, context),
        "openface" => OpenFaceNn4Small2.Load(weightsPath, OpenFaceVariant.Course, context),
        "openface-keras" => OpenFaceNn4Small2.Load(weightsPath, OpenFaceVariant.KerasOpenFace, context),
        "faceapi" => FaceApiResNet34.Load(weightsPath, context),
        _ => throw new ArgumentException($"Unknown model '{modelId}'. Known: {string.Join(", ", Ids)}."),
    };

    /// <summary>
    /// Resolves the weights of <paramref name="modelId"/> (argument, $INCEPTIONNET_WEIGHTS, ./weights, ../shared/weights) and loads them.
    /// </summary>
    /// <exception cref="InvalidWeightsException">Nothing found; the message lists every place tried.</exception>
    public static FaceEncoder Resolve(string modelId, string? weightsArgument, ExecutionContext? context = null)
    {
        var (path, tried) = WeightsLoader.Resolve(weightsArgument, DefaultWeightPaths(modelId));
        if (path is null)
        {
            throw new InvalidWeightsException(weightsArgument ?? modelId,
                $"no weights found for model '{modelId}'. Tried: {string.Join(", ", tried)}. Pass --weights PATH or set ${WeightsLoader.EnvironmentVariable}.");
        }

        return Load(modelId, path, context);
    }
}
