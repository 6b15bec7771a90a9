using System.Globalization;
using InceptionNet.Models;
using InceptionNet.Vision;

namespace InceptionNet.Recognition;

/// <summary>Decision settings.</summary>
public sealed record RecognitionOptions
{
    /// <summary>Distance below which a face is accepted; null: the gallery's calibrated threshold, else the model's default.</summary>
    public double? Threshold { get; init; }

    /// <summary>How several photos of one identity are compared.</summary>
    public IdentityRule Rule { get; init; } = IdentityRule.Closest;

    /// <summary>
    /// When the two nearest identities are both under the threshold and closer to each other than this, the answer is
    /// flagged ambiguous and the door stays closed. 0 disables the check (the course's who_is_it behaviour).
    /// </summary>
    public double AmbiguityMargin { get; init; } = 0.02;
}

/// <summary>The answer to "is this person <see cref="Identity"/>?" (1:1).</summary>
/// <param name="Identity">The claimed identity.</param>
/// <param name="Distance">Distance to the identity (closest photo, or mean).</param>
/// <param name="Threshold">Threshold used.</param>
/// <param name="Accepted">Distance below the threshold.</param>
/// <param name="Message">For people, in the course's words.</param>
public sealed record VerificationResult(string Identity, double Distance, double Threshold, bool Accepted, string Message);

/// <summary>The answer to "who is this?" (1:K).</summary>
/// <param name="Identity">The recognized identity, or null when not in the database or ambiguous.</param>
/// <param name="Nearest">The nearest identity, whatever its distance (null for an empty gallery).</param>
/// <param name="Distance">Distance to the nearest identity.</param>
/// <param name="RunnerUp">The second nearest identity.</param>
/// <param name="RunnerUpDistance">Its distance.</param>
/// <param name="Margin">RunnerUpDistance − Distance.</param>
/// <param name="Threshold">Threshold used.</param>
/// <param name="Ambiguous">Two identities are both under the threshold and within the ambiguity margin.</param>
/// <param name="Message">For people.</param>
public sealed record IdentificationResult(string? Identity, string? Nearest, double Distance, string? RunnerUp, double? RunnerUpDistance,
    double? Margin, double Threshold, bool Ambiguous, string Message)
{
    /// <summary>Whether the door opens.</summary>
    public bool Accepted => Identity is not null;
}

/// <summary>Verify and identify faces against a gallery made with the same model.</summary>
public sealed class FaceRecognizer
{
    private readonly IFaceEncoder _encoder;
    private readonly GalleryIndex _index;

    /// <summary>Creates a recognizer; refuses a gallery made with another model.</summary>
    public FaceRecognizer(IFaceEncoder encoder, Gallery gallery, RecognitionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(gallery);
        gallery.EnsureCompatible(ModelStamp.Of(encoder));
        _encoder = encoder;
        Gallery = gallery;
        Options = options ?? new RecognitionOptions();
        Threshold = Options.Threshold ?? gallery.Threshold ?? encoder.DefaultThreshold;
        _index = gallery.BuildIndex(encoder.NormalizesEmbedding);
    }

    /// <summary>
    /// A recognizer over <paramref name="gallery"/> searching <paramref name="index"/>, an index already holding exactly
    /// the gallery's vectors (e.g. the previous version's index with the new photos appended, see
    /// <see cref="GalleryIndex.Append"/>), so that a change costs the change, not a rebuild.
    /// </summary>
    /// <exception cref="ArgumentException">The index does not hold as many vectors and identities as the gallery.</exception>
    public FaceRecognizer(IFaceEncoder encoder, Gallery gallery, GalleryIndex index, RecognitionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(gallery);
        ArgumentNullException.ThrowIfNull(index);
        gallery.EnsureCompatible(ModelStamp.Of(encoder));
        if (index.Count != gallery.EntryCount || index.IdentityCount != gallery.IdentityCount)
        {
            throw new ArgumentException($"The index holds {index.Count} vectors of {index.IdentityCount} identities, the gallery {gallery.EntryCount} of {gallery.IdentityCount}.", nameof(index));
        }

        _encoder = encoder;
        Gallery = gallery;
        Options = options ?? new RecognitionOptions();
        Threshold = Options.Threshold ?? gallery.Threshold ?? encoder.DefaultThreshold;
        _index = index;
    }

    /// <summary>The index searched.</summary>
    public GalleryIndex Index => _index;

    /// <summary>The gallery searched.</summary>
    public Gallery Gallery { get; }

    /// <summary>Decision settings.</summary>
    public RecognitionOptions Options { get; }

    /// <summary>The threshold in force.</summary>
    public double Threshold { get; }

    /// <summary>1:1 verification of a photo.</summary>
    public VerificationResult Verify(RgbImage image, string identity) => Verify(_encoder.Encode(image), identity);

    /// <summary>1:1 verification of an encoding.</summary>
    public VerificationResult Verify(FaceEncoding encoding, string identity)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        var person = Gallery.Get(identity);
        double distance = Options.Rule != IdentityRule.Closest
            ? _index.DistancesByIdentity(encoding.Embedding, Options.Rule).First(d => d.Name == person.Name).Distance
            : Gallery.ClosestDistance(person.Name, encoding.Embedding);
        bool accepted = distance < Threshold;
        string message = accepted ? $"It's {person.Name}, welcome in!" : $"It's not {person.Name}, please go away";
        return new VerificationResult(person.Name, distance, Threshold, accepted, message);
    }

    /// <summary>1:K identification of a photo.</summary>
    public IdentificationResult Identify(RgbImage image) => Identify(_encoder.Encode(image));

    /// <summary>1:K identification of an encoding.</summary>
    public IdentificationResult Identify(FaceEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        if (_index.IdentityCount == 0)
        {
            return new IdentificationResult(null, null, double.PositiveInfinity, null, null, null, Threshold, false, "Not in the database (the gallery is empty).");
        }

        (string Name, double Distance)? best, second;
        if (Options.Rule != IdentityRule.Closest)
        {
            var all = _index.DistancesByIdentity(encoding.Embedding, Options.Rule);
            best = all[0];
            second = all.Count > 1 ? all[1] : null;
        }
        else
        {
            (best, second) = _index.TopTwo(encoding.Embedding);
        }

        var (name, distance) = best!.Value;
        double? margin = second is null ? null : second.Value.Distance - distance;
        bool ambiguous = second is not null && distance < Threshold && second.Value.Distance < Threshold && margin < Options.AmbiguityMargin;
        string message;
        string? identity = null;
        if (distance >= Threshold)
        {
            message = "Not in the database.";
        }
        else if (ambiguous)
        {
            message = string.Create(CultureInfo.InvariantCulture, $"Ambiguous: {name} ({distance:F4}) or {second!.Value.Name} ({second.Value.Distance:F4}); please try again.");
        }
        else
        {
            identity = name;
            message = string.Create(CultureInfo.InvariantCulture, $"It's {name}, the distance is {distance:F4}");
        }

        return new IdentificationResult(identity, name, distance, second?.Name, second?.Distance, margin, Threshold, ambiguous, message);
    }
}
