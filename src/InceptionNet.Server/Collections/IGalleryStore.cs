using System.Text.RegularExpressions;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Server.Http;

namespace InceptionNet.Server.Collections;

/// <summary>One version of a collection: a gallery that is never changed after it is published, and its recognizer.</summary>
/// <param name="Name">The collection's name.</param>
/// <param name="Gallery">Its people and their embeddings at this version.</param>
/// <param name="Recognizer">Verify and identify against <paramref name="Gallery"/>.</param>
public sealed record CollectionSnapshot(string Name, Gallery Gallery, FaceRecognizer Recognizer);

/// <summary>
/// Where the service's collections live: <see cref="JsonFileGalleryStore"/> (one gallery file each, the default) or
/// <see cref="Postgres.PostgresGalleryStore"/> (shared by several instances). Either way readers take an in-memory
/// <see cref="CollectionSnapshot"/> (the same <see cref="Gallery"/> and <see cref="GalleryIndex"/>) and never wait for
/// storage; a write is all-or-nothing and publishes a new snapshot once it is durable.
/// </summary>
public partial interface IGalleryStore : IAsyncDisposable
{
    /// <summary>The collections, by name.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>The current version of collection <paramref name="name"/>.</summary>
    /// <exception cref="ApiException">404: no such collection; 400: not a valid name; 409: made with another model.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1716", Justification = "The name the file store always had; the service's routes call it.")]
    CollectionSnapshot Get(string name);

    /// <summary>Creates an empty collection. Returns false when it already exists (and is left as it is).</summary>
    /// <exception cref="ApiException">503: the storage cannot be reached (writes only).</exception>
    Task<bool> CreateAsync(string name, CancellationToken cancellation);

    /// <summary>Deletes a collection with everyone in it.</summary>
    Task DeleteAsync(string name, CancellationToken cancellation);

    /// <summary>Adds photos to a person (created if new); all of them or none are written. Returns the person's photo count.</summary>
    Task<int> EnrollAsync(string name, string person, IReadOnlyList<(string Source, FaceEncoding Encoding)> photos, CancellationToken cancellation);

    /// <summary>Removes a person and their photos.</summary>
    Task RemoveAsync(string name, string person, CancellationToken cancellation);

    /// <summary>Renames a person.</summary>
    Task RenameAsync(string name, string person, string newName, CancellationToken cancellation);

    /// <summary>Stores the collection's calibrated threshold (null: the model's default applies again).</summary>
    Task SetThresholdAsync(string name, double? threshold, CancellationToken cancellation);

    /// <summary>Letters, digits, '.', '_' and '-', 1–64 characters, starting with a letter or digit: a name that is safe as a file name.</summary>
    static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>Throws 400 when <paramref name="name"/> is not a valid collection name.</summary>
    static void ValidateCollectionName(string name)
    {
        if (!IsValidName(name))
        {
            throw ApiException.BadRequest($"'{name}' is not a valid collection name (1–64 letters, digits, '.', '_' or '-', starting with a letter or digit)");
        }
    }

    /// <summary>Throws 400 when <paramref name="person"/> is not a valid identity name.</summary>
    static void ValidatePerson(string person)
    {
        try
        {
            Gallery.ValidateName(person);
        }
        catch (GalleryException ex)
        {
            throw ApiException.BadRequest(ex.Message);
        }
    }

    /// <summary>Throws 404 when <paramref name="person"/> is not enrolled in the snapshot.</summary>
    static void RequirePerson(Gallery gallery, string collection, string person)
    {
        ArgumentNullException.ThrowIfNull(gallery);
        if (!gallery.Contains(person))
        {
            throw ApiException.NotFound($"'{person}' is not enrolled in '{collection}'");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
