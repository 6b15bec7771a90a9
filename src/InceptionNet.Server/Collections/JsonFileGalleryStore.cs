using System.Collections.Concurrent;
using InceptionNet.Models;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.Server.Http;

namespace InceptionNet.Server.Collections;

/// <summary>
/// The collections under the data folder: one gallery file each (<c>NAME.gallery.json</c>), pinned to the service's
/// model, weights and face input.
/// </summary>
/// <remarks>
/// Readers take the current <see cref="CollectionSnapshot"/> and never see a change half made: a change loads the
/// gallery afresh under its writer lock (which also keeps other processes out), changes that copy, writes it atomically
/// (temporary file, fsync, rename) and only then publishes a new snapshot. A failed write publishes nothing and leaves
/// the file as it was. A file changed by another process is picked up on the next request (its write time is checked).
/// </remarks>
public sealed class JsonFileGalleryStore : IGalleryStore
{
    private const string Suffix = ".gallery.json";
    private readonly string _folder;
    private readonly FacePipeline _pipeline;
    private readonly RecognitionOptions _options;
    private readonly ConcurrentDictionary<string, Entry> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _writers = new(StringComparer.Ordinal);

    /// <summary>Opens the store over <paramref name="folder"/> (created when missing).</summary>
    public JsonFileGalleryStore(string folder, FacePipeline pipeline, RecognitionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        _pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        _options = options ?? new RecognitionOptions();
        _folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(_folder);
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Names =>
        [.. Directory.GetFiles(_folder, "*" + Suffix).Select(f => Path.GetFileName(f)[..^Suffix.Length]).Where(n => IGalleryStore.IsValidName(n)).Order(StringComparer.Ordinal)];

    /// <inheritdoc />
    public CollectionSnapshot Get(string name)
    {
        string path = PathOf(name);
        var stamp = StampOf(path) ?? throw ApiException.NotFound($"collection '{name}' does not exist");
        if (_open.TryGetValue(name, out var entry) && entry.Stamp == stamp)
        {
            return entry.Snapshot;
        }

        var snapshot = Load(name, path);
        _open[name] = new Entry(stamp, snapshot);
        return snapshot;
    }

    /// <inheritdoc />
    public async Task<bool> CreateAsync(string name, CancellationToken cancellation)
    {
        return await WithWriter(name, () =>
        {
            string path = PathOf(name);
            if (File.Exists(path))
            {
                Get(name); // refuses a file made with another model
                return false;
            }

            using var writer = Gallery.OpenForWrite(path, _pipeline.Stamp, TimeSpan.FromSeconds(10), _pipeline.Input.Id);
            writer.Commit();
            Publish(name, path, writer.Gallery);
            return true;
        }, cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string name, CancellationToken cancellation)
    {
        await WithWriter(name, () =>
        {
            string path = PathOf(name);
            if (!File.Exists(path))
            {
                throw ApiException.NotFound($"collection '{name}' does not exist");
            }

            File.Delete(path);
            _open.TryRemove(name, out _);
            try
            {
                File.Delete(Gallery.LockPathOf(path));
            }
            catch (IOException)
            {
                // another process holds it; it is hidden and harmless
            }

            return true;
        }, cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The new snapshot's index is a view of the written gallery's own rows (read once under the writer lock): nothing
    /// is rebuilt or copied after the write.
    /// </remarks>
    public Task<int> EnrollAsync(string name, string person, IReadOnlyList<(string Source, FaceEncoding Encoding)> photos, CancellationToken cancellation) =>
        Change(name, writer =>
        {
            IGalleryStore.ValidatePerson(person);
            writer.Enroll(person, photos, _pipeline.Encoder.DefaultThreshold);
            return writer.Gallery.Get(person).Entries.Count;
        }, cancellation);

    /// <inheritdoc />
    public Task RemoveAsync(string name, string person, CancellationToken cancellation) =>
        Change(name, writer =>
        {
            IGalleryStore.RequirePerson(writer.Gallery, name, person);
            writer.Remove(person);
            return 0;
        }, cancellation);

    /// <inheritdoc />
    public Task RenameAsync(string name, string person, string newName, CancellationToken cancellation) =>
        Change(name, writer =>
        {
            IGalleryStore.RequirePerson(writer.Gallery, name, person);
            IGalleryStore.ValidatePerson(newName);
            if (writer.Gallery.Contains(newName))
            {
                throw new ApiException(409, $"'{newName}' is already enrolled in '{name}'");
            }

            writer.Rename(person, newName);
            return 0;
        }, cancellation);

    /// <inheritdoc />
    public Task SetThresholdAsync(string name, double? threshold, CancellationToken cancellation) =>
        Change(name, writer =>
        {
            writer.SetThreshold(threshold);
            return 0;
        }, cancellation);

    private async Task<T> Change<T>(string name, Func<GalleryWriter, T> change, CancellationToken cancellation) =>
        await WithWriter(name, () =>
        {
            string path = PathOf(name);
            if (!File.Exists(path))
            {
                throw ApiException.NotFound($"collection '{name}' does not exist");
            }

            Get(name); // refuses a file made with another model before anything is changed
            using var writer = Gallery.OpenForWrite(path, _pipeline.Stamp, TimeSpan.FromSeconds(10), _pipeline.Input.Id);
            var result = change(writer);
            writer.Commit();
            Publish(name, path, writer.Gallery);
            return result;
        }, cancellation).ConfigureAwait(false);

    // One writer per collection in this process (the gallery's lock file keeps other processes out).
    private async Task<T> WithWriter<T>(string name, Func<T> body, CancellationToken cancellation)
    {
        PathOf(name); // validates the name before a semaphore is made for it
        var gate = _writers.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            return body();
        }
        catch (GalleryException ex)
        {
            throw new ApiException(409, ex.Message, ex);
        }
        finally
        {
            gate.Release();
        }
    }

    // The recognizer's index is a view of the gallery's rows: publishing copies no vector.
    private void Publish(string name, string path, Gallery gallery)
    {
        var stamp = StampOf(path)!.Value;
        _open[name] = new Entry(stamp, new CollectionSnapshot(name, gallery, _pipeline.Recognizer(gallery, _options)));
    }

    private CollectionSnapshot Load(string name, string path)
    {
        try
        {
            var gallery = Gallery.Open(path);
            return new CollectionSnapshot(name, gallery, _pipeline.Recognizer(gallery, _options));
        }
        catch (GalleryException ex)
        {
            throw new ApiException(409, $"collection '{name}': {ex.Message}", ex);
        }
    }

    private string PathOf(string name)
    {
        IGalleryStore.ValidateCollectionName(name);
        return Path.Combine(_folder, name + Suffix);
    }

    private static (DateTime, long)? StampOf(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed record Entry((DateTime, long) Stamp, CollectionSnapshot Snapshot);
}
