using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace InceptionNet.Weights;

/// <summary>How a stored tensor's values are ordered.</summary>
public enum WeightLayout
{
    /// <summary>Keras order: conv kernels (kh, kw, in, out), dense (in, out); the shape is known.</summary>
    Keras,

    /// <summary>
    /// Flat values in Torch order — conv (out, in, kh, kw), dense (out, in) — as in the course's OpenFace CSV files.
    /// The shape is only known when a model asks for the tensor.
    /// </summary>
    TorchFlat,
}

/// <summary>
/// All weight tensors of one file, addressed by Keras layer name and weight name (<c>kernel</c>, <c>bias</c>,
/// <c>gamma</c>, <c>beta</c>, <c>moving_mean</c>, <c>moving_variance</c>). Binding is strict: <see cref="Take(string, string, int[])"/> checks
/// the shape and marks the tensor consumed, and <see cref="EnsureAllConsumed"/> fails when the file holds weights
/// the model did not use. Errors name the file, the layer and both shapes.
/// </summary>
public sealed class WeightSet
{
    // Keyed by a class and ordered as an array of classes, not tuples and LINQ: a JIT build has the framework's generic code
    // precompiled only for reference types (shared), and each instantiation over a tuple or struct cost a cold load about
    // a millisecond to compile.
    private readonly Dictionary<Key, Entry> _entries = [];
    private readonly HashSet<string> _layers = new(StringComparer.Ordinal);
    private string? _digest;
    private Task<string>? _digestTask; // hashing beside the model's binding (only when every tensor is still in the file)
    private IDisposable? _owner;
    private int _lazyPending;

    /// <summary>Creates an empty set for <paramref name="source"/> (a path, used in messages).</summary>
    public WeightSet(string source, string format)
    {
        Source = source;
        Format = format;
    }

    /// <summary>The file or directory the weights came from.</summary>
    public string Source { get; }

    /// <summary>Human-readable format, e.g. "Keras h5 (save_weights)".</summary>
    public string Format { get; }

    /// <summary>Names of layers that hold at least one weight.</summary>
    public IReadOnlyCollection<string> Layers => _layers;

    /// <summary>Number of tensors.</summary>
    public int Count => _entries.Count;

    /// <summary>Total number of values (parameters).</summary>
    public long ParameterCount => _entries.Values.Sum(e => (long)e.Length);

    /// <summary>
    /// SHA-256 over every tensor in (layer, name) order: name, shape and float32 bytes as stored. The same weights give
    /// the same digest whether they come from a <c>save_weights</c> or a full-model h5 file; a gallery is pinned to it.
    /// </summary>
    public string Digest => _digest ??= _digestTask is { } task ? task.GetAwaiter().GetResult() : ComputeDigest();

    /// <summary>
    /// Every tensor as stored (read-only view, does not mark anything consumed), in (layer, name) order. Only before the
    /// first <see cref="Take(string, string, int[])"/>: taking hands the values over to the model and the set lets go of them.
    /// </summary>
    public IEnumerable<WeightTensor> Tensors
    {
        get
        {
            foreach (var e in Ordered()) // ordered when enumerated, not when the property is read
            {
                yield return new WeightTensor(e.Key.Layer, e.Key.Name, e.Shape, e.Copy() ?? throw Released(e.Key.Layer, e.Key.Name), e.Layout);
            }
        }
    }

    /// <summary>Adds a tensor; used by readers.</summary>
    public void Add(string layer, string name, int[]? shape, float[] data, WeightLayout layout = WeightLayout.Keras)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (layout == WeightLayout.Keras)
        {
            ArgumentNullException.ThrowIfNull(shape); // only a Torch-flat tensor waits for the model to give its shape
        }

        var key = new Key(layer, name);
        if (!_entries.TryAdd(key, new Entry(key, shape, data, data.Length, null, layout)))
        {
            throw new InvalidWeightsException(Source, $"weight '{layer}/{name}' appears twice.");
        }

        _layers.Add(layer);
        _digest = null;
        _digestTask = null;
    }

    /// <summary>
    /// Adds a tensor whose values stay in the file until a model takes it (<paramref name="load"/> reads them into a
    /// span of <paramref name="length"/> values; it is called more than once: for the <see cref="Digest"/>, through one
    /// reused buffer, then into the array <see cref="Take(string, string, int[])"/> hands over). <paramref name="owner"/>, when
    /// given, is disposed once every lazily added tensor has been taken. Used by readers that stream, so that loading a
    /// model holds its packed weights and one tensor at a time, never the whole file as well.
    /// </summary>
    public void AddLazy(string layer, string name, int[] shape, int length, SpanAction load, IDisposable? owner = null)
    {
        ArgumentNullException.ThrowIfNull(load);
        var key = new Key(layer, name);
        if (!_entries.TryAdd(key, new Entry(key, shape, null, length, load, WeightLayout.Keras)))
        {
            throw new InvalidWeightsException(Source, $"weight '{layer}/{name}' appears twice.");
        }

        _layers.Add(layer);
        _digest = null;
        _digestTask = null;
        if (owner is not null)
        {
            _owner = owner;
        }

        _lazyPending++;
    }

    /// <summary>Whether the file has <paramref name="layer"/>/<paramref name="name"/>.</summary>
    public bool Contains(string layer, string name) => _entries.ContainsKey(new Key(layer, name));

    /// <summary>
    /// Returns the tensor in Keras layout after checking it has exactly <paramref name="shape"/>, and marks it consumed.
    /// The set then lets go of the values (the <see cref="Digest"/> is taken first), so a model that packs or folds its
    /// weights as it binds them never holds two full copies of the file: a tensor can be taken once.
    /// </summary>
    public float[] Take(string layer, string name, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var entry = Find(layer, name, shape);
        if (entry.Layout == WeightLayout.TorchFlat)
        {
            var values = entry.Release(this, layer, name);
            var result = shape.Length is 2 or 4 ? new float[values.Length] : values;
            FromTorch(values, shape, result);
            return result;
        }

        return entry.Release(this, layer, name);
    }

    // The entry for a Take, after checking that it exists and has the model's shape.
    private Entry Find(string layer, string name, int[] shape)
    {
        BeginDigest(); // over every tensor as stored, before the first one is handed over
        if (!_entries.TryGetValue(new Key(layer, name), out var entry))
        {
            string hint = _layers.Contains(layer)
                ? $"layer '{layer}' has [{string.Join(", ", _entries.Keys.Where(k => k.Layer == layer).Select(k => k.Name))}]"
                : $"the file has no layer '{layer}'";
            throw new InvalidWeightsException(Source, $"missing weight '{layer}/{name}' with shape {ShapeText(shape)}: {hint}.");
        }

        long expected = 1;
        foreach (int extent in shape)
        {
            expected *= extent;
        }

        if (entry.Layout == WeightLayout.TorchFlat)
        {
            if (entry.Length != expected)
            {
                throw new InvalidWeightsException(Source, $"weight '{layer}/{name}' has {entry.Length} values; the model expects shape {ShapeText(shape)} = {expected} values.");
            }
        }
        else if (!SameShape(entry.Shape!, shape))
        {
            throw new InvalidWeightsException(Source, $"weight '{layer}/{name}' has shape {ShapeText(entry.Shape!)}; the model expects {ShapeText(shape)}.");
        }

        return entry;
    }

    /// <summary>
    /// Like <see cref="Take(string, string, int[])"/>, but reads the values into <paramref name="destination"/> (exactly
    /// the shape's length) instead of a new array: a loader that packs the values at once can read every kernel through
    /// one reused buffer.
    /// </summary>
    public void Take(string layer, string name, Span<float> destination, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var entry = Find(layer, name, shape);
        if (destination.Length != entry.Length)
        {
            throw new ArgumentException($"{Source}: weight '{layer}/{name}' has {entry.Length} values; the destination holds {destination.Length}.", nameof(destination));
        }

        if (entry.Layout == WeightLayout.TorchFlat)
        {
            var values = entry.Release(this, layer, name);
            FromTorch(values, shape, destination);
            return;
        }

        entry.ReleaseInto(this, layer, name, destination);
    }

    /// <summary>Fails, naming every tensor, when the file holds weights that no layer consumed.</summary>
    public void EnsureAllConsumed()
    {
        var unused = new List<string>();
        foreach (var entry in _entries.Values)
        {
            if (!entry.Consumed)
            {
                unused.Add($"{entry.Key.Layer}/{entry.Key.Name}");
            }
        }

        if (unused.Count > 0)
        {
            unused.Sort(StringComparer.Ordinal);
            throw new InvalidWeightsException(Source,
                $"{unused.Count} weight(s) in the file are not used by the model (wrong model for this file?): {string.Join(", ", unused.Take(12))}{(unused.Count > 12 ? ", …" : string.Empty)}.");
        }
    }

    private static string ShapeText(int[] shape) => "(" + string.Join(", ", shape) + ")";

    private static bool SameShape(int[] stored, int[] asked)
    {
        if (stored.Length != asked.Length)
        {
            return false;
        }

        for (int i = 0; i < stored.Length; i++)
        {
            if (stored[i] != asked[i])
            {
                return false;
            }
        }

        return true;
    }

    // Torch (out, in, kh, kw) → Keras (kh, kw, in, out); Torch (out, in) → Keras (in, out); vectors unchanged. The result
    // may be the source only for vectors (no reordering).
    private static void FromTorch(float[] data, int[] shape, Span<float> result)
    {
        if (shape.Length == 4)
        {
            int kh = shape[0], kw = shape[1], cin = shape[2], cout = shape[3];
            for (int o = 0; o < cout; o++)
            {
                for (int i = 0; i < cin; i++)
                {
                    for (int y = 0; y < kh; y++)
                    {
                        for (int x = 0; x < kw; x++)
                        {
                            result[((y * kw + x) * cin + i) * cout + o] = data[((o * cin + i) * kh + y) * kw + x];
                        }
                    }
                }
            }
        }
        else if (shape.Length == 2)
        {
            int rows = shape[0], cols = shape[1];
            for (int o = 0; o < cols; o++)
            {
                for (int i = 0; i < rows; i++)
                {
                    result[i * cols + o] = data[o * rows + i];
                }
            }
        }
        else if (!Unsafe.AreSame(ref MemoryMarshal.GetArrayDataReference(data), ref MemoryMarshal.GetReference(result)))
        {
            data.CopyTo(result);
        }
    }

    // Tests hold the hashing thread back with this (it flows to the hash's task and to nothing else).
    internal static readonly AsyncLocal<Action?> HashStartingForTests = new();

    // Before the first tensor is handed over the digest must have its values. When every tensor still sits in the file
    // (a streaming h5 read), a second thread hashes them from the file while the model binds and packs (the file stays
    // open until it is done; the positional reads share nothing); otherwise it is computed here and now.
    internal void BeginDigest()
    {
        if (_digest is not null || _digestTask is not null)
        {
            return;
        }

        if (_lazyPending > 0 && _lazyPending == _entries.Count && Environment.ProcessorCount > 1)
        {
            var ordered = Ordered();
            var entries = new PendingHash[ordered.Length];
            for (int i = 0; i < ordered.Length; i++)
            {
                var entry = ordered[i];
                entries[i] = new PendingHash(entry.Key, entry.Shape, entry.Length, entry.Loader!);
            }

            var starting = HashStartingForTests.Value;
            _digestTask = Task.Run(() =>
            {
                starting?.Invoke();
                return Hash(entries);
            });
        }
        else
        {
            _digest = ComputeDigest();
        }
    }

    // Every entry in (layer, name) order, ordinal: the digest's order.
    private Entry[] Ordered()
    {
        var ordered = new Entry[_entries.Count];
        _entries.Values.CopyTo(ordered, 0);
        Array.Sort(ordered, static (x, y) => x.Key.CompareTo(y.Key)); // keys are unique: no ties for an unstable sort to break
        return ordered;
    }

    // The digest of tensors read from the file (the same bytes ComputeDigest hashes for them).
    private static string Hash(PendingHash[] entries)
    {
        int longest = 0;
        foreach (var entry in entries)
        {
            longest = Math.Max(longest, entry.Length);
        }

        var scratch = new float[longest];
        using var hash = Sha256.CreateIncremental();
        foreach (var ((layer, name), shape, length, load) in entries)
        {
            hash.Append(Header(layer, name, shape, length, WeightLayout.Keras));
            var values = scratch.AsSpan(0, length);
            load(values);
            hash.Append(MemoryMarshal.AsBytes(values));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // What the digest hashes before a tensor's values: its name, then its shape. A Torch-ordered tensor's Keras shape is
    // unknown until bound, so its values are hashed in their stored order, tagged as such. One definition for both hashing
    // paths: a gallery is pinned to the digest, so they must never differ.
    private static byte[] Header(string layer, string name, int[]? shape, int length, WeightLayout layout)
    {
        if (layout == WeightLayout.TorchFlat)
        {
            return Encoding.UTF8.GetBytes($"{layer}/{name}\ntorch[{length}]\n");
        }

        var text = new StringBuilder().Append(layer).Append('/').Append(name).Append("\n[");
        for (int i = 0; i < shape!.Length; i++)
        {
            (i == 0 ? text : text.Append(',')).Append(shape[i]); // as string.Join(",", shape) wrote them
        }

        return Encoding.UTF8.GetBytes(text.Append("]\n").ToString());
    }

    private string ComputeDigest()
    {
        float[]? scratch = null; // one buffer, grown to the largest lazy tensor, instead of an array per tensor
        using var hash = Sha256.CreateIncremental(); // OpenSSL where there is one, else managed
        foreach (var entry in Ordered())
        {
            var (layer, name) = entry.Key;
            hash.Append(Header(layer, name, entry.Shape, entry.Length, entry.Layout));

            // A lazy tensor is read for the hash and dropped: one tensor at a time in memory.
            if (!entry.Available)
            {
                throw Released(layer, name);
            }

            hash.Append(MemoryMarshal.AsBytes(entry.Peek(ref scratch)));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A stored tensor.</summary>
    /// <param name="Layer">Keras layer name.</param>
    /// <param name="Name">Short weight name (kernel, bias, gamma, …).</param>
    /// <param name="Shape">Stored shape (null for <see cref="WeightLayout.TorchFlat"/>).</param>
    /// <param name="Data">Values as stored.</param>
    /// <param name="Layout">Value order.</param>
    public sealed record WeightTensor(string Layer, string Name, int[]? Shape, float[] Data, WeightLayout Layout);

    private InvalidOperationException Released(string layer, string name) =>
        new($"{Source}: weight '{layer}/{name}' was already handed to a model; a weight set binds one model.");

    // The owner (the open h5 file) is closed once every lazily added tensor has been handed over.
    private void OnHandedOver(Entry entry)
    {
        if (entry.WasLazy && --_lazyPending == 0 && _owner is { } owner)
        {
            _owner = null;
            if (_digestTask is { } task)
            {
                // The hashing thread still reads the file; close it only after. A failure stays in the task for Digest.
                ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            }

            owner.Dispose();
        }
    }

    /// <summary>Reads a lazily added tensor's values into the span.</summary>
    public delegate void SpanAction(Span<float> destination);

    // A tensor's address: layer, then weight name, compared ordinally.
    private sealed record Key(string Layer, string Name) : IComparable<Key>
    {
        public int CompareTo(Key? other)
        {
            ArgumentNullException.ThrowIfNull(other);
            int byLayer = string.CompareOrdinal(Layer, other.Layer);
            return byLayer != 0 ? byLayer : string.CompareOrdinal(Name, other.Name);
        }
    }

    // What the hashing thread needs of a tensor still in the file.
    private sealed record PendingHash(Key Key, int[]? Shape, int Length, SpanAction Load);

    private sealed class Entry(Key key, int[]? shape, float[]? data, int length, SpanAction? load, WeightLayout layout)
    {
        public Key Key { get; } = key;

        private SpanAction? _load = load;

        public int[]? Shape { get; } = shape;

        public float[]? Data { get; private set; } = data;

        public int Length { get; } = length;

        public WeightLayout Layout { get; } = layout;

        public bool WasLazy { get; } = load is not null;

        /// <summary>The lazy reader (null for values in memory and once taken).</summary>
        public SpanAction? Loader => _load;

        public bool Consumed { get; private set; }

        public bool Available => Data is not null || _load is not null;

        /// <summary>The values (a lazy tensor's read into <paramref name="scratch"/>, grown as needed); null once taken.</summary>
        public ReadOnlySpan<float> Peek(ref float[]? scratch)
        {
            if (Data is { } data)
            {
                return data;
            }

            if (_load is null)
            {
                return default;
            }

            if (scratch is null || scratch.Length < Length)
            {
                scratch = new float[Length];
            }

            var span = scratch.AsSpan(0, Length);
            _load(span);
            return span;
        }

        /// <summary>The values in an array of their own, without handing them over; null once taken.</summary>
        public float[]? Copy()
        {
            if (Data is not null || _load is null)
            {
                return Data;
            }

            var values = new float[Length];
            _load(values);
            return values;
        }

        /// <summary>Hands the values over into <paramref name="destination"/> (of <see cref="Length"/> values).</summary>
        public void ReleaseInto(WeightSet owner, string layer, string name, Span<float> destination)
        {
            if (Data is { } data)
            {
                data.CopyTo(destination);
            }
            else if (_load is { } load)
            {
                load(destination);
            }
            else
            {
                throw owner.Released(layer, name);
            }

            Data = null;
            _load = null;
            Consumed = true;
            owner.OnHandedOver(this);
        }

        public float[] Release(WeightSet owner, string layer, string name)
        {
            var data = Copy() ?? throw owner.Released(layer, name);
            Data = null;
            _load = null;
            Consumed = true;
            owner.OnHandedOver(this);
            return data;
        }
    }
}
