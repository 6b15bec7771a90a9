using System.Buffers.Binary;

namespace InceptionNet.Weights.Hdf5;

/// <summary>
/// Reads little-endian fields from one structure of the file (a message, a heap, a B-tree node) and fails, naming the
/// structure and the field, as soon as a field would run past the structure's end.
/// </summary>
internal ref struct Hdf5Cursor
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly long _fileOffset;
    private readonly string _source;
    private readonly string _where;

    /// <summary>Starts at the beginning of <paramref name="data"/>, which lies at <paramref name="fileOffset"/> in the file.</summary>
    public Hdf5Cursor(ReadOnlySpan<byte> data, long fileOffset, string source, string where)
    {
        _data = data;
        _fileOffset = fileOffset;
        _source = source;
        _where = where;
    }

    /// <summary>Offset of the next field inside the structure.</summary>
    public int Position { get; set; }

    /// <summary>Bytes left in the structure.</summary>
    public readonly int Remaining => _data.Length - Position;

    /// <summary>File offset of the next field.</summary>
    public readonly long FileOffset => _fileOffset + Position;

    public byte U8(string field) => Bytes(1, field)[0];

    public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2, field));

    public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4, field));

    public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8, field));

    /// <summary>An unsigned value stored in 1, 2, 4 or 8 bytes.</summary>
    public ulong Sized(int size, string field) => size switch
    {
        1 => U8(field),
        2 => U16(field),
        4 => U32(field),
        8 => U64(field),
        _ => throw Error($"{field} has an invalid width of {size} bytes"),
    };

    /// <summary>An 8-byte file address; -1 for the undefined address (all bits set).</summary>
    public long Address(string field)
    {
        long at = FileOffset;
        ulong value = U64(field);
        if (value == ulong.MaxValue)
        {
            return -1;
        }

        return value <= long.MaxValue ? (long)value : throw Error($"{field} at 0x{at:x} is 0x{value:x}, beyond any file");
    }

    /// <summary>The next <paramref name="count"/> bytes; fails when the structure holds fewer.</summary>
    public ReadOnlySpan<byte> Bytes(long count, string field)
    {
        if (count < 0 || count > Remaining)
        {
            throw Error($"{field} at 0x{FileOffset:x} needs {count:N0} bytes but only {Remaining:N0} remain");
        }

        var span = _data.Slice(Position, (int)count);
        Position += (int)count;
        return span;
    }

    public void Skip(long count, string field) => Bytes(count, field);

    /// <summary>A failure naming the structure; the caller throws it.</summary>
    public readonly InvalidWeightsException Error(string problem) => new(_source, $"{_where}: {problem}.");
}
