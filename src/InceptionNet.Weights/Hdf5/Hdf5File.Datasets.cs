using System.Runtime.InteropServices;

namespace InceptionNet.Weights.Hdf5;

/// <summary>Datatypes, dataspaces and float32 datasets (contiguous or compact).</summary>
internal sealed partial class Hdf5File
{
    private Hdf5Datatype ReadDatatype(ReadOnlySpan<byte> bytes, long offset, string where)
    {
        var c = new Hdf5Cursor(bytes, offset, Name, where);
        return ReadDatatype(ref c, 0);
    }

    private static bool AnyAbove(ulong[] values, ulong limit)
    {
        foreach (ulong value in values)
        {
            if (value > limit)
            {
                return true;
            }
        }

        return false;
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
                    // Field by field rather than as one 8-tuple pattern, which built a tuple compiled at run time.
                    bool ieee = bitOffset == 0 && mantissaLocation == 0
                        && ((size == 4 && precision == 32 && exponentLocation == 23 && exponentSize == 8 && mantissaSize == 23 && bias == 127)
                            || (size == 8 && precision == 64 && exponentLocation == 52 && exponentSize == 11 && mantissaSize == 52 && bias == 1023));
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

        if (AnyAbove(space.Dimensions, int.MaxValue) || space.ElementCount > (ulong)maxValues || space.ElementCount > (ulong)Length / 4)
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
        var values = new float[(int)dataset.Space.ElementCount];
        ReadFloat32(dataset, where, values);
        return values;
    }

    /// <summary>The values of <paramref name="dataset"/> into <paramref name="destination"/> (exactly its element count long).</summary>
    public void ReadFloat32(Hdf5Dataset dataset, string where, Span<float> destination)
    {
        int count = (int)dataset.Space.ElementCount;
        if (destination.Length != count)
        {
            throw new ArgumentException($"{where}: {count} values, destination holds {destination.Length}.", nameof(destination));
        }

        Charge(4L * count, where);
        var target = MemoryMarshal.AsBytes(destination);
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
            var ints = MemoryMarshal.Cast<float, int>(destination);
            System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(ints, ints);
        }
    }
}
