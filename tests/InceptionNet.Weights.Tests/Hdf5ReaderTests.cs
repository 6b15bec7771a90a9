using System.Buffers.Binary;
using InceptionNet.TestSupport;
using InceptionNet.Weights;
using InceptionNet.Weights.Hdf5;
using Xunit;

namespace InceptionNet.Weights.Tests;

/// <summary>
/// Refusals of the strict HDF5 reader behind <see cref="KerasH5WeightReader"/>: each damaged file is refused with a
/// message naming the structure and its offset, after allocating little more than the file itself.
/// </summary>
public sealed class Hdf5ReaderTests : IDisposable
{
    // The reader may allocate its names, metadata blocks and tensors; a declared size it believed would be far more.
    private const long MaxAllocation = 1 << 20;

    private static readonly string OpenFaceH5 = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-hdf5-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // PureHDF writes superblock version 3, version 2 object headers, link messages and variable-length strings.
    private byte[] Tiny(params KerasH5Writer.Tensor[] tensors)
    {
        string path = Path.Combine(_dir, "tiny.h5");
        KerasH5Writer.Write(path, tensors.Length > 0 ? tensors : [new KerasH5Writer.Tensor("dense", "kernel", [2, 3], [1, 2, 3, 4, 5, 6])], extraLayers: ["input_1"]);
        return File.ReadAllBytes(path);
    }

    private static string Refused(byte[] bytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(bytes, "bad.h5"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.StartsWith("bad.h5: ", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < MaxAllocation, $"allocated {allocated:N0} bytes before refusing: {ex.Message}");
        return ex.Problem;
    }

    [Fact]
    public void Reads_what_the_test_writer_writes_with_the_empty_float64_weight_names()
    {
        var set = KerasH5WeightReader.Read(Tiny(), "tiny.h5");
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], set.Take("dense", "kernel", 2, 3));
        Assert.Equal(1, set.Count);
    }

    [Fact]
    public void Every_prefix_of_a_file_is_refused()
    {
        byte[] bytes = Tiny();
        for (int length = 0; length < bytes.Length; length++)
        {
            Refused(bytes[..length]);
        }

        Assert.Contains("the file is truncated: the superblock declares", Refused(bytes[..^1]), StringComparison.Ordinal);
    }

    [Fact]
    public void Root_group_address_past_the_end_is_refused()
    {
        byte[] bytes = Tiny();
        Assert.Equal(3, bytes[8]); // superblock version 3: the root object header address is at 0x24
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(0x24), bytes.Length + 0x100);
        Reseal(bytes);
        Assert.Equal($"object header at 0x{bytes.Length + 0x100:x} lies beyond the end of the file ({bytes.Length:N0} bytes).", Refused(bytes));
    }

    [Fact]
    public void Dataset_values_past_the_end_are_refused()
    {
        // 20 000 values are too many for compact storage: PureHDF writes them contiguously (layout version 4, class 1).
        byte[] bytes = Tiny(new KerasH5Writer.Tensor("dense", "kernel", [100, 200], new float[20_000]));
        var size = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(size, 80_000);
        int at = bytes.AsSpan().IndexOf(size) - 8;
        Assert.True(at > 2 && bytes[at - 2] == 4 && bytes[at - 1] == 1, "contiguous layout message not found");
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), bytes.Length - 100);
        Reseal(bytes);
        Assert.Contains("the 80,000 bytes of values at 0x", Refused(bytes), StringComparison.Ordinal);
        Assert.Contains("run past the end of the file", Refused(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void Huge_object_header_chunk_is_refused_before_allocating()
    {
        byte[] bytes = Tiny();
        int root = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x24));
        Assert.True(bytes.AsSpan(root, 4).SequenceEqual("OHDR"u8) && (bytes[root + 5] & 0x33) == 0x03, "expected a version 2 header with an 8-byte chunk size");
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(root + 6), 1L << 40);
        Assert.Equal($"object header at 0x{root:x}: chunk 0 declares 1,099,511,627,776 bytes and runs past the end of the file.", Refused(bytes));
    }

    [Fact]
    public void Message_larger_than_its_header_is_refused()
    {
        byte[] bytes = Tiny();

        // The first message of the root header (version 2, no times, 8-byte chunk size): type, 2-byte size, flags.
        int root = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x24));
        int first = root + 6 + 8;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(first + 1), 0xFFFF);
        Reseal(bytes);
        Assert.Matches(@"^object header at 0x[0-9a-f]+: .* message at 0x[0-9a-f]+ declares 65,535 bytes but only \d+ remain in the header\.$", Refused(bytes));
    }

    [Fact]
    public void Huge_global_heap_collection_is_refused_before_allocating()
    {
        byte[] bytes = Tiny();
        int heap = bytes.AsSpan().IndexOf("GCOL"u8);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(heap + 8), long.MaxValue);
        Assert.Contains($"global heap collection at 0x{heap:x}", Refused(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void Link_that_leads_back_to_its_own_group_is_a_cycle()
    {
        // root --"dense"--> layer group L --"dense"--> inner group --"kernel:0"--> dataset. Point L's link at L itself,
        // so the weight path "dense/kernel:0" from L comes back to L.
        byte[] bytes = Tiny();
        int root = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x24));
        var links = new List<int>();
        for (int at = bytes.AsSpan().IndexOf("\u0005\0\0\0dense"u8); at >= 0; at = Next(bytes, "\u0005\0\0\0dense"u8, at + 1))
        {
            links.Add(at + 9); // the target address follows the 4-byte name length and the name
        }

        Assert.Equal(2, links.Count);
        int rootLink = links.Single(at => at > root);
        int layerLink = links.Single(at => at < root);
        long layer = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(rootLink));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(layerLink), layer);
        Reseal(bytes);
        Assert.Equal($"path 'dense/kernel:0' leads back to the object at 0x{layer:x} (cycle in the group graph).", Refused(bytes));
    }

    [Fact]
    public void Symbol_table_btree_that_points_at_itself_is_a_cycle()
    {
        // The fixture (h5py layout): superblock version 0, the root symbol table entry caches the B-tree address at 0x50.
        byte[] bytes = File.ReadAllBytes(OpenFaceH5);
        Assert.Equal(0, bytes[8]);
        long btree = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x50));
        Assert.True(bytes.AsSpan((int)btree, 4).SequenceEqual("TREE"u8), "B-tree not found");

        // Node header (24 bytes), then key 0 (8 bytes), then child 0.
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)btree + 32), btree);
        Assert.Contains($"symbol table node at 0x{btree:x} is reached twice (cyclic B-tree).", Refused(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void Continuation_block_that_continues_into_itself_is_a_cycle()
    {
        // The fixture's root header (version 1, at 0x60) holds one message, a continuation; make it point at itself.
        byte[] bytes = File.ReadAllBytes(OpenFaceH5);
        Assert.Equal(0x10, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(0x70)));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(0x78), 0x70);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(0x80), 0x18);
        Assert.Equal("object header at 0x60: continuation block at 0x70 is visited twice (cyclic continuation).", Refused(bytes));
    }

    [Fact]
    public void Huge_local_heap_is_refused_before_allocating()
    {
        byte[] bytes = File.ReadAllBytes(OpenFaceH5);
        long heap = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x58));
        Assert.True(bytes.AsSpan((int)heap, 4).SequenceEqual("HEAP"u8), "local heap not found");
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)heap + 8), 1L << 40);
        Assert.Matches($"^group at 0x60: local heap at 0x{heap:x}: data segment: 1,099,511,627,776 bytes at 0x[0-9a-f]+ run past the end of the file", Refused(bytes));
    }

    [Fact]
    public void Non_float32_tensors_are_refused_by_type()
    {
        string path = Path.Combine(_dir, "double.h5");
        new PureHDF.H5File
        {
            Attributes = new() { ["layer_names"] = new[] { "dense" } },
            ["dense"] = new PureHDF.H5Group
            {
                Attributes = new() { ["weight_names"] = new[] { "dense/kernel:0" } },
                ["dense"] = new PureHDF.H5Group { ["kernel:0"] = new PureHDF.H5Dataset(new double[] { 1, 2 }) },
            },
        }.Write(path);
        Assert.Equal("weight 'dense/dense/kernel:0' is float of 8 bytes; only float32 little-endian tensors are supported.", Refused(File.ReadAllBytes(path)));
    }

    [Fact]
    public void Weight_names_of_numbers_are_refused()
    {
        string path = Path.Combine(_dir, "numbers.h5");
        new PureHDF.H5File
        {
            Attributes = new() { ["layer_names"] = new[] { "dense" } },
            ["dense"] = new PureHDF.H5Group { Attributes = new() { ["weight_names"] = new[] { 1.0, 2.0 } } },
        }.Write(path);
        Assert.Equal("attribute 'weight_names' of layer 'dense' holds 2 values of type float of 8 bytes, expected strings.", Refused(File.ReadAllBytes(path)));
    }

    [Fact]
    public void Name_lists_that_keras_split_into_numbered_attributes_are_joined()
    {
        string path = Path.Combine(_dir, "split.h5");
        static PureHDF.H5Group Layer(string name, float value) => new()
        {
            Attributes = new() { ["weight_names"] = new[] { $"{name}/bias:0" } },
            [name] = new PureHDF.H5Group { ["bias:0"] = new PureHDF.H5Dataset(new[] { value }, fileDims: [1]) },
        };
        new PureHDF.H5File
        {
            Attributes = new() { ["layer_names0"] = new[] { "a", "b" }, ["layer_names1"] = new[] { "c" } },
            ["a"] = Layer("a", 1),
            ["b"] = Layer("b", 2),
            ["c"] = Layer("c", 3),
        }.Write(path);
        var set = KerasH5WeightReader.Read(path);
        Assert.Equal(["a/bias", "b/bias", "c/bias"], set.Tensors.Select(t => $"{t.Layer}/{t.Name}"));
        Assert.Equal([3f], set.Take("c", "bias", 1));
    }

    [Fact]
    public void Checksum_is_lookup3_and_damage_to_a_version_2_header_is_caught()
    {
        // Values published with lookup3.c (hashlittle, initial value 0).
        Assert.Equal(0xdeadbeefu, Hdf5Checksum.Lookup3([]));
        Assert.Equal(0x17770551u, Hdf5Checksum.Lookup3("Four score and seven years ago"u8));

        byte[] bytes = Tiny();
        int root = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(0x24));
        bytes[root + 6 + 8 + 4] ^= 0x01; // a byte of the first message's data
        Assert.Matches($"^object header at 0x{root:x}: checksum mismatch \\(stored 0x[0-9a-f]{{8}}, computed 0x[0-9a-f]{{8}}\\); the file is damaged\\.$", Refused(bytes));
    }

    // Recomputes the checksums PureHDF wrote (superblock version 3, every OHDR header) after a test changed a field, so
    // the reader sees the changed field rather than a damaged header.
    private static void Reseal(byte[] bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(44), Hdf5Checksum.Lookup3(bytes.AsSpan(0, 44)));
        for (int at = Next(bytes, "OHDR"u8, 0); at >= 0; at = Next(bytes, "OHDR"u8, at + 1))
        {
            int flags = bytes[at + 5];
            int prefix = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0);
            var field = bytes.AsSpan(at + prefix);
            long size = (flags & 0x03) switch
            {
                0 => field[0],
                1 => BinaryPrimitives.ReadUInt16LittleEndian(field),
                2 => BinaryPrimitives.ReadUInt32LittleEndian(field),
                _ => BinaryPrimitives.ReadInt64LittleEndian(field),
            };
            int end = at + prefix + (1 << (flags & 0x03)) + (int)size;
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(end), Hdf5Checksum.Lookup3(bytes.AsSpan(at, end - at)));
        }
    }

    private static int Next(byte[] bytes, ReadOnlySpan<byte> value, int from)
    {
        int next = bytes.AsSpan(from).IndexOf(value);
        return next < 0 ? -1 : from + next;
    }
}
