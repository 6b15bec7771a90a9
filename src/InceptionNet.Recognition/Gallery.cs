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
/// torn one. Writers take an exclusive lock on a hidden file beside it (<c>.G.lock</c>) for their read-modify-write;
/// readers need no lock. The lock file stays: deleting it could let two writers lock two different files.
/// </summary>
/// <remarks>
/// The vectors are held once, as the rows of one contiguous <see cref="GalleryIndex"/> version; a photo keeps its
/// source, time and row. <see cref="BuildIndex"/> is a view of those rows (nothing copied), and a new version
/// (<see cref="WithPhotos"/>, <see cref="Without"/>, <see cref="WithRenamed"/>) is the index's next version with the
/// changed people, so a change costs the change, never a copy of every vector.
/// </remarks>
public sealed class Gallery
{
    private const string Format = "inceptionnet-gallery";
    private const int Version = 2; // 2 added face_input; version 1 files open with FaceInput unrecorded
    private const int MaxEmbeddingSize = 4096; // our models emit 128; anything far larger is a damaged file, not a model
    private static readonly JsonDocumentOptions ParseOptions = new() { AllowDuplicateProperties = false };
    private readonly List<(string Name, GalleryPhoto[] Photos)> _identities;
    private GalleryIndex _vectors; // every photo's row; replaced only in a writer's own copy (GalleryWriter), never once published

    internal Gallery(string path, ModelStamp model, string? faceInput, double? threshold, List<(string, GalleryPhoto[])> identities, GalleryIndex vectors)
    {
        Path = path;
        Model = model;
        FaceInput = faceInput;
        Threshold = threshold;
        _identities = identities;
        _vectors = vectors;
    }

    /// <summary>The gallery file.</summary>
    public string Path { get; }

    /// <summary>The model whose vectors this gallery holds.</summary>
    public ModelStamp Model { get; }

    /// <summary>
    /// How the enrolled faces were taken from their photos (e.g. <c>whole</c>, <c>mtcnn+faceapi</c>): probes must be
    /// prepared the same way. Null for a gallery written before this was recorded (format version 1).
    /// </summary>
    public string? FaceInput { get; private set; }

    /// <summary>A calibrated threshold stored with the gallery (null: use the model's default).</summary>
    public double? Threshold { get; private set; }

    /// <summary>
    /// Identities in enrollment order. Their entries are read from the gallery's rows when asked for: each
    /// <see cref="GalleryEntry"/> taken from <see cref="Identity.Entries"/> holds a copy of its vector.
    /// </summary>
    public IReadOnlyList<Identity> Identities => _identities.Select(i => new Identity(i.Name, new PhotoEntries(_vectors, i.Photos))).ToList();

    /// <summary>Number of identities (without building <see cref="Identities"/>).</summary>
    public int IdentityCount => _identities.Count;

    /// <summary>Number of enrolled photos.</summary>
    public int EntryCount => _vectors.Count;

    /// <summary>Whether the gallery file exists.</summary>
    public static bool Exists(string path) => File.Exists(path);

    /// <summary>Opens an existing gallery for reading.</summary>
    /// <exception cref="GalleryException">Missing, unreadable or not a gallery file.</exception>
    public static Gallery Open(string path)
    {
        if (Directory.Exists(path))
        {
            throw new GalleryException($"{path}: is a directory, expected a gallery file.");
        }

        if (!File.Exists(path))
        {
            throw new GalleryException($"{path}: gallery not found (enroll someone first to create it).");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new GalleryException($"{path}: cannot be read ({ex.Message}).", ex);
        }

        try
        {
            return Parse(path, bytes);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            // InvalidOperationException: System.Text.Json's answer to a string that is not valid UTF-8.
            throw new GalleryException($"{path}: not a readable gallery file ({ex.Message}).", ex);
        }
    }

    /// <summary>An empty gallery for <paramref name="model"/>, not yet written.</summary>
    public static Gallery CreateEmpty(string path, ModelStamp model, string? faceInput = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new GalleryBuilder(path, model, faceInput, null).Build();
    }

    /// <summary>
    /// A gallery from identities held elsewhere (a database), checked as strictly as a file: valid, distinct names,
    /// at least one photo each, vectors of the model's size with finite values. Nothing is written.
    /// </summary>
    /// <param name="path">Where it lives, for messages (e.g. <c>postgres:db/collection</c>).</param>
    /// <param name="model">The model its vectors belong to.</param>
    /// <param name="faceInput">How its faces were taken from their photos.</param>
    /// <param name="threshold">A calibrated threshold, or null.</param>
    /// <param name="identities">Identities in enrollment order; their vectors are copied into the gallery's rows.</param>
    /// <param name="spareRows">Room for that many photos to be added without copying the rows (see <see cref="GalleryIndex.Append"/>).</param>
    /// <exception cref="GalleryException">A name, photo or vector is not valid.</exception>
    public static Gallery FromIdentities(string path, ModelStamp model, string? faceInput, double? threshold, IEnumerable<Identity> identities, int spareRows = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(identities);
        var list = identities as IReadOnlyCollection<Identity> ?? [.. identities];
        var builder = new GalleryBuilder(path, model, faceInput, threshold, list.Sum(i => i.Entries.Count), spareRows);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var identity in list)
        {
            ValidateName(identity.Name);
            if (!names.Add(identity.Name) || identity.Entries.Count == 0)
            {
                throw new GalleryException($"{path}: '{identity.Name}' is enrolled twice or has no photo.");
            }

            foreach (var entry in identity.Entries)
            {
                builder.Add(identity.Name, entry.Embedding, entry.Source, entry.AddedUtc);
            }
        }

        return builder.Build();
    }

    /// <summary>
    /// A new version with <paramref name="entries"/> added to <paramref name="name"/> (a new identity at the end when
    /// not enrolled); this version is not changed. The cost is one list of identities and the one identity's photos.
    /// </summary>
    /// <exception cref="GalleryException">Not a valid name, or a vector of another size or with a non-finite value.</exception>
    public Gallery WithPhotos(string name, IReadOnlyList<GalleryEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ValidateName(name);
        if (entries.Count == 0)
        {
            throw new GalleryException($"{Path}: no photo to add to '{name}'.");
        }

        foreach (var entry in entries)
        {
            CheckVector(Path, Model, entry?.Embedding);
        }

        var changed = Copy();
        foreach (var entry in entries)
        {
            changed.Add(name, entry);
        }

        return changed;
    }

    /// <summary>
    /// A new version without <paramref name="name"/>; this version is not changed. The cost is the lists of identities
    /// (see <see cref="GalleryIndex.Without"/>: the rows are dropped by an occasional compaction, not copied every time).
    /// </summary>
    /// <exception cref="GalleryException">Not enrolled.</exception>
    public Gallery Without(string name)
    {
        var changed = Copy();
        changed.Remove(name);
        return changed;
    }

    /// <summary>A new version where <paramref name="name"/> is called <paramref name="newName"/>; this version is not changed.</summary>
    /// <exception cref="GalleryException">Not enrolled, or the new name is not valid or taken.</exception>
    public Gallery WithRenamed(string name, string newName)
    {
        var renamed = Copy();
        renamed.Rename(name, newName);
        return renamed;
    }

    /// <summary>A new version with another calibrated threshold (null: the model's default); this version is not changed.</summary>
    public Gallery WithThreshold(double? threshold) => new(Path, Model, FaceInput, threshold, [.. _identities], _vectors);

    /// <summary>The same gallery under another path (e.g. a collection read from a database, to be saved as a file); the rows are shared.</summary>
    public Gallery WithPath(string path) => new(path, Model, FaceInput, Threshold, [.. _identities], _vectors);

    // A version to change: its own list of identities (photo arrays and rows shared until changed).
    private Gallery Copy() => new(Path, Model, FaceInput, Threshold, [.. _identities], _vectors);

    /// <summary>
    /// Writes this gallery to <see cref="Path"/> as a new file (atomically, under its writer lock), e.g. one read from a
    /// database. Refuses to replace an existing gallery.
    /// </summary>
    /// <exception cref="GalleryException">A gallery file is already there, or it cannot be written.</exception>
    public void SaveAsNewFile()
    {
        using var lockStream = AcquireLock(Path, TimeSpan.FromSeconds(10));
        if (File.Exists(Path))
        {
            throw new GalleryException($"{Path}: a gallery file is already there; export to a new file.");
        }

        try
        {
            Save();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new GalleryException($"{Path}: cannot be written ({ex.Message}).", ex);
        }
    }

    internal static void CheckVector(string path, ModelStamp model, ReadOnlySpan<float> embedding)
    {
        if (embedding.Length != model.EmbeddingSize || !AllFinite(embedding))
        {
            throw new GalleryException($"{path}: an embedding of {embedding.Length} values (or with a non-finite value) cannot join a gallery of {model.EmbeddingSize}-d vectors.");
        }
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Takes the writer lock of <paramref name="path"/>, loads the gallery (or an empty one for <paramref name="model"/> if there
    /// is none), and checks it belongs to <paramref name="model"/> when given. Dispose the returned writer to release the lock;
    /// call <see cref="GalleryWriter.Commit"/> to save.
    /// </summary>
    public static GalleryWriter OpenForWrite(string path, ModelStamp? model, TimeSpan? lockTimeout = null, string? faceInput = null)
    {
        if (Directory.Exists(path))
        {
            throw new GalleryException($"{path}: is a directory, expected a gallery file.");
        }

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

                if (faceInput is not null)
                {
                    gallery.EnsureFaceInput(faceInput);
                }
            }
            else
            {
                gallery = model is not null ? CreateEmpty(path, model, faceInput) : throw new GalleryException($"{path}: gallery not found.");
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

    /// <summary>
    /// Refuses faces prepared differently from the enrolled ones (<paramref name="faceInput"/> is how the probe's face was
    /// taken from its photo): a whole photo compared with detected, cropped faces gives confident wrong answers.
    /// </summary>
    public void EnsureFaceInput(string faceInput)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(faceInput);
        if (FaceInput is null)
        {
            throw new GalleryException($"{Path}: this gallery was written by an older InceptionNet that did not record how its faces were taken from their photos. "
                + $"Record it once with 'inceptionnet gallery migrate --gallery {Path} --face-input whole|mtcnn+dsb|mtcnn+faceapi|mtcnn+similarity' (as it was enrolled), or re-enroll.");
        }

        if (!string.Equals(FaceInput, faceInput, StringComparison.Ordinal))
        {
            throw new GalleryException($"{Path}: its faces were enrolled as '{FaceInput}' ({DescribeFaceInput(FaceInput)}), but this photo would be read as '{faceInput}' ({DescribeFaceInput(faceInput)}). "
                + "Compare faces prepared the same way: use the options the gallery was enrolled with, or re-enroll.");
        }
    }

    /// <summary>Plain words for a face-input id.</summary>
    public static string DescribeFaceInput(string faceInput) => faceInput switch
    {
        "whole" => "the whole photo, no face detection",
        "mtcnn+dsb" => "faces found by MTCNN, cut with a 44 px margin as FaceNet's training crops",
        "mtcnn+faceapi" => "faces found by MTCNN, cut as face-api's dlib-style square; photos no larger than the model input taken whole",
        "mtcnn+similarity" => "faces found by MTCNN, aligned to a 5-point template",
        _ => "unknown preparation",
    };

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

        return new Identity(_identities[index].Name, new PhotoEntries(_vectors, _identities[index].Photos));
    }

    // The distance from query to the closest of name's photos, read from the rows (verify: nothing copied).
    internal double ClosestDistance(string name, ReadOnlySpan<float> query)
    {
        Get(name);
        double best = double.PositiveInfinity;
        foreach (var photo in _identities[IndexOf(name)].Photos)
        {
            best = Math.Min(best, ElementwiseOps.Distance(_vectors.Row(photo.Row), query));
        }

        return best;
    }

    /// <summary>Whether <paramref name="name"/> is enrolled.</summary>
    public bool Contains(string name) => IndexOf(name) >= 0;

    /// <summary>
    /// The search index over every entry: a view of the gallery's own rows (nothing is copied), searched as the model's
    /// vectors are (<paramref name="unitVectors"/>: whether they are L2-normalized, which decides how identity means are formed).
    /// </summary>
    public GalleryIndex BuildIndex(bool unitVectors = true) => _vectors.WithUnitVectors(unitVectors);

    internal void Add(string name, GalleryEntry entry)
    {
        if (entry.Embedding.Length != Model.EmbeddingSize)
        {
            throw new GalleryException($"an embedding of {entry.Embedding.Length} values cannot join a gallery of {Model.EmbeddingSize}-d vectors.");
        }

        _vectors = _vectors.AppendRow(name, entry.Embedding, out int row);
        var photo = new GalleryPhoto(entry.Source, entry.AddedUtc, row);
        int index = IndexOf(name);
        if (index < 0)
        {
            _identities.Add((name, [photo]));
        }
        else
        {
            _identities[index] = (name, [.. _identities[index].Photos, photo]);
        }
    }

    internal void Remove(string name)
    {
        Get(name);
        _vectors = _vectors.WithoutIdentity(name, out int[]? moved);
        _identities.RemoveAt(IndexOf(name));
        if (moved is not null)
        {
            // The rows were compacted: every photo follows its row (new arrays: older versions keep theirs).
            for (int i = 0; i < _identities.Count; i++)
            {
                var photos = _identities[i].Photos;
                var renumbered = new GalleryPhoto[photos.Length];
                for (int j = 0; j < photos.Length; j++)
                {
                    renumbered[j] = photos[j] with { Row = moved[photos[j].Row] };
                }

                _identities[i] = (_identities[i].Name, renumbered);
            }
        }
    }

    internal void Rename(string name, string newName)
    {
        Get(name);
        ValidateName(newName);
        if (Contains(newName))
        {
            throw new GalleryException($"cannot rename '{name}' to '{newName}': '{newName}' is already enrolled.");
        }

        _vectors = _vectors.Renamed(name, newName);
        int index = IndexOf(name);
        _identities[index] = (newName, _identities[index].Photos);
    }

    internal void SetThreshold(double? threshold) => Threshold = threshold;

    internal void SetFaceInput(string faceInput) => FaceInput = faceInput;

    /// <summary>Refuses a name that is empty, blank, longer than 200 characters or holds control characters.</summary>
    /// <exception cref="GalleryException">The name is not valid.</exception>
    public static void ValidateName(string name)
    {
        if (!IsValidName(name))
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
            ["face_input"] = FaceInput,
            ["threshold"] = Threshold,
            ["identities"] = new JsonArray(_identities.Select(i => (JsonNode)new JsonObject
            {
                ["name"] = i.Name,
                ["entries"] = new JsonArray(i.Photos.Select(e => (JsonNode)new JsonObject
                {
                    ["source"] = e.Source,
                    ["added"] = e.AddedUtc.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                    ["embedding"] = Convert.ToBase64String(MemoryMarshal.AsBytes(_vectors.Row(e.Row))),
                }).ToArray()),
            }).ToArray()),
        };
        // Written node by node (no serializer, so nothing needs reflection or runtime code under NativeAOT).
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            root.WriteTo(json);
        }

        byte[] bytes = buffer.WrittenSpan.ToArray();
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

    private static bool IsValidName(string name) => !string.IsNullOrWhiteSpace(name) && name.Length <= 200 && !name.Any(char.IsControl);

    /// <summary>The hidden lock file of the gallery at <paramref name="path"/>.</summary>
    public static string LockPathOf(string path) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, "." + System.IO.Path.GetFileName(path) + ".lock");

    private int IndexOf(string name) => _identities.FindIndex(i => string.Equals(i.Name, name, StringComparison.Ordinal));

    private static FileStream AcquireLock(string path, TimeSpan timeout)
    {
        string lockPath = LockPathOf(path);
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

    // Everything is validated here, once, so a gallery that opens is safe to search: a field that is missing, of the
    // wrong type or out of range is named in the error instead of failing later in BuildIndex or a comparison.
    private static Gallery Parse(string path, byte[] bytes)
    {
        // A key given twice is refused by the parser: JsonObject would otherwise throw ArgumentException at the first
        // lookup of that object (found preparing the gallery fuzz campaign), and which of the two values counts is ambiguous.
        var root = JsonNode.Parse(bytes, documentOptions: ParseOptions) as JsonObject ?? throw new FormatException("the document is not a JSON object");
        if (Text(root, "format") != Format)
        {
            throw new FormatException($"'format' is not '{Format}'");
        }

        int version = Integer(root, "version");
        if (version is < 1 or > Version)
        {
            throw new FormatException($"version {version} is not supported (this build reads version {Version})");
        }

        var m = root["model"] as JsonObject ?? throw new FormatException("'model' is missing or not an object");
        string digest = Text(m, "weights_sha256", "model.");
        if (digest.Length < 12)
        {
            throw new FormatException($"'model.weights_sha256' is '{digest}', too short to be a weights digest");
        }

        int size = Integer(m, "embedding_size", "model.");
        if (size is < 1 or > MaxEmbeddingSize)
        {
            throw new FormatException($"'model.embedding_size' is {size}, expected 1 to {MaxEmbeddingSize}");
        }

        var model = new ModelStamp(NonEmpty(m, "id", "model."), digest, NonEmpty(m, "preprocessing", "model."), size);
        string? faceInput = version < 2 || root["face_input"] is null ? null : Text(root, "face_input");
        if (faceInput is not null && DescribeFaceInput(faceInput) == "unknown preparation")
        {
            throw new FormatException($"'face_input' is '{faceInput}', which this build does not know");
        }

        double? threshold = root["threshold"] is null ? null : Number(root, "threshold");
        if (threshold is { } t && !(t > 0 && double.IsFinite(t)))
        {
            throw new FormatException($"'threshold' is {t}, expected a positive number or null");
        }

        var list = root["identities"] as JsonArray ?? throw new FormatException("'identities' is missing or not an array");
        // Every vector is decoded straight into the gallery's rows: one array for all, none per photo. The rows are
        // allocated from the entry count, but never for more photos than the file has bytes for (a small hostile file
        // listing many empty entries must not make a large allocation before it is refused).
        int fits = bytes.Length / (size * sizeof(float) * 4 / 3 + 1);
        var builder = new GalleryBuilder(path, model, faceInput, threshold, Math.Min(fits, list.Sum(i => ((i as JsonObject)?["entries"] as JsonArray)?.Count ?? 0)));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < list.Count; i++)
        {
            string at = $"identities[{i}].";
            var identity = list[i] as JsonObject ?? throw new FormatException($"'identities[{i}]' is not an object");
            string name = Text(identity, "name", at);
            if (!IsValidName(name) || !names.Add(name))
            {
                throw new FormatException($"'{at}name' ('{name}') is not a valid identity name or is enrolled twice");
            }

            var entryList = identity["entries"] as JsonArray ?? throw new FormatException($"'{at}entries' is missing or not an array");
            if (entryList.Count == 0)
            {
                throw new FormatException($"'{at}entries' is empty ('{name}' has no photo)");
            }

            for (int j = 0; j < entryList.Count; j++)
            {
                string entryAt = $"{at}entries[{j}].";
                var e = entryList[j] as JsonObject ?? throw new FormatException($"'{at}entries[{j}]' is not an object");
                string encoded = Text(e, "embedding", entryAt);
                byte[] raw;
                try
                {
                    raw = Convert.FromBase64String(encoded);
                }
                catch (FormatException)
                {
                    throw new FormatException($"'{entryAt}embedding' is not base64");
                }

                if (raw.Length != size * sizeof(float))
                {
                    throw new FormatException($"'{entryAt}embedding' has {raw.Length} bytes, expected {size * sizeof(float)} ({size} float32 values)");
                }

                var embedding = MemoryMarshal.Cast<byte, float>(raw);
                if (!AllFinite(embedding))
                {
                    throw new FormatException($"'{entryAt}embedding' holds a non-finite value");
                }

                string source = e["source"] is null ? string.Empty : Text(e, "source", entryAt);
                if (!DateTimeOffset.TryParse(Text(e, "added", entryAt), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var added))
                {
                    throw new FormatException($"'{entryAt}added' is not a date and time");
                }

                builder.Add(name, embedding, source, added);
            }
        }

        return builder.Build();
    }

    private static string Text(JsonObject node, string field, string at = "") =>
        node[field] is JsonValue v && v.TryGetValue(out string? text) ? text : throw new FormatException($"'{at}{field}' is missing or not a string");

    private static string NonEmpty(JsonObject node, string field, string at) =>
        Text(node, field, at) is { Length: > 0 } text ? text : throw new FormatException($"'{at}{field}' is empty");

    private static int Integer(JsonObject node, string field, string at = "") =>
        node[field] is JsonValue v && v.TryGetValue(out int value) ? value : throw new FormatException($"'{at}{field}' is missing or not a whole number");

    private static double Number(JsonObject node, string field) =>
        node[field] is JsonValue v && v.TryGetValue(out double value) ? value : throw new FormatException($"'{field}' is not a number");
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

    /// <summary>Records how the faces of a gallery written before this was recorded were prepared (migration).</summary>
    public void SetFaceInput(string faceInput)
    {
        if (Gallery.FaceInput is { } recorded && recorded != faceInput)
        {
            throw new GalleryException($"{Gallery.Path}: its face input is already recorded as '{recorded}'; it cannot be changed, re-enroll instead.");
        }

        if (Gallery.DescribeFaceInput(faceInput) == "unknown preparation")
        {
            throw new GalleryException($"'{faceInput}' is not a face input (whole, mtcnn+dsb, mtcnn+faceapi or mtcnn+similarity).");
        }

        Gallery.SetFaceInput(faceInput);
    }

    /// <summary>Writes the gallery atomically.</summary>
    public void Commit() => Gallery.Save();

    /// <inheritdoc />
    public void Dispose() => _lock.Dispose();
}
