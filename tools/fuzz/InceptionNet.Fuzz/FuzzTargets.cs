using System.Buffers.Binary;
using InceptionNet.Recognition;
using InceptionNet.Vision;
using InceptionNet.Weights;
using InceptionNet.Weights.Hdf5;

namespace InceptionNet.Fuzz;

/// <summary>What a parser did with one input.</summary>
public enum FuzzOutcome
{
    /// <summary>Parsed, and the result passed the target's consistency checks.</summary>
    Accepted,

    /// <summary>Refused with the parser's documented exception.</summary>
    Rejected,
}

/// <summary>
/// One function per parser, shared by the AFL harness (<see cref="Program"/>) and the regression replay test, so a saved
/// crash is replayed through the very code that found it. A target returns when the parser accepts the input or throws
/// its documented exception; anything else — another exception type, an accepted result that is inconsistent — escapes,
/// which AFL records as a crash.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Target names, as used by run.sh and the folders under tests/fuzz-regressions.</summary>
    public static IReadOnlyList<string> Names { get; } = ["npy", "pickle", "tfjs", "h5", "jpeg", "png", "gallery"];

    /// <summary>The byte that separates the manifest from the shard in a tfjs input (JSON text never holds a raw NUL).</summary>
    public const byte TfjsSeparator = 0;

    /// <summary>The documented exception of the last rejected input (printed by the replay mode of the harness).</summary>
    public static Exception? LastRejection { get; private set; }

    /// <summary>Runs target <paramref name="name"/> on <paramref name="input"/>.</summary>
    public static FuzzOutcome Run(string name, byte[] input) => name switch
    {
        "npy" => Npy(input),
        "pickle" => Pickle(input),
        "tfjs" => Tfjs(input),
        "h5" => H5(input),
        "jpeg" => Image(input),
        "png" => Image(WithPngChecksumsRepaired(input)),
        "gallery" => GalleryFile(input),
        _ => throw new ArgumentException($"unknown fuzz target '{name}'; known: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>A whole .npy file: read as a plain array and as a pickled layer dictionary.</summary>
    public static FuzzOutcome Npy(byte[] input)
    {
        var array = Weights(() => NpyReader.ReadArray(input, "fuzz.npy"));
        var dictionary = Weights(() => CheckSet(NpyReader.ReadLayerDictionary(input, "fuzz.npy")));
        if (array is { } a && a.Shape.Aggregate(1L, (p, d) => p * d) != a.Data.Length)
        {
            throw new InvalidOperationException($"accepted an array of shape ({string.Join(", ", a.Shape)}) with {a.Data.Length} values.");
        }

        return array is null && dictionary is null ? FuzzOutcome.Rejected : FuzzOutcome.Accepted;
    }

    /// <summary>
    /// The pickle stream alone, behind a fixed valid object-array header, so mutations reach the pickle machine instead of
    /// breaking the header's length and padding.
    /// </summary>
    public static FuzzOutcome Pickle(byte[] input)
    {
        byte[] file = [.. ObjectArrayHeader, .. input];
        return Weights(() => CheckSet(NpyReader.ReadLayerDictionary(file, "fuzz.npy"))) is null ? FuzzOutcome.Rejected : FuzzOutcome.Accepted;
    }

    /// <summary>A tfjs manifest, a NUL byte, then the shard; every shard name the manifest lists resolves to that shard.</summary>
    public static FuzzOutcome Tfjs(byte[] input)
    {
        int split = Array.IndexOf(input, TfjsSeparator);
        byte[] manifest = split < 0 ? input : input[..split];
        byte[] shard = split < 0 ? [] : input[(split + 1)..];
        return Weights(() => CheckSet(TfjsWeightReader.Read(manifest, "fuzz-weights_manifest.json", _ => shard))) is null
            ? FuzzOutcome.Rejected : FuzzOutcome.Accepted;
    }

    /// <summary>
    /// A Keras h5 file. The checksums of a version 2/3 superblock and of every OHDR header whose size fits are recomputed
    /// first (as PNG fuzzing fixes CRCs): otherwise nearly every mutation of the PureHDF-written seeds would stop at a
    /// checksum mismatch and never reach the structures behind it. The checksum check itself is unit-tested.
    /// </summary>
    public static FuzzOutcome H5(byte[] input)
    {
        byte[] file = (byte[])input.Clone();
        ResealHdf5Checksums(file);
        return Weights(() => CheckSet(KerasH5WeightReader.Read(file, "fuzz.h5"))) is null ? FuzzOutcome.Rejected : FuzzOutcome.Accepted;
    }

    private static void ResealHdf5Checksums(byte[] file)
    {
        if (file.Length >= 48 && file[8] is 2 or 3)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(44), Hdf5Checksum.Lookup3(file.AsSpan(0, 44)));
        }

        for (int at = file.AsSpan().IndexOf("OHDR"u8); at >= 0 && at + 6 <= file.Length; at = NextOhdr(file, at + 1))
        {
            int flags = file[at + 5];
            int width = 1 << (flags & 0x03);
            long prefix = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0);
            if (at + prefix + width > file.Length)
            {
                continue;
            }

            var field = file.AsSpan((int)(at + prefix));
            ulong size = width switch
            {
                1 => field[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(field),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(field),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(field),
            };
            ulong end = (ulong)(at + prefix + width) + size;
            if (size <= (ulong)file.Length && end + 4 <= (ulong)file.Length)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan((int)end), Hdf5Checksum.Lookup3(file.AsSpan(at, (int)end - at)));
            }
        }

        static int NextOhdr(byte[] file, int from)
        {
            int next = file.AsSpan(from).IndexOf("OHDR"u8);
            return next < 0 ? -1 : from + next;
        }
    }

    /// <summary>A JPEG or PNG file through <see cref="ImageDecoder"/>.</summary>
    public static FuzzOutcome Image(byte[] input)
    {
        RgbImage image;
        try
        {
            image = ImageDecoder.Decode(input, "fuzz.img");
        }
        catch (InvalidImageException ex)
        {
            LastRejection = ex;
            return FuzzOutcome.Rejected;
        }

        return image.Width > 0 && image.Height > 0 ? FuzzOutcome.Accepted
            : throw new InvalidOperationException($"accepted an image of {image.Width}x{image.Height}.");
    }

    /// <summary>
    /// <paramref name="input"/> with the CRC of every whole chunk recomputed. The PNG decoder checks each chunk's CRC
    /// first, so almost every mutation of a chunk would be refused there and the fuzzer would never reach the header,
    /// palette, inflate and filter code; the CRC check itself is covered by the decoder's unit tests. Deterministic, so a
    /// saved finding replays the same way.
    /// </summary>
    public static byte[] WithPngChecksumsRepaired(byte[] input)
    {
        byte[] png = (byte[])input.Clone();
        if (png.Length < 8 || png[0] != 0x89 || png[1] != (byte)'P')
        {
            return png;
        }

        for (int pos = 8; png.Length - pos >= 12;)
        {
            uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (length > (uint)(png.Length - pos - 12))
            {
                break;
            }

            uint crc = Crc32(png.AsSpan(pos + 4, 4 + (int)length));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + (int)length), crc);
            pos += 12 + (int)length;
        }

        return png;
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return crc ^ 0xFFFFFFFF;
    }

    /// <summary>A gallery file, written to a temporary file and opened with <see cref="Gallery.Open"/>.</summary>
    public static FuzzOutcome GalleryFile(byte[] input)
    {
        string path = Path.Combine(Path.GetTempPath(), $"inceptionnet-fuzz-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}.gallery.json");
        File.WriteAllBytes(path, input);
        try
        {
            Gallery.Open(path);
            return FuzzOutcome.Accepted;
        }
        catch (GalleryException ex)
        {
            LastRejection = ex;
            return FuzzOutcome.Rejected;
        }
        finally
        {
            File.Delete(path);
        }
    }

    // numpy's version 1 header for a 0-d object array, padded to 64 bytes like np.save writes it.
    private static readonly byte[] ObjectArrayHeader = BuildObjectArrayHeader();

    private static byte[] BuildObjectArrayHeader()
    {
        string header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
        header = header.PadRight(64 - 10 - 1) + "\n";
        return [0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0, .. System.Text.Encoding.ASCII.GetBytes(header)];
    }

    /// <summary>
    /// Most a weights parser may allocate for one input of at most 64 KB. Decoding allocates a small multiple of the input
    /// (values as float32, names as UTF-16, the h5 reader's metadata blocks); 32 MB is two orders of magnitude above that and
    /// far below a declared size believed. The replay test checks the same bound.
    /// </summary>
    public const long MaxAllocationPerInput = 32L << 20;

    private static T? Weights<T>(Func<T> read)
        where T : class
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        T? result;
        try
        {
            result = read();
        }
        catch (InvalidWeightsException ex) when (ex.Source.StartsWith("fuzz", StringComparison.Ordinal))
        {
            LastRejection = ex;
            result = null;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > MaxAllocationPerInput)
        {
            // Collect first: the fuzzing process has a GC heap hard limit, and the garbage must not fail the next input.
            GC.Collect();
            throw new InvalidOperationException($"allocated {allocated:N0} bytes for one input ({(result is null ? "rejected: " + LastRejection?.Message : "accepted")}).");
        }

        return result;
    }

    // An accepted set must be internally consistent: every tensor's shape accounts for exactly its values.
    private static WeightSet CheckSet(WeightSet set)
    {
        foreach (var t in set.Tensors)
        {
            if (t.Shape is { } shape && shape.Aggregate(1L, (p, d) => p * d) != t.Data.Length)
            {
                throw new InvalidOperationException($"accepted '{t.Layer}/{t.Name}' of shape ({string.Join(", ", shape)}) with {t.Data.Length} values.");
            }
        }

        return set;
    }
}
