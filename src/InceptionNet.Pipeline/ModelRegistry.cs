using InceptionNet.Models;
using InceptionNet.Tensors;
using InceptionNet.Weights;

namespace InceptionNet.Pipeline;

/// <summary>Everything the pipeline needs to know about one face model.</summary>
/// <param name="Id">The <c>--model</c> name.</param>
/// <param name="Description">One line for help texts.</param>
/// <param name="InputSize">Side of the square input in pixels.</param>
/// <param name="DefaultThreshold">Distance below which two faces are the same person, unless a gallery is calibrated.</param>
/// <param name="NormalizesEmbedding">Whether its embeddings are L2-normalized (face-api's are not).</param>
/// <param name="Crop">How a detected face is cut for it: the crops it was trained on.</param>
/// <param name="DetectsByDefault">Whether ordinary photos go through face detection without being asked.</param>
/// <param name="WeightsAreFile">True when the weights are one file (Keras h5); false when a folder may hold them.</param>
/// <param name="DefaultWeightPaths">Where its weights are looked for under ./weights and ../shared/weights.</param>
public sealed record ModelDescriptor(
    string Id,
    string Description,
    int InputSize,
    double DefaultThreshold,
    bool NormalizesEmbedding,
    FaceCrop Crop,
    bool DetectsByDefault,
    bool WeightsAreFile,
    IReadOnlyList<string> DefaultWeightPaths)
{
    /// <summary>Loads the encoder from <paramref name="weightsPath"/>.</summary>
    /// <exception cref="InvalidWeightsException">Missing, damaged or not this model's weights.</exception>
    public FaceEncoder Load(string weightsPath, InceptionNet.Graph.ExecutionContext? context = null)
    {
        if (WeightsAreFile && Directory.Exists(weightsPath))
        {
            throw new InvalidWeightsException(weightsPath, $"is a folder; model '{Id}' needs its Keras .h5 weights file.");
        }

        return FaceModels.Load(Id, weightsPath, context);
    }
}

/// <summary>The face models this build knows, and the one place their weights are looked for.</summary>
public static class ModelRegistry
{
    /// <summary>Environment variable naming the MTCNN weights folder.</summary>
    public const string MtcnnEnvironmentVariable = "INCEPTIONNET_MTCNN";

    /// <summary>Every model, in help order.</summary>
    public static IReadOnlyList<ModelDescriptor> All { get; } =
    [
        new("facenet", "keras-facenet Inception-ResNet-v1, 160×160, threshold 0.7", 160, 0.7, true, FaceCrop.Dsb, false, true,
            ["facenet/model.h5", "keras-facenet-h5/model.h5", "facenet.h5", "model.h5"]),
        new("openface", "course nn4.small2 (no LRN), 96×96, threshold 0.7", 96, 0.7, true, FaceCrop.Dsb, false, false,
            ["openface/nn4.small2.v1.h5", "openface/weights.h5", "nn4.small2.v1.h5", "openface", "openface/csv"]),
        new("openface-keras", "Keras-OpenFace nn4.small2.v1 (LRN, L2 pooling), 96×96, threshold 0.7", 96, 0.7, true, FaceCrop.Dsb, false, false,
            ["openface/nn4.small2.v1.h5", "openface/weights.h5", "nn4.small2.v1.h5", "openface", "openface/csv"]),
        new("faceapi", "face-api's ResNet-34 descriptor (dlib's model), 150×150, threshold 0.6; finds faces in ordinary photos", 150, 0.6, false, FaceCrop.FaceApi, true, false,
            ["faceapi/" + FaceApiResNet34.ManifestPrefix + TfjsWeightReader.ManifestSuffix, "faceapi"]),
    ];

    /// <summary>The model ids.</summary>
    public static IReadOnlyList<string> Ids { get; } = [.. All.Select(m => m.Id)];

    /// <summary>The model called <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentException">Unknown id; the message lists the known ones.</exception>
    public static ModelDescriptor Get(string id) =>
        All.FirstOrDefault(m => m.Id == id) ?? throw new ArgumentException($"Unknown model '{id}'. Known: {string.Join(", ", Ids)}.");

    /// <summary>
    /// The weights of <paramref name="model"/>: <paramref name="argument"/> when given, else
    /// <c>$INCEPTIONNET_WEIGHTS</c>, else the model's default paths under ./weights and ../shared/weights.
    /// </summary>
    /// <exception cref="InvalidWeightsException">Nothing found; the message lists where it looked.</exception>
    public static string FindWeights(ModelDescriptor model, string? argument)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (path, tried) = WeightsLoader.Resolve(argument, model.DefaultWeightPaths);
        return path ?? throw new InvalidWeightsException(argument ?? model.Id,
            $"no weights found for model '{model.Id}'. Tried: {string.Join(", ", tried)}. Pass --weights PATH or set ${WeightsLoader.EnvironmentVariable}.");
    }

    /// <summary>
    /// Finds and loads <paramref name="model"/>'s encoder. The kernels it will run are compiled on a thread-pool thread
    /// meanwhile (<see cref="KernelSet.WarmUp"/>), so a cold process does not compile them inside its first pass.
    /// </summary>
    public static FaceEncoder LoadEncoder(ModelDescriptor model, string? weightsArgument, InceptionNet.Graph.ExecutionContext? context = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        string weights = FindWeights(model, weightsArgument);
        var kernels = context?.Kernels ?? KernelSet.Default;
        ThreadPool.UnsafeQueueUserWorkItem(static set => WarmUpQuietly(set), kernels, preferLocal: false);
        return model.Load(weights, context);
    }

    // Only a head start: a warm-up that fails (no memory for its 64 KiB, say) leaves the kernels to compile in the first
    // pass, and must not end the process, as any exception escaping a thread-pool item would.
    private static void WarmUpQuietly(KernelSet kernels)
    {
        try
        {
            kernels.WarmUp();
        }
        catch (Exception)
        {
            // nothing lost but the head start
        }
    }

    /// <summary>
    /// The MTCNN weights folder (det1.npy, det2.npy, det3.npy): <paramref name="argument"/> when given, else
    /// <c>$INCEPTIONNET_MTCNN</c>, else ./weights/mtcnn, else ../shared/weights/mtcnn.
    /// </summary>
    /// <exception cref="InvalidWeightsException">Nothing found; the message lists where it looked.</exception>
    public static string FindMtcnn(string? argument)
    {
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(argument))
        {
            candidates.Add(argument);
        }
        else
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(MtcnnEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                candidates.Add(fromEnvironment);
            }

            candidates.Add(Path.Combine("weights", "mtcnn"));
            candidates.Add(Path.Combine("..", "shared", "weights", "mtcnn"));
        }

        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, "det1.npy")))
            ?? throw new InvalidWeightsException(argument ?? "mtcnn", $"no det1.npy/det2.npy/det3.npy found (tried {string.Join(", ", candidates)}). Pass --mtcnn DIR or set ${MtcnnEnvironmentVariable}.");
    }
}
