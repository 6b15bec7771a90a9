namespace InceptionNet.Recognition;

/// <summary>One enrolled photo: its normalized embedding and where it came from.</summary>
/// <param name="Embedding">L2-normalized encoding.</param>
/// <param name="Source">The photo's path as given at enrollment.</param>
/// <param name="AddedUtc">When it was enrolled.</param>
public sealed record GalleryEntry(float[] Embedding, string Source, DateTimeOffset AddedUtc);

/// <summary>An identity and all its enrolled photos.</summary>
/// <param name="Name">The identity's name.</param>
/// <param name="Entries">Every enrolled photo (all are kept).</param>
public sealed record Identity(string Name, IReadOnlyList<GalleryEntry> Entries);

/// <summary>Which model made a gallery's vectors; a gallery is only ever compared with vectors from the same model.</summary>
/// <param name="ModelId">e.g. facenet.</param>
/// <param name="WeightsDigest">SHA-256 digest of the weights.</param>
/// <param name="PreprocessingId">e.g. rgb-pil-nearest-160-div255.</param>
/// <param name="EmbeddingSize">Vector length.</param>
public sealed record ModelStamp(string ModelId, string WeightsDigest, string PreprocessingId, int EmbeddingSize)
{
    /// <summary>The stamp of an encoder.</summary>
    public static ModelStamp Of(InceptionNet.Models.IFaceEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        return new(encoder.ModelId, encoder.WeightsDigest, encoder.PreprocessingId, encoder.EmbeddingSize);
    }
}
