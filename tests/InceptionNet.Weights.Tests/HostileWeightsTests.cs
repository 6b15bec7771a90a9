using System.Buffers.Binary;
using System.Text;
using InceptionNet.TestSupport;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Weights.Tests;

/// <summary>
/// Hand-made hostile files (issue 13): each must end in an <see cref="InvalidWeightsException"/> that names the file,
/// never in another exception type or a silently wrong result. The fuzz-found cases live in tests/fuzz-regressions.
/// </summary>
public sealed class HostileWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Save(byte[] bytes, string name = "hostile.npy")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static InvalidWeightsException Refused(string path, Action read)
    {
        var ex = Assert.Throws<InvalidWeightsException>(read);
        Assert.StartsWith(path + ": ", ex.Message, StringComparison.Ordinal);
        return ex;
    }

    // An .npy file with a raw header text (no padding rules enforced, so malformed headers can be written).
    private static byte[] Npy(string header, byte[] data, int version = 1)
    {
        byte[] text = Encoding.ASCII.GetBytes(header + "\n");
        byte[] length = version == 1 ? BitConverter.GetBytes((ushort)text.Length) : BitConverter.GetBytes((uint)text.Length);
        return [0x93, .. "NUMPY"u8, (byte)version, 0, .. length, .. text, .. data];
    }

    [Fact]
    public void Npy_header_length_that_overflows_start_plus_length_is_refused()
    {
        byte[] bytes = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4], version: 2);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 0xFFFFFFF0);
        string path = Save(bytes);
        Assert.Contains("past the end", Refused(path, () => NpyReader.ReadArray(path)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }", "expected ':'")]
    [InlineData("{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", "expected '}'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2 }", "expected ')'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected '}'")]
    [InlineData("{'descr': '', 'fortran_order': False, 'shape': (2,), }", "empty 'descr'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, }", "no 'shape'")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "not understood")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "shape entry 'x'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }", "shape entry")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296,), }", "shape entry")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647), }", "needs more than")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 65536, 65536), }", "needs more than")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "truncated")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr", "unterminated string")]
    public void Malformed_npy_headers_and_shapes_are_refused(string header, string problem)
    {
        string path = Save(Npy(header, new byte[2]));
        Assert.Contains(problem, Refused(path, () => NpyReader.ReadArray(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shape_whose_product_wraps_to_zero_is_not_silently_empty()
    {
        // 2^16 four times is 2^64: 0 in 64-bit arithmetic, which used to read as an empty array of that shape.
        string path = Save(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 65536, 65536), }", []));
        Refused(path, () => NpyReader.ReadArray(path));
    }

    [Fact]
    public void A_real_zero_dimension_is_still_an_empty_array()
    {
        var array = NpyReader.ReadArray(Save(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 65536, 65536), }", [])));
        Assert.Equal([0, 65536, 65536], array.Shape);
        Assert.Empty(array.Data);
    }

    [Fact]
    public void Pickled_layer_dictionary_round_trips()
    {
        var set = NpyReader.ReadLayerDictionary(Save(PickleFile(PickleBody(LayerDict(ArrayOf(Shape(2), Floats(1.5f, -2f)))))));
        Assert.Equal([1.5f, -2f], set.Take("conv1", "weights", 2));
    }

    public static TheoryData<string, byte[]> HostilePickles() => new()
    {
        { "never set", [.. Op('}'), .. Op('h'), 7, .. Op('.')] },
        { "not one of the allowed numpy globals", [.. Op('N'), .. Op(')'), .. Op('R'), .. Op('.')] },
        { "None is used as a dictionary key", [.. Op('}'), .. Op('N'), .. Op('K'), 1, .. Op('s'), .. Op('.')] },
        { "stack underflow", [.. Op('.')] },
        { "stack underflow", [.. Op('}'), .. Op('('), .. Op('s'), .. Op('.')] },
        { "truncated", [.. Op('}')] },
        { "truncated", [.. Op('X'), 0xFF, 0xFF, 0xFF, 0x7F, .. Op('.')] },
        { "not a list", [.. Op('}'), .. Op('K'), 1, .. Op('a'), .. Op('.')] },
        { "not a dictionary", [.. Op(']'), .. Op('K'), 1, .. Op('K'), 2, .. Op('s'), .. Op('.')] },
        { "do not form key/value pairs", [.. Op('}'), .. Op('('), .. Op('K'), 1, .. Op('u'), .. Op('.')] },
        { "no MARK", [.. Op(']'), .. Op('e'), .. Op('.')] },
        { "no end of line", [.. Op('c'), .. "numpy"u8] },
        { "refusing it", [.. Op('c'), .. "os\nsystem\n"u8, .. Op('.')] },
        { "arguments are not a tuple", [.. Global("numpy", "dtype"), .. Op('K'), 1, .. Op('R'), .. Op('.')] },
        { "needs a type string", [.. Global("numpy", "dtype"), .. Op(')'), .. Op('R'), .. Op('.')] },
        { "not valid UTF-8", [.. Op(0x8c), 2, 0xC3, 0x28, .. Op('.')] },
        { "shape entry is not a non-negative integer", PickleBody(LayerDict(ArrayOf([.. Op('J'), 0xFF, 0xFF, 0xFF, 0xFF, .. Op(0x85)], Floats(1f)))) },
        { "shape entry is not a non-negative integer", PickleBody(LayerDict(ArrayOf([.. Op('X'), 3, 0, 0, 0, .. "abc"u8, .. Op(0x85)], Floats(1f)))) },
        { "needs more than", PickleBody(LayerDict(ArrayOf(Shape(65535, 65535, 65535, 65535), Floats(1f)))) },
        { "not (version, shape, dtype, fortran_order, data)", [.. Reconstruct(), .. Op(')'), .. Op('b'), .. Op('.')] },
        { "only numpy arrays and dtypes can be built", [.. Op('}'), .. Op(')'), .. Op('b'), .. Op('.')] },
        { "byte order", [.. Global("numpy", "dtype"), .. Op('U'), 2, .. "f4"u8, .. Op(0x85), .. Op('R'), .. Op('('), .. Op('K'), 3, .. Op('U'), 1, (byte)'!', .. Op('t'), .. Op('b'), .. Op('.')] },
        { "the pickle holds None", [.. Op('N'), .. Op('.')] },
        { "not allowed", [.. Op('d'), .. Op('.')] },
    };

    [Theory]
    [MemberData(nameof(HostilePickles))]
    public void Hostile_pickles_are_refused(string problem, byte[] pickle)
    {
        string path = Save(PickleFile(pickle));
        Assert.Contains(problem, Refused(path, () => NpyReader.ReadLayerDictionary(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Array_bytes_reused_through_the_memo_cannot_multiply_the_work()
    {
        // One 16 KB byte string, then 2,000 arrays that each fetch it from the memo: 32 MB of decoding from a 0.2 MB file.
        var body = new List<byte>(Op('}'));
        body.AddRange(Op('X'));
        body.AddRange(BitConverter.GetBytes(4));
        body.AddRange("conv"u8);
        body.AddRange(Op('}'));
        body.AddRange(Op('('));
        byte[] data = new byte[16 * 1024];
        for (int i = 0; i < 2000; i++)
        {
            body.AddRange(Op('X'));
            string key = $"w{i}";
            body.AddRange(BitConverter.GetBytes(key.Length));
            body.AddRange(Encoding.ASCII.GetBytes(key));
            body.AddRange(ArrayOf(Shape(4096), i == 0 ? [.. Op('B'), .. BitConverter.GetBytes(data.Length), .. data, .. Op('r'), 9, 0, 0, 0] : [.. Op('j'), 9, 0, 0, 0]));
        }

        body.AddRange(Op('u'));
        body.AddRange(Op('s'));
        body.AddRange(Op('.'));
        string path = Save(PickleFile([.. body]));
        Assert.Contains("decoded more than once", Refused(path, () => NpyReader.ReadLayerDictionary(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tfjs_weight_name_that_is_not_valid_utf8_is_refused()
    {
        string manifest = Path.Combine(_dir, "bad-weights_manifest.json");
        File.WriteAllBytes(Path.Combine(_dir, "w.bin"), new byte[4]);
        File.WriteAllBytes(manifest, [.. """[{"paths": ["w.bin"], "weights": [{"name": "a/"""u8, 0xC3, 0x28, .. "\", \"shape\": [1], \"dtype\": \"float32\"}]}]"u8]);
        Assert.Contains("not valid UTF-8", Refused(manifest, () => TfjsWeightReader.Read(manifest)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/\ud800", "shape": [1], "dtype": "float32"}]}]""", "not valid Unicode")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1], "dtype": "\udc00"}]}]""", "not valid Unicode")]
    [InlineData("""[{"paths": ["\ud800"], "weights": []}]""", "not valid Unicode")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "sh\ud800ape": [1], "dtype": "float32"}]}]""", "property name")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1], "dtype": "float32", "quantization": {"dtype": "\ud800"}}]}]""", "not valid Unicode")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 1e999, "min": 0}}]}]""", "scale")]
    [InlineData("""[{"paths": ["w.bin", "w.bin"], "weights": [{"name": "a/w", "shape": [2], "dtype": "float32"}]}]""", "listed twice")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1], "dtype": "float32"}]}, {"paths": ["w.bin"], "weights": [{"name": "b/w", "shape": [1], "dtype": "float32"}]}]""", "listed twice")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1.5], "dtype": "float32"}]}]""", "invalid shape")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": {"0": 1}, "dtype": "float32"}]}]""", "no \"shape\" array")]
    [InlineData("""[{"paths": [1], "weights": []}]""", "must be a file name")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": 5, "shape": [1], "dtype": "float32"}]}]""", "needs a \"name\"")]
    [InlineData("""[{"paths": ["w.bin"], "weights": [{"name": "a/w", "shape": [1], "dtype": "float32", "quantization": "uint8"}]}]""", "quantization dtype")]
    [InlineData("""[[]]""", "needs a \"paths\" array")]
    public void Tfjs_manifests_with_wrong_types_or_invalid_strings_are_refused(string json, string problem)
    {
        string manifest = Path.Combine(_dir, "bad-weights_manifest.json");
        File.WriteAllBytes(Path.Combine(_dir, "w.bin"), new byte[4]);
        File.WriteAllText(manifest, json);
        Assert.Contains(problem, Refused(manifest, () => TfjsWeightReader.Read(manifest)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void H5_reader_reads_from_bytes_and_names_the_given_source()
    {
        string path = Path.Combine(_dir, "tiny.h5");
        KerasH5Writer.Write(path, [new KerasH5Writer.Tensor("dense", "kernel", [2, 3], [1, 2, 3, 4, 5, 6])]);
        var set = KerasH5WeightReader.Read(File.ReadAllBytes(path), "memory.h5");
        Assert.Equal("memory.h5", set.Source);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], set.Take("dense", "kernel", 2, 3));
    }

    [Fact]
    public void H5_with_every_byte_corrupted_in_turn_is_refused_or_read_never_crashing()
    {
        string path = Path.Combine(_dir, "tiny.h5");
        KerasH5Writer.Write(path, [new KerasH5Writer.Tensor("dense", "kernel", [2, 3], [1, 2, 3, 4, 5, 6])]);
        byte[] original = File.ReadAllBytes(path);
        for (int i = 0; i < original.Length; i++)
        {
            foreach (byte value in new byte[] { 0x00, 0xFF })
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[i] = value;
                try
                {
                    KerasH5WeightReader.Read(bytes, "corrupt.h5");
                }
                catch (InvalidWeightsException ex)
                {
                    Assert.StartsWith("corrupt.h5: ", ex.Message, StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public void H5_datasets_declaring_more_than_the_file_holds_are_refused_before_reading()
    {
        string path = Path.Combine(_dir, "tiny.h5");
        KerasH5Writer.Write(path, [new KerasH5Writer.Tensor("dense", "kernel", [2, 3], [1, 2, 3, 4, 5, 6])]);
        byte[] bytes = File.ReadAllBytes(path);

        // The dataspace message stores the dimensions as 8-byte little-endian values; make the first one 2^40.
        int at = IndexOfDims(bytes, 2, 3);
        Assert.True(at > 0, "dataspace dimensions not found in the test file");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), 1UL << 40);
        var ex = Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(bytes, "huge.h5"));
        Assert.StartsWith("huge.h5: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void H5_dimension_beyond_int_range_beside_a_zero_is_not_silently_truncated()
    {
        // (0, 2^40) holds no values, so no size check trips; cast to int the 2^40 would read as a (0, 0) tensor.
        string path = Path.Combine(_dir, "empty.h5");
        KerasH5Writer.Write(path, [new KerasH5Writer.Tensor("dense", "kernel", [0, 3], [])]);
        byte[] bytes = File.ReadAllBytes(path);
        int at = IndexOfDims(bytes, 0, 3);
        Assert.True(at > 0, "dataspace dimensions not found in the test file");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 8), 1UL << 40);
        var ex = Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(bytes, "wide.h5"));
        Assert.StartsWith("wide.h5: ", ex.Message, StringComparison.Ordinal);
    }

    private static int IndexOfDims(byte[] bytes, ulong first, ulong second)
    {
        var pattern = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(pattern, first);
        BinaryPrimitives.WriteUInt64LittleEndian(pattern.AsSpan(8), second);
        return bytes.AsSpan().IndexOf(pattern);
    }

    // Pickle pieces, opcode by opcode as numpy's np.save(dict) writes them.
    private static byte[] Op(char op) => [(byte)op];

    private static byte[] Op(byte op) => [op];

    private static byte[] Global(string module, string name) => [.. Op('c'), .. Encoding.ASCII.GetBytes($"{module}\n{name}\n")];

    private static byte[] Reconstruct() =>
        [.. Global("numpy.core.multiarray", "_reconstruct"), .. Global("numpy", "ndarray"), .. Op('K'), 0, .. Op(0x85), .. Op('C'), 1, (byte)'b', .. Op(0x87), .. Op('R')];

    private static byte[] Shape(params ushort[] dims) =>
        [.. Op('('), .. dims.SelectMany(d => (byte[])[.. Op('M'), .. BitConverter.GetBytes(d)]), .. Op('t')];

    private static byte[] Floats(params float[] values) => [.. Op('C'), (byte)(values.Length * 4), .. values.SelectMany(BitConverter.GetBytes)];

    // _reconstruct(...) then BUILD with (1, shape, dtype('f4') built with '<', False, data); shape and data are pushed by the caller's bytes.
    private static byte[] ArrayOf(byte[] shape, byte[] data) =>
    [
        .. Reconstruct(), .. Op('('), .. Op('K'), 1, .. shape,
        .. Global("numpy", "dtype"), .. Op('U'), 2, .. "f4"u8, .. Op(0x89), .. Op(0x88), .. Op(0x87), .. Op('R'),
        .. Op('('), .. Op('K'), 3, .. Op('U'), 1, (byte)'<', .. Op('N'), .. Op('N'), .. Op('N'), .. Op('J'), 0xFF, 0xFF, 0xFF, 0xFF, .. Op('J'), 0xFF, 0xFF, 0xFF, 0xFF, .. Op('K'), 0, .. Op('t'), .. Op('b'),
        .. Op(0x89), .. data, .. Op('t'), .. Op('b'),
    ];

    private static byte[] LayerDict(byte[] array) =>
        [.. Op('}'), .. Op('X'), 5, 0, 0, 0, .. "conv1"u8, .. Op('}'), .. Op('X'), 7, 0, 0, 0, .. "weights"u8, .. array, .. Op('s'), .. Op('s')];

    private static byte[] PickleBody(byte[] dict) => [0x80, 2, .. dict, .. Op('.')];

    private static byte[] PickleFile(byte[] pickle)
    {
        string header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
        return Npy(header.PadRight(64 - 10 - 1), pickle);
    }
}
