namespace InceptionNet.Weights.Hdf5;

/// <summary>Compact attributes; fixed-length strings and variable-length strings in global heap collections.</summary>
internal sealed partial class Hdf5File
{
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

        // The count is bounded by the attribute message (at most 64 KB); each string costs a reference and an object
        // header besides its characters, charged before the array exists.
        const int PerString = 32;
        Charge((long)count * PerString, where);
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
}
