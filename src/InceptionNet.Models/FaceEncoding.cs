namespace InceptionNet.Models;

/// <summary>The output of a face model for one image.</summary>
/// <param name="Raw">The model output before L2 normalization (FaceNet: Bottleneck_BatchNorm; OpenFace: dense_layer).</param>
/// <param name="Embedding">The L2-normalized encoding compared by distance.</param>
public sealed record FaceEncoding(float[] Raw, float[] Embedding)
{
    /// <summary>Euclidean distance between two embeddings (accumulated in double), as the course's <c>np.linalg.norm</c>.</summary>
    public double DistanceTo(FaceEncoding other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return InceptionNet.Tensors.ElementwiseOps.Distance(Embedding, other.Embedding);
    }
}
