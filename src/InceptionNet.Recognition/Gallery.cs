using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using InceptionNet.Models;
using InceptionNet.Tensors;

namespace InceptionNet.Recognition;

/// <summary>
/// A persistent, embedded face gallery: identities with every enrolled photo's embedding, pinned to the model that
/// made them (<see cref="ModelStamp"/>). One JSON file; every change is written to a temporary file in the same folder
/// and renamed over the old one, so a crash or kill at any moment leaves either the old or the new gallery, never a
/// torn one. Writers take an exclusive lock file (<c>G.lock</c>) for their read-modify-write; readers need no lock.
/// </summary>
public sealed class Gallery
{
    private const string Format = "inceptionnet-gallery";
    private const int Version = 1;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly List<(string Name, List<GalleryEntry> Entries)> _identities;

    private Gallery(string path, ModelStamp model, double? threshold, List<(string, List<GalleryEntry>)> identities)
    {
        Path = path;
        Model = model;
        Threshold = threshold;
        _identities = identities;
    }

    /// <summary>The gallery file.</summary>
    public string Path { get; }

    /// <summary>The model whose vectors this gallery holds.</summary>
    public ModelStamp Model { get; }

    /// <summary>A calibrated threshold stored with the gallery (null: use the model's default).</summary>
    public double? Threshold { get; private set; }

    /// <summary>Identities in enrollment order.</summary>
    public IReadOnlyList<Identity> Identities => _identities.Select(i => new Identity(i.Name, i.Entries)).ToList();

    /// <summary>Number of enrolled photos.</summary>
    public int EntryCount => _identities.Sum(i => i.Entries.Count);

    /// <summary>Whether the gallery file exists.</summary>
    public static bool Exists(string path) => File.Exists(path);

    /// <summary>Opens an existing gallery for reading.</summary>
    /// <exception cref="GalleryException">Missing, unreadable or not a gallery file.</exception>
    public static Gallery Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new GalleryException($"{path}: gallery not found (enroll someone first to create it).");
        }

        try
        {
            return Parse(path, File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or NullReferenceException or ArgumentException)
        {
            throw new GalleryException($"{path}: not a readable gallery file ({ex.Message}).", ex);
        }
    }

    /// <summary>An empty gallery for <paramref name="model"/>, not yet written.</summary>
    public static Gallery CreateEmpty(string path, ModelStamp model) => new(path, model, null, []);

    /// <summary>
    /// Takes the writer lock of <paramref name="path"/>, loads the gallery (or an empty one for <paramref name="model"/> if there
    /// is none), and checks it belongs to <paramref name="model"/> when given. Dispose the returned writer to release the lock;
    /// call <see cref="GalleryWriter.Commit"/> to save.
    /// </summary>
    public static GalleryWriter OpenForWrite(string path, ModelStamp? model, TimeSpan? lockTimeout = null)
    {
        var lockStream = AcquireLock(path, lockTimeout ?? TimeSpan.FromSeconds(30));
        try
        {
            // Only the lock holder writes temporary files, so any left over belong to a writer that died mid-save.
            string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            foreach (string stale in Directory.GetFiles(folder, $".{System.IO.Path.GetFileName(path)}.*.tmp"))
            {
                File.Delete(stale);
            }

            Gallery gallery;
            if (File.Exists(path))
            {
                gallery = Open(path);
                if (model is not null)
                {
                    gallery.EnsureCompatible(model);
                }
            }
            else
            {
                gallery = model is not null ? CreateEmpty(path, model) : throw new GalleryException($"{path}: gallery not found.");
            }

            return new GalleryWriter(gallery, lockStream);
        }
        catch
        {
            lockStream.Dispose();
            throw;
        }
    }

    /// <summary>Refuses to compare vectors of another model (different weights, preprocessing or size).</summary>
    public void EnsureCompatible(ModelStamp model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model == Model)
        {
            return;
        }

        string why = model.ModelId != Model.ModelId ? $"it was made with model '{Model.ModelId}', not '{model.ModelId}'"
            : model.WeightsDigest != Model.WeightsDigest ? $"it was made with other '{Model.ModelId}' weights (digest {Model.WeightsDigest[..12]}…, these are {model.WeightsDigest[..12]}…)"
            : model.PreprocessingId != Model.PreprocessingId ? $"its preprocessing is '{Model.PreprocessingId}', not '{model.PreprocessingId}'"
            : $"its vectors have {Model.EmbeddingSize} values, not {model.EmbeddingSize}";
        throw new GalleryException($"{Path}: this gallery cannot be used with these weights: {why}. Re-enroll into a new gallery to switch models.");
    }

    /// <summary>The identity called <paramref name="name"/> (ordinal, case-sensitive).</summary>
    /// <exception cref="GalleryException">Not enrolled; the message lists who is.</exception>
    public Identity Get(string name)
    {
        int index = IndexOf(name);
        if (index < 0)
        {
            string known = _identities.Count == 0 ? "the gallery is empty" : "enrolled: " + string.Join(", ", _identities.Take(20).Select(i => i.Name)) + (_identities.Count > 20 ? ", …" : string.Empty);
            throw new GalleryException($"'{name}' is not in the gallery {Path} ({known}).");
        }

        return new Identity(_identities[index].Name, _identities[index].Entries);
    }

    /// <summary>Whether <paramref name="name"/> is enrolled.</summary>
    public bool Contains(string name) => IndexOf(name) >= 0;

    /// <summary>A search index over every entry (contiguous vectors).</summary>
    public GalleryIndex BuildIndex() => new(_identities.Select(i => (i.Name, (IReadOnlyList<GalleryEntry>)i.Entries)).ToList(), Model.EmbeddingSize);

    internal void Add(string name, GalleryEntry entry)
    {
        if (entry.Embedding.Length != Model.EmbeddingSize)
        {
            throw new GalleryException($"an embedding of {entry.Embedding.Length} values cannot join a gallery of {Model.EmbeddingSize}-d vectors.");
        }

        int index = IndexOf(name);
        if (index < 0)
        {
            _identities.Add((name, [entry]));
        }
        else
        {
            _identities[index].Entries.Add(entry);
        }
    }

    internal void Remove(string name)
    {
        Get(name);
        _identities.RemoveAt(IndexOf(name));
    }

    internal void Rename(string name, string newName)
    {
        Get(name);
        ValidateName(newName);
        if (Contains(newName))
        {
            throw new GalleryException($"cannot rename '{name}' to '{newName}': '{newName}' is already enrolled.");
        }

        int index = IndexOf(name);
        _identities[index] = (newName, _identities[index].Entries);
    }

    internal void SetThreshold(double? threshold) => Threshold = threshold;

    internal static void ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200 || name.Any(char.IsControl))
        {
            throw new GalleryException($"'{name}' is not a valid identity name (1–200 printable characters).");
        }
    }

    internal void Save()
    {
        var root = new JsonObject
        {
            ["format"] = Format,
            ["version"] = Version,
            ["model"] = new JsonObject
            {
                ["id"] = Model.ModelId,
                ["weights_sha256"] = Model.WeightsDigest,
                ["preprocessing"] = Model.PreprocessingId,
                ["embedding_size"] = Model.EmbeddingSize,
            },
            ["threshold"] = Threshold,
            ["identities"] = new JsonArray(_identities.Select(i => (JsonNode)new JsonObject
            {
                ["name"] = i.Name,
                ["entries"] = new JsonArray(i.Entries.Select(e => (JsonNode)new JsonObject
                {
                    ["source"] = e.Source,
                    ["added"] = e.AddedUtc.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                    ["embedding"] = Convert.ToBase64String(MemoryMarshal.AsBytes(e.Embedding.AsSpan())),
                }).ToArray()),
            }).ToArray()),
        };
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(root, Indented);
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        Directory.CreateDirectory(directory);
        string temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, Path, overwrite: true); // rename(2): atomic on the same file system
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    private int IndexOf(string name) => _identities.FindIndex(i => string.Equals(i.Name, name, StringComparison.Ordinal));

    private static FileStream AcquireLock(string path, TimeSpan timeout)
    {
        string lockPath = path + ".lock";
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(lockPath))!);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                // The OS releases the lock when the process dies, so a killed writer never blocks the next one.
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(25);
            }
            catch (IOException ex)
            {
                throw new GalleryException($"{path}: another process is writing this gallery (lock {lockPath} held for {timeout.TotalSeconds:F0} s).", ex);
            }
        }
    }

    private static Gallery Parse(string path, byte[] bytes)
    {
        var root = JsonNode.Parse(bytes) ?? throw new FormatException("empty document");
        if ((string?)root["format"] != Format)
        {
            throw new FormatException($"'format' is not '{Format}'");
        }

        if ((int?)root["version"] != Version)
        {
            throw new FormatException($"version {(int?)root["version"]} is not supported (this build reads version {Version})");
        }

        var m = root["model"]!;
        var model = new ModelStamp((string)m["id"]!, (string)m["weights_sha256"]!, (string)m["preprocessing"]!, (int)m["embedding_size"]!);
        var identities = new List<(string, List<GalleryEntry>)>();
        foreach (var identity in root["identities"]!.AsArray())
        {
            var entries = new List<GalleryEntry>();
            foreach (var e in identity!["entries"]!.AsArray())
            {
                var raw = Convert.FromBase64String((string)e!["embedding"]!);
                if (raw.Length != model.EmbeddingSize * sizeof(float))
                {
                    throw new FormatException($"an embedding of '{identity["name"]}' has {raw.Length} bytes, expected {model.EmbeddingSize * sizeof(float)}");
                }

                var embedding = MemoryMarshal.Cast<byte, float>(raw).ToArray();
                if (embedding.Any(v => !float.IsFinite(v)))
                {
                    throw new FormatException($"an embedding of '{identity["name"]}' holds a non-finite value");
                }

                entries.Add(new GalleryEntry(embedding, (string?)e["source"] ?? string.Empty,
                    DateTimeOffset.Parse((string)e["added"]!, System.Globalization.CultureInfo.InvariantCulture)));
            }

            identities.Add(((string)identity["name"]!, entries));
        }

        return new Gallery(path, model, (double?)root["threshold"], identities);
    }
}

/// <summary>Holds a gallery's writer lock; changes become durable at <see cref="Commit"/>.</summary>
public sealed class GalleryWriter : IDisposable
{
    private readonly FileStream _lock;

    internal GalleryWriter(Gallery gallery, FileStream lockStream)
    {
        Gallery = gallery;
        _lock = lockStream;
    }

    /// <summary>The gallery being changed (in memory until <see cref="Commit"/>).</summary>
    public Gallery Gallery { get; }

    /// <summary>
    /// Adds photos to <paramref name="name"/> (created if new). Returns a warning for every photo closer than
    /// <paramref name="threshold"/> to a different identity: a likely duplicate or wrong photo.
    /// </summary>
    public IReadOnlyList<string> Enroll(string name, IReadOnlyList<(string Source, FaceEncoding Encoding)> photos, double threshold)
    {
        Gallery.ValidateName(name);
        var warnings = new List<string>();
        var index = Gallery.BuildIndex();
        foreach (var (source, encoding) in photos)
        {
            if (index.Count > 0)
            {
                foreach (var (other, distance) in index.DistancesByIdentity(encoding.Embedding, IdentityRule.Closest))
                {
                    if (other != name && distance < threshold)
                    {
                        warnings.Add($"{source} is {distance:F4} from '{other}' (threshold {threshold:F2}): the same person under two names, or a wrong photo?");
                    }
                }
            }

            Gallery.Add(name, new GalleryEntry(encoding.Embedding, source, DateTimeOffset.UtcNow));
        }

        return warnings;
    }

    /// <summary>Removes an identity and all its photos.</summary>
    public void Remove(string name) => Gallery.Remove(name);

    /// <summary>Renames an identity.</summary>
    public void Rename(string name, string newName) => Gallery.Rename(name, newName);

    /// <summary>Stores a calibrated threshold (null restores the model default).</summary>
    public void SetThreshold(double? threshold) => Gallery.SetThreshold(threshold);

    /// <summary>Writes the gallery atomically.</summary>
    public void Commit() => Gallery.Save();

    /// <inheritdoc />
    public void Dispose() => _lock.Dispose();
}
