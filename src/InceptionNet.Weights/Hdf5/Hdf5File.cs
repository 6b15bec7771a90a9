using System.Text;

namespace InceptionNet.Weights.Hdf5;

/// <summary>
/// A strict reader of the HDF5 subset that h5py writes for Keras weights (and that PureHDF writes for our tests):
/// superblock versions 0–3 with 8-byte offsets and lengths; object headers versions 1 and 2 with continuation blocks;
/// groups as symbol tables (version 1 B-tree + local heap) or as compact link messages; compact attributes of
/// fixed- or variable-length strings (global heap) or numbers; float32 little-endian datasets stored contiguously or
/// compactly. Everything else — chunked, compressed, virtual or external storage, dense link or attribute storage,
/// shared messages, other float formats — is refused with a message saying what and where.
/// </summary>
/// <remarks>
/// Nothing is allocated or read before its size and offset are checked against the bytes of the file. Every read is
/// charged to a budget of a few times the file size, so a hostile file can make the reader neither read nor allocate
/// much more than itself; B-tree nodes, continuation blocks and path walks refuse to visit an address twice. The checksums
/// of version 2 structures (superblock, OHDR, OCHK) are verified; version 0/1 structures have none.
/// </remarks>
internal sealed partial class Hdf5File : IDisposable
{
    // Real Keras files reach depth 4 (model_weights/layer/layer/kernel:0); HDF5 itself allows 32 dimensions.
    private const int MaxPathComponents = 32;
    private const int MaxRank = 32;
    private const int MaxObjects = 1 << 16;
    private const int MaxBTreeLevel = 32;
    private const int MaxDatatypeNesting = 4;

    // Metadata blocks (object headers, heaps, B-tree nodes) of a Keras file are kilobytes; tensor values are not read
    // through ReadBlock. The cap keeps a lying size in a file over 2 GB from reaching an array allocation.
    private const long MaxMetadataBlock = 64L << 20;

    private static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Hdf5ByteSource _source;
    private readonly Dictionary<long, List<Hdf5Message>> _headers = [];
    private readonly Dictionary<long, Dictionary<string, long>> _groups = [];
    private readonly Dictionary<long, Dictionary<string, Hdf5Attribute>> _attributes = [];
    private readonly Dictionary<long, GlobalHeap> _globalHeaps = [];
    private readonly long _budget;
    private long _charged;

    private Hdf5File(Hdf5ByteSource source, string name)
    {
        _source = source;
        Name = name;
        Length = source.Length;

        // A Keras file is read about once (each dataset once, plus small metadata); four times the file plus 4 MB leaves
        // room for sharing and small files while keeping a 64 KB hostile file under 5 MB of reads and allocations.
        _budget = 4 * Length + (4 << 20);
    }

    /// <summary>The name used in messages.</summary>
    public string Name { get; }

    /// <summary>Bytes in the file.</summary>
    public long Length { get; }

    /// <summary>Address of the root group's object header.</summary>
    public long Root { get; private set; }

    /// <summary>Reads the superblock of <paramref name="source"/>; takes ownership of it.</summary>
    public static Hdf5File Open(Hdf5ByteSource source, string name)
    {
        var file = new Hdf5File(source, name);
        try
        {
            file.ReadSuperblock();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => _source.Dispose();

    public InvalidWeightsException Error(string problem) => new(Name, problem);

    // ---- superblock ----

    private void ReadSuperblock()
    {
        if (Length == 0)
        {
            throw Error("the file is empty (0 bytes).");
        }

        byte[] head = ReadBlock(0, Math.Min(Length, 96), "superblock", mustFit: false);
        if (head.Length < 8 || !head.AsSpan(0, 8).SequenceEqual(Signature))
        {
            throw Error("not an HDF5 file (no HDF5 signature at offset 0).");
        }

        var c = new Hdf5Cursor(head, 0, Name, "superblock at 0x0");
        c.Skip(8, "signature");
        int version = c.U8("version");
        int offsetSize, lengthSize;
        long baseAddress, endOfFile, root;
        switch (version)
        {
            case 0 or 1:
                c.Skip(4, "free-space, root group and shared header versions");
                offsetSize = c.U8("size of offsets");
                lengthSize = c.U8("size of lengths");
                CheckSizes(offsetSize, lengthSize);
                c.Skip(1 + 2 + 2 + 4, "group B-tree K values and consistency flags");
                if (version == 1)
                {
                    c.Skip(4, "indexed storage B-tree K");
                }

                baseAddress = c.Address("base address");
                c.Address("free-space address");
                endOfFile = c.Address("end-of-file address");
                c.Address("driver information address");
                c.Skip(8, "root link name offset");
                root = c.Address("root object header address");
                break;
            case 2 or 3:
                offsetSize = c.U8("size of offsets");
                lengthSize = c.U8("size of lengths");
                CheckSizes(offsetSize, lengthSize);
                c.Skip(1, "consistency flags");
                baseAddress = c.Address("base address");
                c.Address("superblock extension address");
                endOfFile = c.Address("end-of-file address");
                root = c.Address("root object header address");
                VerifyChecksum(head.AsSpan(0, c.Position), c.U32("checksum"), "superblock at 0x0");
                break;
            default:
                throw Error($"superblock version {version} is not supported (0 to 3 are).");
        }

        if (baseAddress != 0)
        {
            throw Error($"the superblock's base address is 0x{baseAddress:x}; only files whose addresses start at the superblock (base 0) are supported.");
        }

        if (endOfFile > Length)
        {
            throw Error($"the file is truncated: the superblock declares {endOfFile:N0} bytes, the file has {Length:N0}.");
        }

        Root = root >= 0 ? root : throw Error("the superblock has no root group address.");

        void CheckSizes(int offsets, int lengths)
        {
            if (offsets != 8 || lengths != 8)
            {
                throw Error($"the superblock declares {offsets}-byte offsets and {lengths}-byte lengths; only 8 and 8 (what h5py writes) are supported.");
            }
        }
    }

    // ---- raw reads, all checked and charged ----

    /// <summary>
    /// Reads <paramref name="length"/> bytes at <paramref name="offset"/> after checking they lie inside the file (or, when
    /// <paramref name="mustFit"/> is false, returns what there is) and charging them to the budget.
    /// </summary>
    private byte[] ReadBlock(long offset, long length, string what, bool mustFit = true)
    {
        if (offset < 0 || offset > Length)
        {
            throw Error($"{what}: offset 0x{offset:x} lies beyond the end of the file ({Length:N0} bytes).");
        }

        if (length < 0 || length > Length - offset)
        {
            if (mustFit)
            {
                throw Error($"{what}: {length:N0} bytes at 0x{offset:x} run past the end of the file ({Length:N0} bytes).");
            }

            length = Length - offset;
        }

        if (length > MaxMetadataBlock)
        {
            throw Error($"{what}: {length:N0} bytes at 0x{offset:x}, more than the {MaxMetadataBlock:N0} bytes a metadata block may have here.");
        }

        Charge(length, what);
        var block = new byte[length];
        if (!_source.TryRead(offset, block))
        {
            throw Error($"{what} at 0x{offset:x}: the file ended while reading it (changed on disk?).");
        }

        return block;
    }

    /// <summary>Counts bytes read or allocated for the file; fails once they exceed the budget.</summary>
    private void Charge(long bytes, string what)
    {
        // Atomic: a weight set hashes the tensors on a second thread while the model reads them (WeightSet.Digest).
        if (Interlocked.Add(ref _charged, Math.Max(bytes, 16)) > _budget)
        {
            throw Error($"reading {what} exceeds the reading budget of {_budget:N0} bytes for a {Length:N0}-byte file (shared or cyclic structures?).");
        }
    }

    /// <summary>Fails unless <paramref name="covered"/> hashes to <paramref name="stored"/> (version 2 structures).</summary>
    private void VerifyChecksum(ReadOnlySpan<byte> covered, uint stored, string where)
    {
        uint actual = Hdf5Checksum.Lookup3(covered);
        if (actual != stored)
        {
            throw Error($"{where}: checksum mismatch (stored 0x{stored:x8}, computed 0x{actual:x8}); the file is damaged.");
        }
    }

    private string DecodeName(ReadOnlySpan<byte> bytes, string where)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error($"{where}: a name or string is not valid UTF-8.");
        }
    }
}
