using System.Buffers.Binary;

namespace InceptionNet.Weights.Hdf5;

/// <summary>Object headers (versions 1 and 2) and their continuation blocks.</summary>
internal sealed partial class Hdf5File
{
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

        byte[] prefix = ReadBlock(address, Math.Min(16, Length - address), where);
        var messages = new List<Hdf5Message>();
        var continuations = new ContinuationQueue();
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
            int prefixSize = c.Position;
            long chunkStart = address + prefixSize;
            if (size > Length - chunkStart - 4)
            {
                throw Error($"{where}: chunk 0 declares {size:N0} bytes and runs past the end of the file.");
            }

            // The prefix and chunk 0 are followed by their checksum.
            byte[] header = ReadBlock(address, prefixSize + size + 4, where);
            VerifyChecksum(header.AsSpan(0, header.Length - 4), BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(header.Length - 4)), where);
            ParseMessages(header.AsMemory(prefixSize, (int)size), chunkStart, where, version, trackOrder, messages, continuations);
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

            VerifyChecksum(data.AsSpan(0, data.Length - 4), BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(data.Length - 4)), blockWhere);
            ParseMessages(data.AsMemory(4, data.Length - 8), block.Offset + 4, blockWhere, version, trackOrder, messages, continuations);
        }

        _headers[address] = messages;
        return messages;
    }

    private void ParseMessages(ReadOnlyMemory<byte> chunk, long chunkOffset, string where, int version, bool trackOrder, List<Hdf5Message> messages, ContinuationQueue continuations)
    {
        var c = new Hdf5Cursor(chunk.Span, chunkOffset, Name, where);
        if (version == 2)
        {
            // The caller passes the messages without the chunk's checksum; a chunk may end in a gap smaller than a
            // message header.
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
            var message = new Hdf5Message(type, flags, dataOffset, chunk.Slice(start, size));
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

                continuations.Enqueue(new Continuation(offset, length));
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

    // A continuation block of an object header still to parse.
    private readonly record struct Continuation(long Offset, long Length);

    // First in, first out, over an array: a Queue<T> of a struct would be compiled at run time by a JIT build's cold load.
    private sealed class ContinuationQueue
    {
        private Continuation[] _items = new Continuation[4];
        private int _head;

        public int Count { get; private set; }

        public void Enqueue(Continuation item)
        {
            if (_head + Count == _items.Length)
            {
                var grown = new Continuation[Math.Max(4, 2 * Count)];
                Array.Copy(_items, _head, grown, 0, Count);
                (_items, _head) = (grown, 0);
            }

            _items[_head + Count++] = item;
        }

        public bool TryDequeue(out Continuation item)
        {
            if (Count == 0)
            {
                item = default;
                return false;
            }

            item = _items[_head++];
            Count--;
            return true;
        }
    }
}
