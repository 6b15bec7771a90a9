using System.Runtime.InteropServices;
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
/// much more than itself; B-tree nodes, continuation blocks and path walks refuse to visit an address twice. Checksums
/// of version 2 structures are not verified: the reader does not trust what it reads either way.
/// </remarks>
internal sealed class Hdf5File : IDisposable
{
    // Real Keras files reach depth 4 (model_weights/layer/layer/kernel:0); HDF5 itself allows 32 dimensions.
    private const int MaxPathComponents = 32;
    private const int MaxRank = 32;
    private const int MaxObjects = 1 << 16;
    private const int MaxBTreeLevel = 32;
    private const int MaxDatatypeNesting = 4;

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
        _charged += Math.Max(bytes, 16);
        if (_charged > _budget)
        {
            throw Error($"reading {what} exceeds the reading budget of {_budget:N0} bytes for a {Length:N0}-byte file (shared or cyclic structures?).");
        }
    }

    // ---- object headers ----

    /// <summary>The messages of the object header at <paramref name="address"/>, continuation blocks included.</summary>
    public IReadOnlyList<Hdf5Message> Messages(long address)
    {
        if (_headers.TryGetValue(address, out var cached))
        {
            return cached;
        }

        if (_headers.Count >= MaxObjects)
        {
            throw Error($"more than {MaxObjects:N0} objects are reachable; Keras files have a few thousand.");
        }

        string where = $"object header at 0x{address:x}";
        if (address < 0)
        {
            throw Error("a link points at the undefined address.");
        }

        if (address >= Length)
        {
            throw Error($"{where} lies beyond the end of the file ({Length:N0} bytes).");
        }

        byte[] prefix = ReadBlock(address, Math.Min(16, Length - Math.Clamp(address, 0, Length)), where);
        var messages = new List<Hdf5Message>();
        var continuations = new Queue<(long Offset, long Length)>();
        int version;
        bool trackOrder = false;
        if (prefix.Length >= 4 && prefix.AsSpan(0, 4).SequenceEqual("OHDR"u8))
        {
            version = 2;
            byte[] start = ReadBlock(address, Math.Min(4 + 2 + 16 + 4 + 8, Length - address), where);
            var c = new Hdf5Cursor(start, address, Name, where);
            c.Skip(4, "signature");
            int v = c.U8("version");
            if (v != 2)
            {
                throw Error($"{where}: version {v} after the OHDR signature (2 expected).");
            }

            int flags = c.U8("flags");
            trackOrder = (flags & 0x04) != 0;
            if ((flags & 0x20) != 0)
            {
                c.Skip(16, "times");
            }

            if ((flags & 0x10) != 0)
            {
                c.Skip(4, "attribute storage thresholds");
            }

            long size = (long)c.Sized(1 << (flags & 0x03), "size of chunk 0");
            long chunkStart = address + c.Position;
            if (size > Length - chunkStart)
            {
                throw Error($"{where}: chunk 0 declares {size:N0} bytes and runs past the end of the file.");
            }

            ParseMessages(ReadBlock(chunkStart, size, where), chunkStart, where, version, trackOrder, messages, continuations);
        }
        else
        {
            var c = new Hdf5Cursor(prefix, address, Name, where);
            version = c.U8("version");
            if (version != 1)
            {
                throw Error($"{where}: neither a version 1 header nor an OHDR signature (first byte {version}).");
            }

            c.Skip(1 + 2 + 4, "message count and reference count");
            long size = c.U32("header size");
            c.Skip(4, "alignment");
            long chunkStart = address + 16;
            if (size > Length - chunkStart)
            {
                throw Error($"{where}: the header declares {size:N0} bytes of messages and runs past the end of the file.");
            }

            ParseMessages(ReadBlock(chunkStart, size, where), chunkStart, where, version, trackOrder, messages, continuations);
        }

        var visited = new HashSet<long>();
        while (continuations.TryDequeue(out var block))
        {
            string blockWhere = $"{where}: continuation block at 0x{block.Offset:x}";
            if (!visited.Add(block.Offset) || block.Offset == address)
            {
                throw Error($"{blockWhere} is visited twice (cyclic continuation).");
            }

            byte[] data = ReadBlock(block.Offset, block.Length, blockWhere);
            if (version == 1)
            {
                ParseMessages(data, block.Offset, blockWhere, version, trackOrder, messages, continuations);
                continue;
            }

            // Version 2: "OCHK", the messages, a 4-byte checksum.
            if (data.Length < 8 || !data.AsSpan(0, 4).SequenceEqual("OCHK"u8))
            {
                throw Error($"{blockWhere} has no OCHK signature.");
            }

            ParseMessages(data[4..^4], block.Offset + 4, blockWhere, version, trackOrder, messages, continuations);
        }

        _headers[address] = messages;
        return messages;
    }

    private void ParseMessages(byte[] chunk, long chunkOffset, string where, int version, bool trackOrder, List<Hdf5Message> messages, Queue<(long, long)> continuations)
    {
        var c = new Hdf5Cursor(chunk, chunkOffset, Name, where);
        if (version == 2)
        {
            // Version 2 chunks end with a 4-byte checksum (chunk 0 is read without it) and may end in a gap smaller than
            // a message header.
            int headerSize = trackOrder ? 6 : 4;
            while (c.Remaining >= headerSize)
            {
                long at = c.FileOffset;
                int type = c.U8("message type");
                int size = c.U16("message size");
                int flags = c.U8("message flags");
                if (trackOrder)
                {
                    c.Skip(2, "creation order");
                }

                Add(ref c, at, type, size, flags);
            }
        }
        else
        {
            while (c.Remaining >= 8)
            {
                long at = c.FileOffset;
                int type = c.U16("message type");
                int size = c.U16("message size");
                int flags = c.U8("message flags");
                c.Skip(3, "reserved");
                Add(ref c, at, type, size, flags);
            }
        }

        void Add(ref Hdf5Cursor c, long at, int type, int size, int flags)
        {
            if (size > c.Remaining)
            {
                throw Error($"{where}: {MessageName(type)} message at 0x{at:x} declares {size:N0} bytes but only {c.Remaining:N0} remain in the header.");
            }

            long dataOffset = c.FileOffset;
            int start = c.Position;
            c.Skip(size, "message data");
            var message = new Hdf5Message(type, flags, dataOffset, chunk.AsMemory(start, size));
            if (type == Hdf5Message.Continuation)
            {
                var m = new Hdf5Cursor(message.Data.Span, dataOffset, Name, $"{where}: continuation message at 0x{at:x}");
                long offset = m.Address("continuation offset");
                long length = (long)m.U64("continuation length");
                if (offset < 0 || length > Length || offset > Length - length)
                {
                    throw Error($"{where}: continuation message at 0x{at:x} points at {length:N0} bytes at 0x{offset:x}, past the end of the file.");
                }

                if (continuations.Count > 1024)
                {
                    throw Error($"{where}: more than 1,024 continuation blocks.");
                }

                continuations.Enqueue((offset, length));
            }
            else if (type != Hdf5Message.Nil)
            {
                messages.Add(message);
            }
        }
    }

    private static string MessageName(int type) => type switch
    {
        Hdf5Message.Dataspace => "dataspace",
        Hdf5Message.LinkInfo => "link info",
        Hdf5Message.Datatype => "datatype",
        0x04 => "fill value (old)",
        0x05 => "fill value",
        Hdf5Message.Link => "link",
        Hdf5Message.ExternalFiles => "external files",
        Hdf5Message.Layout => "data layout",
        Hdf5Message.FilterPipeline => "filter pipeline",
        Hdf5Message.Attribute => "attribute",
        Hdf5Message.AttributeInfo => "attribute info",
        Hdf5Message.Continuation => "continuation",
        Hdf5Message.SymbolTable => "symbol table",
        _ => $"type {type}",
    };

    private Hdf5Message? Single(IReadOnlyList<Hdf5Message> messages, int type, long address)
    {
        Hdf5Message? found = null;
        foreach (var m in messages)
        {
            if (m.Type == type)
            {
                if (found is not null)
                {
                    throw Error($"object header at 0x{address:x} has two {MessageName(type)} messages.");
                }

                if (m.IsShared)
                {
                    throw Error($"object header at 0x{address:x}: the {MessageName(type)} message at 0x{m.Offset:x} is shared (committed types and shared messages are not supported).");
                }

                found = m;
            }
        }

        return found;
    }

    // ---- groups ----

    /// <summary>Whether the object at <paramref name="address"/> is a group (symbol table, links or link info).</summary>
    public bool IsGroup(long address) =>
        Messages(address).Any(m => m.Type is Hdf5Message.SymbolTable or Hdf5Message.Link or Hdf5Message.LinkInfo);

    /// <summary>The hard links of the group at <paramref name="address"/>: name → object header address.</summary>
    public IReadOnlyDictionary<string, long> Links(long address)
    {
        if (_groups.TryGetValue(address, out var cached))
        {
            return cached;
        }

        var messages = Messages(address);
        string where = $"group at 0x{address:x}";
        var links = new Dictionary<string, long>(StringComparer.Ordinal);
        if (Single(messages, Hdf5Message.SymbolTable, address) is { } table)
        {
            var c = new Hdf5Cursor(table.Data.Span, table.Offset, Name, $"{where}: symbol table message");
            long btree = c.Address("B-tree address");
            long heap = c.Address("local heap address");
            byte[] names = LocalHeap(heap, where);
            ReadBTree(btree, -1, names, links, where, new HashSet<long>());
        }
        else
        {
            if (Single(messages, Hdf5Message.LinkInfo, address) is { } info)
            {
                var c = new Hdf5Cursor(info.Data.Span, info.Offset, Name, $"{where}: link info message");
                c.Skip(1, "version");
                int flags = c.U8("flags");
                if ((flags & 0x01) != 0)
                {
                    c.Skip(8, "maximum creation index");
                }

                if (c.Address("fractal heap address") >= 0)
                {
                    throw Error($"{where} keeps its links in dense storage (a fractal heap); only compact links and symbol tables are supported.");
                }
            }

            foreach (var m in messages.Where(m => m.Type == Hdf5Message.Link))
            {
                var (name, target) = ReadLink(m, where);
                if (target >= 0 && !links.TryAdd(name, target))
                {
                    throw Error($"{where} has two links named '{name}'.");
                }
            }
        }

        _groups[address] = links;
        return links;
    }

    // A link message; soft and external links are returned with target -1 (not followed).
    private (string Name, long Target) ReadLink(Hdf5Message m, string where)
    {
        var c = new Hdf5Cursor(m.Data.Span, m.Offset, Name, $"{where}: link message at 0x{m.Offset:x}");
        int version = c.U8("version");
        if (version != 1)
        {
            throw c.Error($"version {version} (1 expected)");
        }

        int flags = c.U8("flags");
        int type = (flags & 0x08) != 0 ? c.U8("link type") : 0;
        if ((flags & 0x04) != 0)
        {
            c.Skip(8, "creation order");
        }

        if ((flags & 0x10) != 0)
        {
            c.Skip(1, "character set");
        }

        long nameLength = (long)Math.Min(c.Sized(1 << (flags & 0x03), "name length"), int.MaxValue);
        string name = DecodeName(c.Bytes(nameLength, "link name"), where);
        return type == 0 ? (name, c.Address("target address")) : (name, -1);
    }

    private byte[] LocalHeap(long address, string where)
    {
        string heapWhere = $"{where}: local heap at 0x{address:x}";
        var head = ReadBlock(address, 32, heapWhere);
        var c = new Hdf5Cursor(head, address, Name, heapWhere);
        if (!c.Bytes(4, "signature").SequenceEqual("HEAP"u8))
        {
            throw c.Error("no HEAP signature");
        }

        c.Skip(4, "version and reserved");
        long size = (long)Math.Min(c.U64("data segment size"), long.MaxValue);
        c.Skip(8, "free list offset");
        long data = c.Address("data segment address");
        return ReadBlock(data, size, $"{heapWhere}: data segment");
    }

    // Version 1 B-tree of a group: internal nodes point at nodes one level down, leaves at symbol table nodes (SNOD).
    private void ReadBTree(long address, int expectedLevel, byte[] names, Dictionary<string, long> links, string where, HashSet<long> visited)
    {
        string nodeWhere = $"{where}: B-tree node at 0x{address:x}";
        if (!visited.Add(address))
        {
            throw Error($"{nodeWhere} is reached twice (cyclic B-tree).");
        }

        var head = ReadBlock(address, 24, nodeWhere);
        var c = new Hdf5Cursor(head, address, Name, nodeWhere);
        if (!c.Bytes(4, "signature").SequenceEqual("TREE"u8))
        {
            throw c.Error("no TREE signature");
        }

        int type = c.U8("node type");
        int level = c.U8("node level");
        int entries = c.U16("entries used");
        if (type != 0)
        {
            throw c.Error($"node type {type}; group B-trees have type 0");
        }

        if (level > MaxBTreeLevel || (expectedLevel >= 0 && level != expectedLevel))
        {
            throw c.Error($"level {level}, expected {(expectedLevel >= 0 ? expectedLevel.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"at most {MaxBTreeLevel}")}");
        }

        // After the 24-byte header: key, child, key, child, …, key (8 bytes each).
        var body = ReadBlock(address + 24, (16L * entries) + 8, nodeWhere);
        var b = new Hdf5Cursor(body, address + 24, Name, nodeWhere);
        for (int i = 0; i < entries; i++)
        {
            b.Skip(8, "key");
            long child = b.Address("child address");
            if (level > 0)
            {
                ReadBTree(child, level - 1, names, links, where, visited);
            }
            else
            {
                ReadSymbolNode(child, names, links, where, visited);
            }
        }
    }

    private void ReadSymbolNode(long address, byte[] names, Dictionary<string, long> links, string where, HashSet<long> visited)
    {
        string nodeWhere = $"{where}: symbol table node at 0x{address:x}";
        if (!visited.Add(address))
        {
            throw Error($"{nodeWhere} is reached twice (cyclic B-tree).");
        }

        var head = ReadBlock(address, 8, nodeWhere);
        var c = new Hdf5Cursor(head, address, Name, nodeWhere);
        if (!c.Bytes(4, "signature").SequenceEqual("SNOD"u8))
        {
            throw c.Error("no SNOD signature");
        }

        c.Skip(2, "version and reserved");
        int count = c.U16("number of symbols");
        var body = ReadBlock(address + 8, 40L * count, nodeWhere);
        var b = new Hdf5Cursor(body, address + 8, Name, nodeWhere);
        for (int i = 0; i < count; i++)
        {
            ulong nameOffset = b.U64("link name offset");
            long target = b.Address("object header address");
            b.Skip(24, "cache type and scratch pad");
            if (nameOffset >= (ulong)names.Length)
            {
                throw b.Error($"symbol {i} names offset {nameOffset} of a {names.Length}-byte local heap");
            }

            var rest = names.AsSpan((int)nameOffset);
            int end = rest.IndexOf((byte)0);
            if (end < 0)
            {
                throw b.Error($"symbol {i}'s name at heap offset {nameOffset} has no terminating NUL");
            }

            string name = DecodeName(rest[..end], nodeWhere);
            if (!links.TryAdd(name, target))
            {
                throw Error($"{where} has two links named '{name}'.");
            }
        }
    }

    /// <summary>
    /// Follows <paramref name="path"/> ('/'-separated, relative) from the group at <paramref name="group"/>; the object's
    /// address, or -1 when a component is missing. A path that comes back to an object it passed is refused as a cycle.
    /// </summary>
    public long Find(long group, string path)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > MaxPathComponents)
        {
            throw Error($"path '{path}' has more than {MaxPathComponents} components.");
        }

        var passed = new HashSet<long> { group };
        long current = group;
        foreach (string part in parts)
        {
            Charge(16, $"path '{path}'");
            if (!IsGroup(current))
            {
                return -1;
            }

            if (!Links(current).TryGetValue(part, out long next))
            {
                return -1;
            }

            if (!passed.Add(next))
            {
                throw Error($"path '{path}' leads back to the object at 0x{next:x} (cycle in the group graph).");
            }

            current = next;
        }

        return current;
    }

    // ---- attributes ----

    /// <summary>The attribute <paramref name="name"/> of the object at <paramref name="address"/>, or null.</summary>
    public Hdf5Attribute? Attribute(long address, string name)
    {
        Charge(16, $"attribute '{name}'");
        if (!_attributes.TryGetValue(address, out var attributes))
        {
            attributes = ReadAttributes(address);
            _attributes[address] = attributes;
        }

        return attributes.GetValueOrDefault(name);
    }

    private Dictionary<string, Hdf5Attribute> ReadAttributes(long address)
    {
        var messages = Messages(address);
        if (Single(messages, Hdf5Message.AttributeInfo, address) is { } info)
        {
            var c = new Hdf5Cursor(info.Data.Span, info.Offset, Name, $"object header at 0x{address:x}: attribute info message");
            c.Skip(1, "version");
            int flags = c.U8("flags");
            if ((flags & 0x01) != 0)
            {
                c.Skip(2, "maximum creation index");
            }

            if (c.Address("fractal heap address") >= 0)
            {
                throw Error($"object header at 0x{address:x} keeps its attributes in dense storage (a fractal heap); only compact attributes are supported.");
            }
        }

        var attributes = new Dictionary<string, Hdf5Attribute>(StringComparer.Ordinal);
        foreach (var m in messages)
        {
            if (m.Type != Hdf5Message.Attribute)
            {
                continue;
            }

            var attribute = ReadAttribute(m, address);
            if (!attributes.TryAdd(attribute.Name, attribute))
            {
                throw Error($"object header at 0x{address:x} has two attributes named '{attribute.Name}'.");
            }
        }

        return attributes;
    }

    private Hdf5Attribute ReadAttribute(Hdf5Message m, long header)
    {
        string where = $"object header at 0x{header:x}: attribute message at 0x{m.Offset:x}";
        if (m.IsShared)
        {
            throw Error($"{where} is shared (not supported).");
        }

        var c = new Hdf5Cursor(m.Data.Span, m.Offset, Name, where);
        int version = c.U8("version");
        if (version is < 1 or > 3)
        {
            throw c.Error($"version {version} (1 to 3 expected)");
        }

        int flags = c.U8("flags");
        if (version >= 2 && (flags & 0x03) != 0)
        {
            throw c.Error("its datatype or dataspace is shared (not supported)");
        }

        int nameSize = c.U16("name size");
        int typeSize = c.U16("datatype size");
        int spaceSize = c.U16("dataspace size");
        if (version == 3)
        {
            c.Skip(1, "name encoding");
        }

        // Version 1 pads the name, datatype and dataspace to multiples of 8 bytes.
        int Padded(int size) => version == 1 ? (size + 7) & ~7 : size;
        var nameBytes = c.Bytes(Padded(nameSize), "name")[..nameSize];
        int nul = nameBytes.IndexOf((byte)0);
        string name = DecodeName(nul >= 0 ? nameBytes[..nul] : nameBytes, where);
        long typeOffset = c.FileOffset;
        var type = ReadDatatype(c.Bytes(Padded(typeSize), "datatype")[..typeSize], typeOffset, $"{where} ('{name}'): datatype");
        long spaceOffset = c.FileOffset;
        var space = ReadDataspace(c.Bytes(Padded(spaceSize), "dataspace")[..spaceSize], spaceOffset, $"{where} ('{name}'): dataspace");
        ulong count = space.ElementCount;
        long dataOffset = c.FileOffset;
        if (type.Size == 0 || count > (ulong)c.Remaining / type.Size)
        {
            throw c.Error($"'{name}' declares {space.Text} values of {type.Size} bytes but the message holds {c.Remaining:N0} bytes of data");
        }

        int start = c.Position;
        return new Hdf5Attribute(name, type, space, m.Data.Slice(start, (int)(count * type.Size)), dataOffset);
    }

    /// <summary>
    /// The strings of a string attribute. A numeric attribute with no elements (h5py's empty list, stored as an empty float64
    /// array) gives none; any other type is refused.
    /// </summary>
    public string[] Strings(Hdf5Attribute attribute, string where)
    {
        ulong count = attribute.Space.ElementCount;
        if (!attribute.Type.IsString)
        {
            return count == 0 ? [] : throw Error($"{where} holds {count:N0} values of type {attribute.Type.Text}, expected strings.");
        }

        var result = new string[count];
        var data = attribute.Data.Span;
        if (attribute.Type.Class == Hdf5Datatype.String)
        {
            int size = (int)attribute.Type.Size;
            bool spacePadded = (attribute.Type.BitField & 0x0F) == 2;
            Charge((long)count * size * 2, where);
            for (int i = 0; i < result.Length; i++)
            {
                var bytes = data.Slice(i * size, size);
                int nul = bytes.IndexOf((byte)0);
                string s = DecodeName(nul >= 0 ? bytes[..nul] : bytes, where);
                result[i] = spacePadded ? s.TrimEnd(' ') : s;
            }

            return result;
        }

        // Variable-length: each element is a 4-byte length and a global heap ID (collection address, object index).
        if (attribute.Type.Size != 16)
        {
            throw Error($"{where}: variable-length elements of {attribute.Type.Size} bytes (16 expected).");
        }

        for (int i = 0; i < result.Length; i++)
        {
            var c = new Hdf5Cursor(data.Slice(i * 16, 16), attribute.DataOffset + (i * 16L), Name, $"{where}: string {i}");
            uint length = c.U32("length");
            long collection = c.Address("global heap collection address");
            uint index = c.U32("global heap object index");
            if (length == 0)
            {
                result[i] = string.Empty;
                continue;
            }

            var heapObject = GlobalHeapObject(collection, index, $"{where}: string {i}");
            if (length > heapObject.Length)
            {
                throw Error($"{where}: string {i} declares {length:N0} bytes but its global heap object at 0x{collection:x} #{index} holds {heapObject.Length:N0}.");
            }

            Charge(2L * length, where);
            result[i] = DecodeName(heapObject.Span[..(int)length], where).TrimEnd('\0');
        }

        return result;
    }

    private ReadOnlyMemory<byte> GlobalHeapObject(long collection, uint index, string where)
    {
        if (!_globalHeaps.TryGetValue(collection, out var heap))
        {
            heap = ReadGlobalHeap(collection, where);
            _globalHeaps[collection] = heap;
        }

        return index != 0 && heap.Objects.TryGetValue(index, out var range)
            ? heap.Data.AsMemory(range.Start, range.Length)
            : throw Error($"{where}: global heap collection at 0x{collection:x} has no object #{index}.");
    }

    private GlobalHeap ReadGlobalHeap(long address, string where)
    {
        string heapWhere = $"global heap collection at 0x{address:x} (for {where})";
        var head = ReadBlock(address, 16, heapWhere);
        var c = new Hdf5Cursor(head, address, Name, heapWhere);
        if (!c.Bytes(4, "signature").SequenceEqual("GCOL"u8))
        {
            throw c.Error("no GCOL signature");
        }

        c.Skip(4, "version and reserved");
        ulong size = c.U64("collection size");
        if (size < 16 || size > (ulong)(Length - address))
        {
            throw Error($"{heapWhere} declares {size:N0} bytes and runs past the end of the file ({Length:N0} bytes).");
        }

        var data = ReadBlock(address, (long)size, heapWhere);
        var objects = new Dictionary<uint, (int, int)>();
        var b = new Hdf5Cursor(data, address, Name, heapWhere) { Position = 16 };
        while (b.Remaining >= 16)
        {
            long at = b.FileOffset;
            uint index = b.U16("object index");
            b.Skip(6, "reference count and reserved");
            ulong objectSize = b.U64("object size");
            if (index == 0)
            {
                break; // free space to the end of the collection
            }

            if (objectSize > (ulong)b.Remaining)
            {
                throw Error($"{heapWhere}: object #{index} at 0x{at:x} declares {objectSize:N0} bytes but only {b.Remaining:N0} remain in the collection.");
            }

            if (!objects.TryAdd(index, (b.Position, (int)objectSize)))
            {
                throw Error($"{heapWhere}: object #{index} appears twice.");
            }

            b.Skip(Math.Min((long)((objectSize + 7) & ~7UL), b.Remaining), "object data");
        }

        return new GlobalHeap(data, objects);
    }

    private sealed record GlobalHeap(byte[] Data, Dictionary<uint, (int Start, int Length)> Objects);

    // ---- datatypes and dataspaces ----

    private Hdf5Datatype ReadDatatype(ReadOnlySpan<byte> bytes, long offset, string where)
    {
        var c = new Hdf5Cursor(bytes, offset, Name, where);
        return ReadDatatype(ref c, 0);
    }

    private static Hdf5Datatype ReadDatatype(ref Hdf5Cursor c, int depth)
    {
        if (depth > MaxDatatypeNesting)
        {
            throw c.Error($"datatypes nested more than {MaxDatatypeNesting} deep");
        }

        int classAndVersion = c.U8("class and version");
        int cls = classAndVersion & 0x0F;
        int bits = c.U8("bit field") | (c.U8("bit field") << 8) | (c.U8("bit field") << 16);
        uint size = c.U32("size");
        switch (cls)
        {
            case Hdf5Datatype.FixedPoint:
                c.Skip(4, "fixed-point properties");
                return new Hdf5Datatype(cls, bits, size, null, false);
            case Hdf5Datatype.FloatingPoint:
                {
                    int bitOffset = c.U16("bit offset");
                    int precision = c.U16("precision");
                    int exponentLocation = c.U8("exponent location");
                    int exponentSize = c.U8("exponent size");
                    int mantissaLocation = c.U8("mantissa location");
                    int mantissaSize = c.U8("mantissa size");
                    uint bias = c.U32("exponent bias");
                    bool ieee = (size, bitOffset, precision, exponentLocation, exponentSize, mantissaLocation, mantissaSize, bias) is
                        (4, 0, 32, 23, 8, 0, 23, 127) or (8, 0, 64, 52, 11, 0, 52, 1023);
                    return new Hdf5Datatype(cls, bits, size, null, ieee);
                }

            case Hdf5Datatype.String:
                return new Hdf5Datatype(cls, bits, size, null, false);
            case Hdf5Datatype.VariableLength:
                return new Hdf5Datatype(cls, bits, size, ReadDatatype(ref c, depth + 1), false);
            default:
                return new Hdf5Datatype(cls, bits, size, null, false);
        }
    }

    private Hdf5Dataspace ReadDataspace(ReadOnlySpan<byte> bytes, long offset, string where)
    {
        var c = new Hdf5Cursor(bytes, offset, Name, where);
        int version = c.U8("version");
        int rank = c.U8("rank");
        int flags = c.U8("flags");
        bool isNull = false;
        if (version == 1)
        {
            c.Skip(5, "reserved");
        }
        else if (version == 2)
        {
            int type = c.U8("type");
            if (type > 2)
            {
                throw c.Error($"dataspace type {type} (0 to 2 expected)");
            }

            isNull = type == 2;
        }
        else
        {
            throw c.Error($"version {version} (1 or 2 expected)");
        }

        if (rank > MaxRank)
        {
            throw c.Error($"rank {rank} (at most {MaxRank})");
        }

        var dims = new ulong[rank];
        for (int i = 0; i < rank; i++)
        {
            dims[i] = c.U64("dimension");
        }

        return new Hdf5Dataspace(dims, isNull);
    }

    // ---- datasets ----

    /// <summary>
    /// The float32 dataset at <paramref name="address"/>: its shape and where its values are, after checking the type is
    /// float32 little-endian, the storage is contiguous or compact and unfiltered, and the storage holds exactly the
    /// declared values inside the file. <paramref name="maxValues"/> bounds the element count before any of that.
    /// </summary>
    public Hdf5Dataset Dataset(long address, string where, long maxValues)
    {
        var messages = Messages(address);
        var spaceMessage = Single(messages, Hdf5Message.Dataspace, address) ?? throw Error($"{where} (object header at 0x{address:x}) is not a dataset: it has no dataspace.");
        var typeMessage = Single(messages, Hdf5Message.Datatype, address) ?? throw Error($"{where} (object header at 0x{address:x}) has no datatype.");
        var layoutMessage = Single(messages, Hdf5Message.Layout, address) ?? throw Error($"{where} (object header at 0x{address:x}) has no data layout.");
        var space = ReadDataspace(spaceMessage.Data.Span, spaceMessage.Offset, $"{where}: dataspace message at 0x{spaceMessage.Offset:x}");
        var type = ReadDatatype(typeMessage.Data.Span, typeMessage.Offset, $"{where}: datatype message at 0x{typeMessage.Offset:x}");
        if (space.IsNull)
        {
            throw Error($"{where} has a null dataspace (no shape); a tensor needs dimensions.");
        }

        if (space.Dimensions.Any(d => d > int.MaxValue) || space.ElementCount > (ulong)maxValues || space.ElementCount > (ulong)Length / 4)
        {
            throw Error($"{where} declares shape {space.Text}, larger than the file itself.");
        }

        if (!type.IsFloat32LittleEndian)
        {
            throw Error($"{where} is {type.Text}; only float32 little-endian tensors are supported.");
        }

        if (Single(messages, Hdf5Message.FilterPipeline, address) is not null)
        {
            throw Error($"{where} has a filter pipeline (compression); Keras weights are stored unfiltered.");
        }

        if (Single(messages, Hdf5Message.ExternalFiles, address) is not null)
        {
            throw Error($"{where} keeps its values in external files; only values inside the .h5 file are read.");
        }

        long bytes = (long)space.ElementCount * 4;
        var c = new Hdf5Cursor(layoutMessage.Data.Span, layoutMessage.Offset, Name, $"{where}: data layout message at 0x{layoutMessage.Offset:x}");
        int version = c.U8("version");
        if (version is not (3 or 4))
        {
            throw c.Error($"version {version}; only versions 3 and 4 (HDF5 1.8 and later) are supported");
        }

        int layoutClass = c.U8("layout class");
        switch (layoutClass)
        {
            case 0:
                {
                    int size = c.U16("compact data size");
                    int start = c.Position;
                    c.Skip(size, "compact data");
                    if (size != bytes)
                    {
                        throw c.Error($"compact storage of {size:N0} bytes for shape {space.Text} ({bytes:N0} bytes of float32)");
                    }

                    return new Hdf5Dataset(address, space, layoutMessage.Offset + start, layoutMessage.Data.Slice(start, size));
                }

            case 1:
                {
                    long dataAddress = c.Address("data address");
                    ulong size = c.U64("data size");
                    if (bytes == 0 && (dataAddress < 0 || size == 0))
                    {
                        return new Hdf5Dataset(address, space, 0, ReadOnlyMemory<byte>.Empty);
                    }

                    if (size != (ulong)bytes)
                    {
                        throw c.Error($"contiguous storage of {size:N0} bytes for shape {space.Text} ({bytes:N0} bytes of float32)");
                    }

                    if (dataAddress < 0 || dataAddress > Length - bytes)
                    {
                        throw c.Error($"the {bytes:N0} bytes of values at 0x{dataAddress:x} run past the end of the file ({Length:N0} bytes)");
                    }

                    return new Hdf5Dataset(address, space, dataAddress, ReadOnlyMemory<byte>.Empty);
                }

            case 2:
                throw Error($"{where} uses chunked storage; Keras weights are contiguous (chunked and compressed datasets are not supported).");
            case 3:
                throw Error($"{where} uses virtual storage; Keras weights are contiguous.");
            default:
                throw c.Error($"unknown layout class {layoutClass}");
        }
    }

    /// <summary>The values of <paramref name="dataset"/> (checked by <see cref="Dataset"/>).</summary>
    public float[] ReadFloat32(Hdf5Dataset dataset, string where)
    {
        int count = (int)dataset.Space.ElementCount;
        long bytes = 4L * count;
        Charge(bytes, where);
        var values = new float[count];
        var target = MemoryMarshal.AsBytes(values.AsSpan());
        if (!dataset.CompactData.IsEmpty)
        {
            dataset.CompactData.Span.CopyTo(target);
        }
        else if (count > 0 && !_source.TryRead(dataset.DataOffset, target))
        {
            throw Error($"{where}: the file ended while reading its values at 0x{dataset.DataOffset:x} (changed on disk?).");
        }

        if (!BitConverter.IsLittleEndian)
        {
            var ints = MemoryMarshal.Cast<float, int>(values.AsSpan());
            System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(ints, ints);
        }

        return values;
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
