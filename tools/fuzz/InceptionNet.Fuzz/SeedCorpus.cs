using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using PureHDF;

namespace InceptionNet.Fuzz;

/// <summary>
/// Writes a small starting corpus for a target: tiny files made here (every one well under AFL's 1 MB advice and the
/// 64 KB bound the parsers promise) plus the small real files from the shared data folder.
/// </summary>
public static class SeedCorpus
{
    /// <summary>Largest real file copied from the shared folder.</summary>
    public const int MaxSeedBytes = 64 * 1024;

    /// <summary>Writes seeds for <paramref name="target"/> into <paramref name="directory"/>; returns how many.</summary>
    public static int Write(string target, string directory, string sharedRoot)
    {
        Directory.CreateDirectory(directory);
        var seeds = target switch
        {
            "npy" => NpySeeds(sharedRoot),
            "pickle" => PickleSeeds(sharedRoot),
            "tfjs" => TfjsSeeds(sharedRoot),
            "h5" => H5Seeds(),
            "jpeg" => SharedFiles(sharedRoot, "images", "*.jpg").Take(4),
            "png" => [("tiny-rgb.png", Png(3, 2, 2)), ("tiny-rgba.png", Png(2, 3, 6)), .. SharedFiles(sharedRoot, "images", "*.png").Take(2)],
            "gallery" => GallerySeeds(),
            _ => throw new ArgumentException($"unknown fuzz target '{target}'.", nameof(target)),
        };
        int count = 0;
        foreach (var (name, bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(directory, name), bytes);
            count++;
        }

        return count;
    }

    private static IEnumerable<(string Name, byte[] Bytes)> SharedFiles(string sharedRoot, string folder, string pattern)
    {
        string root = Path.Combine(sharedRoot, folder);
        if (!Directory.Exists(root))
        {
            return [];
        }

        return Directory.EnumerateFiles(root, pattern, SearchOption.AllDirectories)
            .Select(f => new FileInfo(f))
            .Where(f => f.Length <= MaxSeedBytes)
            .OrderBy(f => f.Length)
            .Select(f => (f.Name, File.ReadAllBytes(f.FullName)));
    }

    private static IEnumerable<(string, byte[])> NpySeeds(string sharedRoot)
    {
        yield return ("f4-c-v1.npy", Npy(1, "<f4", false, "(2, 3)", Floats(6, 4, little: true)));
        yield return ("f8-fortran-big-v2.npy", Npy(2, ">f8", true, "(3, 2)", Doubles(6)));
        yield return ("f4-scalar-v3.npy", Npy(3, "<f4", false, "()", Floats(1, 4, little: true)));
        yield return ("f4-empty-v1.npy", Npy(1, "<f4", false, "(0, 5)", []));
        foreach (var seed in SharedFiles(sharedRoot, Path.Combine("weights", "mtcnn"), "*.npy"))
        {
            yield return seed;
        }
    }

    // The pickle target takes the bytes after the .npy header.
    private static IEnumerable<(string, byte[])> PickleSeeds(string sharedRoot)
    {
        foreach (var (name, bytes) in SharedFiles(sharedRoot, Path.Combine("weights", "mtcnn"), "*.npy"))
        {
            int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            yield return (name + ".pickle", bytes[(10 + headerLength)..]);
        }
    }

    private static IEnumerable<(string, byte[])> TfjsSeeds(string sharedRoot)
    {
        byte[] shard = [.. Floats(2, 4, little: true), 0, 10, 255, 0x00, 0x00, 0xE8, 0x03, 0x00, 0x38, 0x00, 0xC2];
        yield return ("mixed.tfjs", Tfjs("""
            [{"paths": ["m.bin"], "weights": [
              {"name": "a/f", "shape": [2], "dtype": "float32"},
              {"name": "a/q8", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.1, "min": -1.0}},
              {"name": "b/q16", "shape": [1, 2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.001, "min": 2.0}},
              {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}}]}]
            """, shard));
        yield return ("two-groups.tfjs", Tfjs("""[{"paths": ["a.bin"], "weights": [{"name": "x/k", "shape": [1, 1, 1, 2], "dtype": "float32"}]}, {"paths": [], "weights": []}]""", Floats(2, 4, little: true)));

        // The real face-api manifests: their JSON shape, with a shard that does not match (the bound is 64 KB).
        foreach (var (name, bytes) in SharedFiles(sharedRoot, Path.Combine("weights", "faceapi"), "*.json"))
        {
            yield return (name + ".tfjs", [.. bytes, FuzzTargets.TfjsSeparator, .. Floats(16, 4, little: true)]);
        }
    }

    private static byte[] Tfjs(string manifest, byte[] shard) => [.. Encoding.UTF8.GetBytes(manifest), FuzzTargets.TfjsSeparator, .. shard];

    // Keras layouts written with PureHDF, as the test helper KerasH5Writer does: save_weights and full model.
    private static IEnumerable<(string, byte[])> H5Seeds()
    {
        yield return ("save-weights.h5", KerasH5(fullModel: false));
        yield return ("full-model.h5", KerasH5(fullModel: true));
    }

    private static byte[] KerasH5(bool fullModel)
    {
        var conv = new H5Group
        {
            Attributes = new() { ["weight_names"] = new[] { "conv/kernel:0", "conv/bias:0" } },
            ["conv"] = new H5Group
            {
                ["kernel:0"] = new H5Dataset(new float[] { 1, 2, 3, 4, 5, 6 }, fileDims: [1, 1, 3, 2]),
                ["bias:0"] = new H5Dataset(new float[] { 0.5f, -0.5f }, fileDims: [2]),
            },
        };
        var activation = new H5Group { Attributes = new() { ["weight_names"] = Array.Empty<double>() } };
        var attributes = new Dictionary<string, object> { ["layer_names"] = new[] { "conv", "activation" }, ["backend"] = "tensorflow" };
        var file = new H5File();
        if (fullModel)
        {
            file["model_weights"] = new H5Group { Attributes = attributes, ["conv"] = conv, ["activation"] = activation };
            file.Attributes = new() { ["model_config"] = "{\"class_name\": \"Model\"}" };
        }
        else
        {
            file["conv"] = conv;
            file["activation"] = activation;
            file.Attributes = attributes;
        }

        string path = Path.GetTempFileName();
        try
        {
            file.Write(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static IEnumerable<(string, byte[])> GallerySeeds()
    {
        string embedding = Convert.ToBase64String(Floats(4, 4, little: true));
        yield return ("gallery.json", Encoding.UTF8.GetBytes($$"""
            {"format": "inceptionnet-gallery", "version": 1, "threshold": 0.7,
             "model": {"id": "facenet", "weights_sha256": "{{new string('0', 64)}}", "preprocessing": "prewhiten", "embedding_size": 4},
             "identities": [{"name": "ann", "entries": [{"embedding": "{{embedding}}", "source": "ann.jpg", "added": "2024-01-02T03:04:05+00:00"}]}]}
            """));
        yield return ("gallery-v2.json", Encoding.UTF8.GetBytes($$"""
            {"format": "inceptionnet-gallery", "version": 2, "face_input": "mtcnn+faceapi", "threshold": null,
             "model": {"id": "facenet", "weights_sha256": "{{new string('a', 64)}}", "preprocessing": "prewhiten", "embedding_size": 4},
             "identities": [{"name": "ann", "entries": [{"embedding": "{{embedding}}", "added": "2024-01-02T03:04:05Z"}]},
                            {"name": "bo", "entries": [{"embedding": "{{embedding}}", "source": "b.png", "added": "2024-01-02"},
                                                       {"embedding": "{{embedding}}", "source": "", "added": "2024-01-02T03:04:05.1234567+01:00"}]}]}
            """));
    }

    private static byte[] Npy(int version, string descr, bool fortran, string shape, byte[] data)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";
        int prefix = version == 1 ? 10 : 12;
        int padded = (prefix + header.Length + 1 + 63) / 64 * 64 - prefix;
        header = header.PadRight(padded - 1) + "\n";
        byte[] length = version == 1 ? BitConverter.GetBytes((ushort)header.Length) : BitConverter.GetBytes((uint)header.Length);
        return [0x93, .. "NUMPY"u8, (byte)version, 0, .. length, .. Encoding.ASCII.GetBytes(header), .. data];
    }

    private static byte[] Floats(int count, int width, bool little)
    {
        var bytes = new byte[count * width];
        for (int i = 0; i < count; i++)
        {
            if (width == 2)
            {
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)(i + 0.5f));
            }
            else if (little)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), i + 0.5f);
            }
            else
            {
                BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(i * 4), i + 0.5f);
            }
        }

        return bytes;
    }

    private static byte[] Doubles(int count)
    {
        var bytes = new byte[count * 8];
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteDoubleBigEndian(bytes.AsSpan(i * 8), i - 1.25);
        }

        return bytes;
    }

    // A minimal PNG: IHDR, one zlib-compressed IDAT (filter byte 0 per row), IEND.
    private static byte[] Png(int width, int height, int colorType)
    {
        int channels = colorType == 6 ? 4 : 3;
        using var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < width * channels; x++)
            {
                raw.WriteByte((byte)(37 * x + 101 * y));
            }
        }

        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            raw.Position = 0;
            raw.CopyTo(z);
        }

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = (byte)colorType;
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        png.Write(header);
        png.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32([.. header.AsSpan(4), .. data]));
        png.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}
