using System.Buffers.Binary;
using InceptionNet.TestSupport;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Weights.Tests;

public sealed class TfjsWeightReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-tfjs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Reads_face_apis_recognition_manifest()
    {
        var set = TfjsWeightReader.Read(TfjsWeightReader.FindManifest(SharedData.PathOf("weights", "faceapi"), "face_recognition_model"));
        // The fixture README: 117 tensors, 5,614,592 parameters (109 uint8-quantized, 8 float32).
        Assert.Equal(117, set.Count);
        Assert.Equal(5_614_592, set.ParameterCount);
        var stem = set.Take("conv32_down/conv", "filters", 7, 7, 3, 32);
        // Dequantized values lie on the grid min + q·scale of the manifest (scale 0.000526…, min −0.0710…).
        Assert.All(stem, v => Assert.InRange(v, -0.0711f, -0.0710f + 255 * 0.000527f));
        Assert.Equal(256 * 128, set.Take("fc", "fc", 256, 128).Length);
    }

    [Fact]
    public void Dequantizes_uint8_uint16_and_float16_and_concatenates_shards()
    {
        var bytes = new List<byte>();
        bytes.AddRange(Float32(1.5f, -2.25f));
        bytes.AddRange([0, 10, 255]);
        bytes.AddRange(UInt16(0, 1000));
        bytes.AddRange(Half16((Half)0.5f, (Half)(-3f)));
        File.WriteAllBytes(Path.Combine(_dir, "m.bin"), bytes.Take(5).ToArray());
        File.WriteAllBytes(Path.Combine(_dir, "m2.bin"), bytes.Skip(5).ToArray());
        string manifest = Write("""
            [{"paths": ["m.bin", "m2.bin"], "weights": [
              {"name": "a/f", "shape": [2], "dtype": "float32"},
              {"name": "a/q8", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.1, "min": -1.0}},
              {"name": "b/q16", "shape": [1, 2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.001, "min": 2.0}},
              {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}}]}]
            """);
        var set = TfjsWeightReader.Read(manifest);
        Assert.Equal([1.5f, -2.25f], set.Take("a", "f", 2));
        Assert.Equal([(float)(0 * 0.1 - 1.0), (float)(10 * 0.1 - 1.0), (float)(255 * 0.1 - 1.0)], set.Take("a", "q8", 3));
        Assert.Equal([2f, (float)(1000 * 0.001 + 2.0)], set.Take("b", "q16", 1, 2));
        Assert.Equal([0.5f, -3f], set.Take("h", "h", 2));
        set.EnsureAllConsumed();
    }

    [Theory]
    [InlineData("""[{"paths": ["missing.bin"], "weights": [{"name": "a/w", "shape": [2], "dtype": "float32"}]}]""", "shard 'missing.bin' not found")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [3], "dtype": "float32"}]}]""", "need 12 bytes but the shard(s) w.bin hold 8 bytes")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1], "dtype": "float32"}]}]""", "extra bytes")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [2], "dtype": "int32"}]}]""", "dtype 'int32'")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [8], "dtype": "float32", "quantization": {"dtype": "int4", "scale": 1, "min": 0}}]}]""", "quantization dtype 'int4'")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [8], "dtype": "float32", "quantization": {"dtype": "uint8"}}]}]""", "lacks numeric \"scale\" and \"min\"")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [-2], "dtype": "float32"}]}]""", "invalid shape")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [65536, 65536], "dtype": "float32"}]}]""", "more than")]
    [InlineData("""[{"paths": ["../w.bin"], "weights": []}]""", "must be a file name next to the manifest")]
    [InlineData("""{"paths": []}""", "non-empty JSON array")]
    [InlineData("""[{"weights": []}]""", "needs a \"paths\" array")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"shape": [2], "dtype": "float32"}]}]""", "needs a \"name\"")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [2], "dtype": "float32"}, {"name": "a/w", "shape": [0], "dtype": "float32"}]}]""", "appears twice")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [""", "not a valid JSON manifest")]
    public void Bad_manifests_are_refused_naming_the_file_and_the_problem(string json, string problem)
    {
        File.WriteAllBytes(Path.Combine(_dir, "w.bin"), Float32(1f, 2f));
        string manifest = Write(json);
        var ex = Assert.Throws<InvalidWeightsException>(() => TfjsWeightReader.Read(manifest));
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith(manifest, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_with_two_manifests_needs_a_choice()
    {
        Write("[]", "a-weights_manifest.json");
        Write("[]", "b-weights_manifest.json");
        var ex = Assert.Throws<InvalidWeightsException>(() => TfjsWeightReader.FindManifest(_dir));
        Assert.Contains("several manifests", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("b-weights_manifest.json", TfjsWeightReader.FindManifest(_dir, "b"), StringComparison.Ordinal);
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        Assert.Contains("no TensorFlow.js manifest", Assert.Throws<InvalidWeightsException>(() => TfjsWeightReader.FindManifest(empty, "x")).Message, StringComparison.Ordinal);
    }

    private string Write(string json, string name = "test-weights_manifest.json")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    private static byte[] Float32(params float[] values) => Bytes(values, 4, BinaryPrimitives.WriteSingleLittleEndian);

    private static byte[] UInt16(params ushort[] values) => Bytes(values, 2, BinaryPrimitives.WriteUInt16LittleEndian);

    private static byte[] Half16(params Half[] values) => Bytes(values, 2, BinaryPrimitives.WriteHalfLittleEndian);

    private delegate void Writer<T>(Span<byte> destination, T value);

    // Little-endian bytes of values, each `width` bytes wide.
    private static byte[] Bytes<T>(T[] values, int width, Writer<T> write)
    {
        var b = new byte[values.Length * width];
        for (int i = 0; i < values.Length; i++)
        {
            write(b.AsSpan(i * width), values[i]);
        }

        return b;
    }
}
