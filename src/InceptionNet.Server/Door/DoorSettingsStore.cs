using System.Collections.Concurrent;
using System.Text.Json;
using InceptionNet.Pipeline;
using InceptionNet.Server.Http;
using InceptionNet.Server.Storage;

namespace InceptionNet.Server.Door;

/// <summary>
/// Each collection's door rule: a side file <c>DATA/NAME.door.json</c> beside its gallery, replaced all or nothing
/// (validated first, then temporary file, fsync, rename, under the file's writer lock). No file: the defaults.
/// A file changed by another process is picked up at the next request (its write time and size are checked).
/// </summary>
internal sealed class DoorSettingsStore(string folder)
{
    private const string Suffix = ".door.json";
    private readonly string _folder = Path.GetFullPath(folder);
    private readonly ConcurrentDictionary<string, ((DateTime, long) Stamp, DoorRule Rule)> _cache = new(StringComparer.Ordinal);
    private readonly DoorRule _defaults = new();

    /// <summary>The rule of <paramref name="collection"/> (a name already checked by the collection store).</summary>
    /// <exception cref="ApiException">409: the side file is unreadable or holds a bad rule.</exception>
    public DoorRule Get(string collection)
    {
        string path = PathOf(collection);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            return _defaults;
        }

        var stamp = (info.LastWriteTimeUtc, info.Length);
        if (_cache.TryGetValue(collection, out var cached) && cached.Stamp == stamp)
        {
            return cached.Rule;
        }

        DoorRule rule;
        try
        {
            rule = Parse(File.ReadAllBytes(path)).ToRule();
        }
        catch (Exception ex) when (ex is JsonException or IOException or ApiException)
        {
            throw new ApiException(409, $"the door settings of '{collection}' ({Path.GetFileName(path)}) are unreadable: {ex.Message}; PUT new ones", ex);
        }

        if (rule.Problem() is { } problem)
        {
            throw new ApiException(409, $"the door settings of '{collection}' ({Path.GetFileName(path)}) are not usable: {problem}; PUT new ones");
        }

        _cache[collection] = (stamp, rule);
        return rule;
    }

    /// <summary>Checks and stores the rule of <paramref name="collection"/>: every field or none.</summary>
    /// <exception cref="ApiException">400: not JSON of the settings, or a bad value (naming the field); 409: the file is locked.</exception>
    public DoorRule Set(string collection, ReadOnlySpan<byte> body)
    {
        DoorRule rule;
        try
        {
            rule = Parse(body).ToRule();
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body must be JSON like {{\"votes\": 3, \"window\": 5, \"window_seconds\": 2, \"min_face_side\": 80, \"min_sharpness\": 10, \"cooldown_seconds\": 30}} ({ex.Message})");
        }

        if (rule.Problem() is { } problem)
        {
            throw ApiException.BadRequest($"door settings: {problem}; nothing was changed");
        }

        string path = PathOf(collection);
        using (WriterLock.Acquire(path, TimeSpan.FromSeconds(10), (lockPath, ex) => new ApiException(409, $"the door settings of '{collection}' are being changed by another process ({lockPath})", ex)))
        {
            AtomicFile.Replace(path, JsonSerializer.SerializeToUtf8Bytes(DoorSettingsJson.From(rule), DoorSettingsJsonContext.Default.DoorSettingsJson), ownerOnly: false);
        }

        _cache.TryRemove(collection, out _);
        return rule;
    }

    /// <summary>Removes the rule with its collection (a collection made again under the name starts from the defaults).</summary>
    public void Delete(string collection)
    {
        string path = PathOf(collection);
        using (WriterLock.Acquire(path, TimeSpan.FromSeconds(10), (lockPath, ex) => new ApiException(409, $"the door settings of '{collection}' are being changed by another process ({lockPath})", ex)))
        {
            File.Delete(path);
        }

        _cache.TryRemove(collection, out _);
    }

    private static DoorSettingsJson Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, DoorSettingsJsonContext.Default.DoorSettingsJson) ?? throw new JsonException("null is not door settings");

    private string PathOf(string collection) => Path.Combine(_folder, collection + Suffix);
}
