using System.Collections;
using InceptionNet.Models;

namespace InceptionNet.Recognition;

/// <summary>
/// Builds a <see cref="Gallery"/> photo by photo straight into its rows (one contiguous array for every vector, no
/// array per photo): a gallery file being read, a collection loaded from a database. A person's photos come one after
/// another; every name, vector and photo is checked as strictly as a gallery file's.
/// </summary>
public sealed class GalleryBuilder
{
    private readonly string _path;
    private readonly ModelStamp _model;
    private readonly string? _faceInput;
    private readonly double? _threshold;
    private readonly int _spareRows;
    private readonly int _dim;
    private readonly List<string> _names = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly List<(string, GalleryPhoto[])> _identities = [];
    private readonly List<GalleryPhoto> _current = [];
    private float[] _vectors;
    private int[] _owner;
    private int _rows;
    private string? _lastSource;
    private bool _built;

    /// <summary>Starts an empty gallery.</summary>
    /// <param name="path">Where it lives, for messages (e.g. <c>postgres:db/collection</c>).</param>
    /// <param name="model">The model its vectors belong to.</param>
    /// <param name="faceInput">How its faces were taken from their photos (null: not recorded).</param>
    /// <param name="threshold">A calibrated threshold, or null.</param>
    /// <param name="expectedPhotos">How many photos will be added, when known: the rows are then allocated once.</param>
    /// <param name="spareRows">Room kept for that many photos added later without copying the rows (a loaded collection that takes enrolls).</param>
    public GalleryBuilder(string path, ModelStamp model, string? faceInput, double? threshold, int expectedPhotos = 0, int spareRows = 0)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedPhotos);
        ArgumentOutOfRangeException.ThrowIfNegative(spareRows);
        _path = path;
        _model = model;
        _faceInput = faceInput;
        _threshold = threshold;
        _spareRows = spareRows;
        _dim = model.EmbeddingSize;
        _vectors = Rows(expectedPhotos + (long)spareRows);
        _owner = new int[expectedPhotos + spareRows];
    }

    /// <summary>Number of photos added so far.</summary>
    public int Count => _rows;

    /// <summary>
    /// Adds a photo of <paramref name="name"/>: the same person as the last photo added, or a new one (a name that comes
    /// back after another person's photos is refused as enrolled twice). The vector is copied into the rows.
    /// </summary>
    /// <exception cref="GalleryException">Not a valid name, a name enrolled twice, or a vector of another size or with a non-finite value.</exception>
    public void Add(string name, ReadOnlySpan<float> embedding, string source, DateTimeOffset addedUtc)
    {
        ObjectDisposedException.ThrowIf(_built, this);
        ArgumentNullException.ThrowIfNull(source);
        if (_names.Count == 0 || !string.Equals(_names[^1], name, StringComparison.Ordinal))
        {
            Gallery.ValidateName(name);
            if (!_seen.Add(name))
            {
                throw new GalleryException($"{_path}: '{name}' is enrolled twice.");
            }

            EndPerson();
            _names.Add(name);
        }

        Gallery.CheckVector(_path, _model, embedding);
        if (_rows == _owner.Length)
        {
            Grow(_rows + Math.Max(16, _rows / 2));
        }

        embedding.CopyTo(_vectors.AsSpan(_rows * _dim, _dim));
        _owner[_rows] = _names.Count - 1;
        // Photos enrolled together often share a source; one string for them, not one per row read from a database.
        string shared = _lastSource is { } last && string.Equals(source, last, StringComparison.Ordinal) ? last : source;
        _lastSource = shared;
        _current.Add(new GalleryPhoto(shared, addedUtc, _rows));
        _rows++;
    }

    /// <summary>The gallery, with the spare rows asked for. The builder cannot be used after this.</summary>
    public Gallery Build()
    {
        ObjectDisposedException.ThrowIf(_built, this);
        _built = true;
        EndPerson();
        if (_owner.Length - _rows < _spareRows)
        {
            Grow(_rows + _spareRows);
        }

        var index = new GalleryIndex((_vectors, _owner, _rows), [.. _names], _dim, null, unitVectors: true);
        return new Gallery(_path, _model, _faceInput, _threshold, _identities, index);
    }

    private void EndPerson()
    {
        if (_current.Count > 0)
        {
            _identities.Add((_names[^1], [.. _current]));
            _current.Clear();
        }
    }

    private float[] Rows(long rows) => rows * _dim <= Array.MaxLength
        ? new float[rows * _dim]
        : throw new GalleryException($"{_path}: {rows:N0} photos of {_dim} values do not fit in one array.");

    private void Grow(int rows)
    {
        var vectors = Rows(rows);
        Array.Copy(_vectors, vectors, _rows * _dim);
        var owner = new int[rows];
        Array.Copy(_owner, owner, _rows);
        _vectors = vectors;
        _owner = owner;
    }
}

/// <summary>One photo of a gallery: where it came from, when, and the row holding its vector.</summary>
internal readonly record struct GalleryPhoto(string Source, DateTimeOffset AddedUtc, int Row);

/// <summary>A person's photos as <see cref="GalleryEntry"/> values, each made (its vector copied from the rows) when read.</summary>
internal sealed class PhotoEntries(GalleryIndex vectors, GalleryPhoto[] photos) : IReadOnlyList<GalleryEntry>
{
    public GalleryEntry this[int index] => new(vectors.Row(photos[index].Row).ToArray(), photos[index].Source, photos[index].AddedUtc);

    public int Count => photos.Length;

    public IEnumerator<GalleryEntry> GetEnumerator()
    {
        for (int i = 0; i < photos.Length; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
