using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace InceptionNet.Weights;

/// <summary>
/// Reads TensorFlow.js weights: a <c>*-weights_manifest.json</c> (an array of groups
/// <c>{ "paths": [...], "weights": [{ name, shape, dtype, quantization? }] }</c>) and the binary shards it names. Each
/// group's shards are concatenated in order and its tensors lie back to back in manifest order, little-endian, row-major
/// in the listed shape. Supported: float32, and quantized uint8 / uint16 (<c>value = (float)(q·scale + min)</c> in double,
/// as tfjs dequantizes) and float16. A weight name <c>a/b/c</c> is stored as layer <c>a/b</c>, name <c>c</c>; a name
/// without '/', such as face-api's <c>fc</c>, as layer <c>fc</c>, name <c>fc</c>.
/// </summary>
public static class TfjsWeightReader
{
    /// <summary>File name ending of a tfjs weights manifest.</summary>
    public const string ManifestSuffix = "-weights_manifest.json";

    // Larger than any real face model tensor (the biggest face-api tensor has 589,824 values); refuses hostile shapes
    // before a shard is read.
    private const long MaxValuesPerTensor = 1L << 28;

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>
    /// The manifest to read for <paramref name="path"/>: the file itself, or in a folder the manifest whose name starts
    /// with <paramref name="preferredPrefix"/>, else the only manifest there.
    /// </summary>
    /// <exception cref="InvalidWeightsException">No manifest, or several and none preferred.</exception>
    public static string FindManifest(string path, string? preferredPrefix = null)
    {
        if (!Directory.Exists(path))
        {
            return path;
        }

        var manifests = Directory.GetFiles(path, "*" + ManifestSuffix).Order(StringComparer.Ordinal).ToList();
        if (preferredPrefix is not null)
        {
            string preferred = Path.Combine(path, preferredPrefix + ManifestSuffix);
            if (File.Exists(preferred))
            {
                return preferred;
            }
        }

        return manifests.Count switch
        {
            1 => manifests[0],
            0 => throw new InvalidWeightsException(path, $"no TensorFlow.js manifest (*{ManifestSuffix}) in this folder" +
                (preferredPrefix is null ? "." : $"; expected {preferredPrefix}{ManifestSuffix}.")),
            _ => throw new InvalidWeightsException(path, $"several manifests ({string.Join(", ", manifests.Select(Path.GetFileName))}); pass the one to use."),
        };
    }

    /// <summary>Reads every tensor of the manifest at <paramref name="manifestPath"/> and its shards.</summary>
    /// <exception cref="InvalidWeightsException">Malformed manifest, missing or short shard, unknown dtype, trailing bytes.</exception>
    public static WeightSet Read(string manifestPath)
    {
        if (!File.Exists(manifestPath))
        {
            throw new InvalidWeightsException(manifestPath, Directory.Exists(manifestPath) ? "is a directory, expected a *-weights_manifest.json file." : "file not found.");
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        return Read(File.ReadAllBytes(manifestPath), manifestPath, name =>
        {
            string file = Path.Combine(directory, name);
            try
            {
                return File.Exists(file) ? File.OpenRead(file) : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InvalidWeightsException(manifestPath, $"shard '{name}' cannot be opened ({ex.Message}).", ex);
            }
        });
    }

    /// <summary>
    /// Reads an in-memory manifest whose shards come from <paramref name="shard"/> (given a shard file name from the
    /// manifest, its bytes, or null when there is no such shard); <paramref name="name"/> is used in messages.
    /// </summary>
    /// <exception cref="InvalidWeightsException">Malformed manifest, missing or short shard, unknown dtype, trailing bytes.</exception>
    public static WeightSet Read(byte[] manifest, string name, Func<string, byte[]?> shard)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(shard);
        return Read(manifest, name, file => shard(file) is { } bytes ? new MemoryStream(bytes, writable: false) : null);
    }

    private static WeightSet Read(byte[] manifest, string manifestPath, Func<string, Stream?> openShard)
    {
        // Validated up front so that GetRawText, used in messages, cannot fail on the raw bytes.
        try
        {
            _ = StrictUtf8.GetCharCount(manifest);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidWeightsException(manifestPath, "the manifest is not valid UTF-8 text.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(manifest, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw new InvalidWeightsException(manifestPath, $"not a valid JSON manifest ({ex.Message}).", ex);
        }

        using (document)
        {
            var set = new WeightSet(manifestPath, "TensorFlow.js weights manifest");
            var root = document.RootElement;
            CheckStrings(manifestPath, root);
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
            {
                throw new InvalidWeightsException(manifestPath, "a weights manifest is a non-empty JSON array of groups.");
            }

            int groupIndex = 0;
            var shardsSeen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var group in root.EnumerateArray())
            {
                ReadGroup(manifestPath, openShard, group, groupIndex++, set, shardsSeen);
            }

            return set;
        }
    }

    private static void ReadGroup(string manifestPath, Func<string, Stream?> openShard, JsonElement group, int groupIndex, WeightSet set, HashSet<string> shardsSeen)
    {
        string where = $"group {groupIndex}";
        if (group.ValueKind != JsonValueKind.Object
            || !group.TryGetProperty("paths", out var paths) || paths.ValueKind != JsonValueKind.Array
            || !group.TryGetProperty("weights", out var weights) || weights.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidWeightsException(manifestPath, $"{where} needs a \"paths\" array and a \"weights\" array.");
        }

        var specs = new List<Spec>();
        long needed = 0;
        foreach (var weight in weights.EnumerateArray())
        {
            var spec = ParseSpec(manifestPath, where, weight);
            specs.Add(spec);
            needed += spec.Bytes;
        }

        var shards = new List<(string Name, Stream Stream)>();
        try
        {
            foreach (var entry in paths.EnumerateArray())
            {
                string? name = entry.ValueKind == JsonValueKind.String ? StringOf(manifestPath, entry) : null;
                if (string.IsNullOrEmpty(name) || Path.IsPathRooted(name) || name.Contains("..", StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
                {
                    throw new InvalidWeightsException(manifestPath, $"{where}: shard path {Truncate(entry.GetRawText())} must be a file name next to the manifest.");
                }

                // tfjs writes each shard once; a shard named twice would make a small file count many times over.
                if (!shardsSeen.Add(name))
                {
                    throw new InvalidWeightsException(manifestPath, $"{where}: shard '{name}' is listed twice.");
                }

                var stream = openShard(name) ?? throw new InvalidWeightsException(manifestPath, $"{where}: shard '{name}' not found next to the manifest.");
                shards.Add((name, stream));
            }

            long available = shards.Sum(f => f.Stream.Length);
            if (available != needed)
            {
                throw new InvalidWeightsException(manifestPath,
                    $"{where}: the {specs.Count} weights need {needed:N0} bytes but the shard(s) {string.Join(" + ", shards.Select(f => f.Name))} hold {available:N0} bytes" +
                    (available < needed ? " (truncated or wrong file?)." : " (extra bytes: wrong manifest for these shards?)."));
            }

            if (needed > Array.MaxLength)
            {
                throw new InvalidWeightsException(manifestPath, $"{where}: {needed:N0} bytes of weights is more than one group can hold.");
            }

            var bytes = new byte[needed];
            int offset = 0;
            foreach (var (_, stream) in shards)
            {
                stream.ReadExactly(bytes, offset, (int)stream.Length);
                offset += (int)stream.Length;
            }

            long position = 0;
            foreach (var spec in specs)
            {
                var span = bytes.AsSpan((int)position, (int)spec.Bytes);
                position += spec.Bytes;
                int slash = spec.Name.LastIndexOf('/');
                string layer = slash < 0 ? spec.Name : spec.Name[..slash];
                string shortName = slash < 0 ? spec.Name : spec.Name[(slash + 1)..];
                set.Add(layer, shortName, spec.Shape, Decode(span, spec));
            }
        }
        finally
        {
            foreach (var (_, stream) in shards)
            {
                stream.Dispose();
            }
        }
    }

    // A lone surrogate escape (\ud800) is valid JSON syntax but not a string: JsonElement throws InvalidOperationException
    // when it unescapes one, and TryGetProperty unescapes every property name it compares. One walk over the whole
    // document (at most MaxDepth deep) refuses such a manifest before any lookup.
    private static void CheckStrings(string manifestPath, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    try
                    {
                        _ = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        throw new InvalidWeightsException(manifestPath, $"a property name in {Truncate(element.GetRawText())} is not valid Unicode (lone surrogate escape).");
                    }

                    CheckStrings(manifestPath, property.Value);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CheckStrings(manifestPath, item);
                }

                break;
            case JsonValueKind.String:
                _ = StringOf(manifestPath, element);
                break;
        }
    }

    // JSON escapes can still spell a lone surrogate (\ud800), which GetString refuses with InvalidOperationException.
    private static string StringOf(string manifestPath, JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new InvalidWeightsException(manifestPath, $"the string {Truncate(element.GetRawText())} is not valid Unicode (lone surrogate escape).");
        }
    }

    private static Spec ParseSpec(string manifestPath, string where, JsonElement weight)
    {
        if (weight.ValueKind != JsonValueKind.Object || !weight.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String
            || string.IsNullOrEmpty(StringOf(manifestPath, nameElement)))
        {
            throw new InvalidWeightsException(manifestPath, $"{where}: every weight needs a \"name\" string ({Truncate(weight.GetRawText())}).");
        }

        string name = StringOf(manifestPath, nameElement);
        if (!weight.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidWeightsException(manifestPath, $"weight '{name}' has no \"shape\" array.");
        }

        var shape = new List<int>();
        long count = 1;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int d) || d < 0)
            {
                throw new InvalidWeightsException(manifestPath, $"weight '{name}' has an invalid shape {Truncate(shapeElement.GetRawText())}.");
            }

            shape.Add(d);
            count *= d;
            if (count > MaxValuesPerTensor)
            {
                throw new InvalidWeightsException(manifestPath, $"weight '{name}' declares shape {Truncate(shapeElement.GetRawText())}, more than {MaxValuesPerTensor:N0} values.");
            }
        }

        string dtype = weight.TryGetProperty("dtype", out var dtypeElement) && dtypeElement.ValueKind == JsonValueKind.String ? StringOf(manifestPath, dtypeElement) : "(none)";
        if (dtype != "float32")
        {
            throw new InvalidWeightsException(manifestPath, $"weight '{name}' has dtype '{dtype}'; only float32 weights (optionally quantized) are supported.");
        }

        var storage = Storage.Float32;
        double scale = 0, min = 0;
        if (weight.TryGetProperty("quantization", out var quantization) && quantization.ValueKind != JsonValueKind.Null)
        {
            string qtype = quantization.ValueKind == JsonValueKind.Object && quantization.TryGetProperty("dtype", out var q) && q.ValueKind == JsonValueKind.String
                ? StringOf(manifestPath, q) : "(none)";
            storage = qtype switch
            {
                "uint8" => Storage.UInt8,
                "uint16" => Storage.UInt16,
                "float16" => Storage.Float16,
                _ => throw new InvalidWeightsException(manifestPath, $"weight '{name}' has quantization dtype '{qtype}'; supported: uint8, uint16, float16."),
            };
            if (storage != Storage.Float16)
            {
                if (!quantization.TryGetProperty("scale", out var s) || s.ValueKind != JsonValueKind.Number || !s.TryGetDouble(out scale)
                    || !quantization.TryGetProperty("min", out var m) || m.ValueKind != JsonValueKind.Number || !m.TryGetDouble(out min))
                {
                    throw new InvalidWeightsException(manifestPath, $"weight '{name}' is {qtype}-quantized but lacks numeric \"scale\" and \"min\".");
                }

                if (!double.IsFinite(scale) || !double.IsFinite(min))
                {
                    throw new InvalidWeightsException(manifestPath, $"weight '{name}' has a non-finite quantization scale or min.");
                }
            }
        }

        return new Spec(name, [.. shape], storage, scale, min, count);
    }

    private static float[] Decode(ReadOnlySpan<byte> bytes, Spec spec)
    {
        var values = new float[bytes.Length / spec.Width];
        switch (spec.Storage)
        {
            case Storage.UInt8:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)(bytes[i] * spec.Scale + spec.Min);
                }

                break;
            case Storage.UInt16:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) * spec.Scale + spec.Min);
                }

                break;
            case Storage.Float16:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]);
                }

                break;
            default:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
                }

                break;
        }

        return values;
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";

    private enum Storage
    {
        Float32,
        UInt8,
        UInt16,
        Float16,
    }

    private sealed record Spec(string Name, int[] Shape, Storage Storage, double Scale, double Min, long Count)
    {
        public int Width => Storage switch { Storage.UInt8 => 1, Storage.UInt16 or Storage.Float16 => 2, _ => 4 };

        public long Bytes => Count * Width;
    }
}
