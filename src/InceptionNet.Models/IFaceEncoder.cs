using InceptionNet.Vision;

namespace InceptionNet.Models;

/// <summary>
/// What recognition needs from any face model (FaceNet, OpenFace, later others): its input, its preprocessing id,
/// its embedding size, its default decision threshold, the digest of its weights, and encoding itself.
/// </summary>
public interface IFaceEncoder
{
    /// <summary>Model id as the CLI names it.</summary>
    string ModelId { get; }

    /// <summary>Side of the square RGB input.</summary>
    int InputSize { get; }

    /// <summary>Length of the encoding.</summary>
    int EmbeddingSize { get; }

    /// <summary>Identifies the preprocessing.</summary>
    string PreprocessingId { get; }

    /// <summary>Distance below which two faces are the same person.</summary>
    double DefaultThreshold { get; }

    /// <summary>Whether <see cref="FaceEncoding.Embedding"/> is L2-normalized (FaceNet, OpenFace) or the raw output (face-api).</summary>
    bool NormalizesEmbedding { get; }

    /// <summary>SHA-256 digest of the weights.</summary>
    string WeightsDigest { get; }

    /// <summary>Encodes one decoded image.</summary>
    FaceEncoding Encode(RgbImage image);

    /// <summary>Encodes images in batches.</summary>
    IReadOnlyList<FaceEncoding> Encode(IReadOnlyList<RgbImage> images, int batchSize = 16);
}
