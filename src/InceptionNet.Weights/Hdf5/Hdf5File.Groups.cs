namespace InceptionNet.Weights.Hdf5;

/// <summary>Groups: symbol tables (version 1 B-tree and local heap) and compact link messages; path lookup.</summary>
internal sealed partial class Hdf5File
{
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
}
