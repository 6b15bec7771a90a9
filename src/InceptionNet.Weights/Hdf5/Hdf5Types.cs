namespace InceptionNet.Weights.Hdf5;

/// <summary>One object header message: its type, flags, and its data as it lies at <paramref name="Offset"/> in the file.</summary>
internal sealed record Hdf5Message(int Type, int Flags, long Offset, ReadOnlyMemory<byte> Data)
{
    public const int Nil = 0x00;
    public const int Dataspace = 0x01;
    public const int LinkInfo = 0x02;
    public const int Datatype = 0x03;
    public const int Link = 0x06;
    public const int ExternalFiles = 0x07;
    public const int Layout = 0x08;
    public const int FilterPipeline = 0x0B;
    public const int Attribute = 0x0C;
    public const int AttributeInfo = 0x0F;
    public const int Continuation = 0x10;
    public const int SymbolTable = 0x11;

    // Message flag bit 1: the data is a reference to a message shared with other objects (a committed datatype or a
    // shared-message heap entry), which h5py does not write for Keras files.
    public bool IsShared => (Flags & 0x02) != 0;
}

/// <summary>A dataspace: the dimensions, or a null dataspace (no elements at all). A scalar has no dimensions and one element.</summary>
internal sealed record Hdf5Dataspace(ulong[] Dimensions, bool IsNull)
{
    /// <summary>Number of elements, saturating at <see cref="ulong.MaxValue"/> instead of overflowing.</summary>
    public ulong ElementCount
    {
        get
        {
            if (IsNull)
            {
                return 0;
            }

            ulong count = 1;
            foreach (ulong d in Dimensions)
            {
                if (d == 0)
                {
                    return 0;
                }

                count = count > ulong.MaxValue / d ? ulong.MaxValue : count * d;
            }

            return count;
        }
    }

    public string Text => IsNull ? "null" : "(" + string.Join(", ", Dimensions) + ")";
}

/// <summary>A datatype, decoded as far as this reader uses it.</summary>
internal sealed record Hdf5Datatype(int Class, int BitField, uint Size, Hdf5Datatype? Base, bool IsIeeeFloat)
{
    public const int FixedPoint = 0;
    public const int FloatingPoint = 1;
    public const int String = 3;
    public const int VariableLength = 9;

    public bool IsBigEndian => Class is FixedPoint or FloatingPoint && (BitField & 0x01) != 0;

    /// <summary>IEEE 754 binary32, little-endian: the only tensor type accepted.</summary>
    public bool IsFloat32LittleEndian => Class == FloatingPoint && Size == 4 && IsIeeeFloat && (BitField & 0x41) == 0;

    /// <summary>A fixed-length string, or a variable-length string (variable-length type 1).</summary>
    public bool IsString => Class == String || (Class == VariableLength && (BitField & 0x0F) == 1);

    public string Text => Class switch
    {
        FixedPoint => $"{((BitField & 0x08) != 0 ? "signed" : "unsigned")} integer of {Size} bytes{(IsBigEndian ? " (big-endian)" : string.Empty)}",
        FloatingPoint => $"float of {Size} bytes{(IsBigEndian ? " (big-endian)" : (BitField & 0x40) != 0 ? " (VAX order)" : string.Empty)}{(IsIeeeFloat ? string.Empty : " (not IEEE)")}",
        String => $"fixed-length string of {Size} bytes",
        VariableLength => (BitField & 0x0F) == 1 ? "variable-length string" : "variable-length sequence",
        _ => $"datatype class {Class} ({ClassName(Class)})",
    };

    private static string ClassName(int c) => c switch
    {
        2 => "time",
        4 => "bit field",
        5 => "opaque",
        6 => "compound",
        7 => "reference",
        8 => "enumeration",
        10 => "array",
        11 => "complex",
        _ => "unknown",
    };
}

/// <summary>An attribute of an object: name, type, space, and its raw data at <paramref name="DataOffset"/>.</summary>
internal sealed record Hdf5Attribute(string Name, Hdf5Datatype Type, Hdf5Dataspace Space, ReadOnlyMemory<byte> Data, long DataOffset);

/// <summary>A float32 dataset's shape and where its values lie (contiguous in the file, or compact in its header).</summary>
internal sealed record Hdf5Dataset(long Address, Hdf5Dataspace Space, long DataOffset, ReadOnlyMemory<byte> CompactData);
