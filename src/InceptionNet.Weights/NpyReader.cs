using System.Buffers.Binary;
using System.Text;

namespace InceptionNet.Weights;

/// <summary>
/// Reads numpy <c>.npy</c> files without executing anything: plain arrays (format 1/2/3 headers, float32/float64, either
/// byte order, C or Fortran order) and the pickled dictionaries of arrays that <c>np.save(dict)</c> writes, such as the
/// MTCNN det1/det2/det3.npy files. The pickle is interpreted by a small machine that knows only the opcodes those files
/// use and accepts only three globals (<c>numpy.core.multiarray._reconstruct</c>, <c>numpy.ndarray</c>,
/// <c>numpy.dtype</c>); anything else is refused with a clear error.
/// </summary>
public static class NpyReader
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>A numeric array: shape and values in C order.</summary>
    /// <param name="Shape">Dimensions.</param>
    /// <param name="Data">Values, row-major.</param>
    public sealed record NpyArray(int[] Shape, float[] Data);

    /// <summary>Reads a pickled {layer: {name: array}} file into a strict <see cref="WeightSet"/>.</summary>
    public static WeightSet ReadLayerDictionary(string path, Func<string, string>? renameWeight = null)
    {
        var (header, body) = ReadHeader(path);
        if (!header.Contains("'|O'", StringComparison.Ordinal))
        {
            throw new InvalidWeightsException(path, "holds a plain array, not a pickled dictionary of layers.");
        }

        object root;
        try
        {
            root = new PickleMachine(path, body).Run();
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException or InvalidCastException or InvalidOperationException)
        {
            throw new InvalidWeightsException(path, $"damaged pickle data ({ex.Message}).", ex);
        }

        var layers = root is PickleArray { Objects: [Dictionary<object, object> d] } ? d
            : root as Dictionary<object, object> ?? throw new InvalidWeightsException(path, "the pickled object is not a dictionary of layers.");
        var set = new WeightSet(path, "numpy pickled dict (.npy)");
        foreach (var (layerKey, value) in layers)
        {
            if (layerKey is not string layer || value is not Dictionary<object, object> weights)
            {
                throw new InvalidWeightsException(path, "a layer entry is not {name: {weight: array}}.");
            }

            foreach (var (nameKey, array) in weights)
            {
                if (nameKey is not string name || array is not PickleArray { Numeric: { } numeric })
                {
                    throw new InvalidWeightsException(path, $"layer '{layer}' holds something other than numeric arrays.");
                }

                set.Add(layer, renameWeight?.Invoke(name) ?? name, numeric.Shape, numeric.Data);
            }
        }

        return set;
    }

    /// <summary>Reads a plain numeric array.</summary>
    public static NpyArray ReadArray(string path)
    {
        var (header, body) = ReadHeader(path);
        string descr = HeaderValue(path, header, "descr");
        bool fortran = HeaderValue(path, header, "fortran_order") == "True";
        var shape = ParseShape(path, HeaderValue(path, header, "shape"));
        return Decode(path, descr, shape, fortran, body);
    }

    private static (string Header, byte[] Body) ReadHeader(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidWeightsException(path, Directory.Exists(path) ? "is a directory, expected a .npy file." : "file not found.");
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidWeightsException(path, "not a numpy .npy file (no \\x93NUMPY magic).");
        }

        int major = bytes[6];
        int headerLength, start;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            start = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
            {
                throw new InvalidWeightsException(path, "truncated header.");
            }

            headerLength = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)), int.MaxValue);
            start = 12;
        }
        else
        {
            throw new InvalidWeightsException(path, $"npy format version {major} is not supported (1, 2 and 3 are).");
        }

        if (start + headerLength > bytes.Length)
        {
            throw new InvalidWeightsException(path, "the header runs past the end of the file (truncated).");
        }

        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, start, headerLength);
        return (header, bytes[(start + headerLength)..]);
    }

    private static string HeaderValue(string path, string header, string key)
    {
        int at = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (at < 0)
        {
            throw new InvalidWeightsException(path, $"header has no '{key}'.");
        }

        int colon = header.IndexOf(':', at);
        int end = key == "shape" ? header.IndexOf(')', colon) + 1 : header.IndexOfAny([',', '}'], colon);
        return header[(colon + 1)..end].Trim().Trim('\'');
    }

    private static int[] ParseShape(string path, string text)
    {
        var parts = text.Trim('(', ')', ' ').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var shape = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], out shape[i]) || shape[i] < 0)
            {
                throw new InvalidWeightsException(path, $"bad shape {text}.");
            }
        }

        return shape;
    }

    internal static NpyArray Decode(string path, string descr, int[] shape, bool fortran, ReadOnlySpan<byte> raw)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        int size = descr[1..] switch { "f4" => 4, "f8" => 8, _ => throw new InvalidWeightsException(path, $"dtype '{descr}' is not supported (float32 or float64 only).") };
        bool big = descr[0] == '>';
        if (count * size > raw.Length)
        {
            throw new InvalidWeightsException(path, $"an array of shape ({string.Join(", ", shape)}) needs {count * size} bytes, the file has {raw.Length} (truncated).");
        }

        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            var b = raw.Slice(i * size, size);
            values[i] = size == 4
                ? (big ? BinaryPrimitives.ReadSingleBigEndian(b) : BinaryPrimitives.ReadSingleLittleEndian(b))
                : (float)(big ? BinaryPrimitives.ReadDoubleBigEndian(b) : BinaryPrimitives.ReadDoubleLittleEndian(b));
        }

        if (fortran && shape.Length > 1)
        {
            var c = new float[count];
            var index = new int[shape.Length];
            for (int f = 0; f < count; f++)
            {
                int offset = 0;
                for (int d = 0; d < shape.Length; d++)
                {
                    offset = offset * shape[d] + index[d];
                }

                c[offset] = values[f];
                for (int d = 0; d < shape.Length && ++index[d] == shape[d]; d++)
                {
                    index[d] = 0;
                }
            }

            values = c;
        }

        return new NpyArray(shape, values);
    }

    private sealed class PickleArray
    {
        public NpyArray? Numeric { get; set; }

        public List<object>? Objects { get; set; }
    }

    private sealed record Global(string Name);

    private sealed record DType(string Descr)
    {
        public string Order { get; set; } = "<";
    }

    private sealed class PickleMachine(string path, byte[] data)
    {
        private static readonly object Mark = new();
        private readonly List<object?> _stack = [];
        private readonly Dictionary<int, object?> _memo = [];
        private int _pos;

        public object Run()
        {
            while (true)
            {
                byte op = data[_pos++];
                switch (op)
                {
                    case 0x80: _pos++; break;                                              // PROTO
                    case (byte)'c': Push(GlobalOf(Line() + " " + Line())); break;          // GLOBAL
                    case (byte)'q': _memo[data[_pos++]] = Top(); break;                    // BINPUT
                    case (byte)'r': _memo[Int32()] = Top(); break;                         // LONG_BINPUT
                    case (byte)'h': Push(_memo[data[_pos++]]); break;                      // BINGET
                    case (byte)'j': Push(_memo[Int32()]); break;                           // LONG_BINGET
                    case (byte)'K': Push(data[_pos++]); break;                             // BININT1
                    case (byte)'M': Push(data[_pos] | (data[_pos + 1] << 8)); _pos += 2; break; // BININT2
                    case (byte)'J': Push(Int32()); break;                                  // BININT
                    case (byte)'N': Push(null); break;                                     // NONE
                    case 0x88: Push(true); break;                                          // NEWTRUE
                    case 0x89: Push(false); break;                                         // NEWFALSE
                    case (byte)')': Push(Array.Empty<object?>()); break;                  // EMPTY_TUPLE
                    case (byte)']': Push(new List<object>()); break;                       // EMPTY_LIST
                    case (byte)'}': Push(new Dictionary<object, object>()); break;         // EMPTY_DICT
                    case (byte)'(': Push(Mark); break;                                     // MARK
                    case 0x85: Push(new[] { Pop() }); break;                               // TUPLE1
                    case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                    case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                    case (byte)'t': Push(PopToMark().ToArray()); break;                    // TUPLE
                    case (byte)'U': Push(Bytes(data[_pos++])); break;                      // SHORT_BINSTRING
                    case (byte)'T': Push(Bytes(Int32())); break;                           // BINSTRING
                    case (byte)'C': Push(Bytes(data[_pos++])); break;                      // SHORT_BINBYTES
                    case (byte)'B': Push(Bytes(Int32())); break;                           // BINBYTES
                    case (byte)'X': Push(Encoding.UTF8.GetString(Bytes(Int32()))); break;  // BINUNICODE
                    case 0x8c: Push(Encoding.UTF8.GetString(Bytes(data[_pos++]))); break;  // SHORT_BINUNICODE
                    case (byte)'a': { var v = Pop(); ((List<object>)Top()!).Add(v!); break; } // APPEND
                    case (byte)'e': { var items = PopToMark(); ((List<object>)Top()!).AddRange(items!); break; } // APPENDS
                    case (byte)'s': { var v = Pop(); var k = Pop(); ((Dictionary<object, object>)Top()!)[Key(k)] = v!; break; } // SETITEM
                    case (byte)'u':                                                        // SETITEMS
                        {
                            var items = PopToMark();
                            var dict = (Dictionary<object, object>)Top()!;
                            for (int i = 0; i + 1 < items.Count; i += 2)
                            {
                                dict[Key(items[i])] = items[i + 1]!;
                            }

                            break;
                        }

                    case (byte)'R': { var args = (object?[])Pop()!; var f = (Global)Pop()!; Push(Reduce(f, args)); break; } // REDUCE
                    case (byte)'b': { var state = Pop(); Build(Top()!, state); break; }    // BUILD
                    case (byte)'.': return Pop() ?? throw new InvalidWeightsException(path, "the pickle holds None.");
                    default:
                        throw new InvalidWeightsException(path, $"pickle opcode 0x{op:X2} at byte {_pos - 1} is not allowed in a weights file (refusing to interpret it).");
                }
            }
        }

        private Global GlobalOf(string name) => name is "numpy.core.multiarray _reconstruct" or "numpy ndarray" or "numpy dtype"
            ? new Global(name)
            : throw new InvalidWeightsException(path, $"the pickle refers to '{name}', which a weights file has no reason to; refusing it.");

        private object Reduce(Global f, object?[] args) => f.Name switch
        {
            "numpy.core.multiarray _reconstruct" => new PickleArray(),
            "numpy dtype" => new DType(Text(args[0])),
            _ => throw new InvalidWeightsException(path, $"'{f.Name}' cannot be called directly."),
        };

        private void Build(object target, object? state)
        {
            var s = (object?[])state!;
            if (target is DType dtype)
            {
                dtype.Order = Text(s[1]);
                return;
            }

            var array = (PickleArray)target;
            var shape = ((object?[])s[1]!).Select(Convert.ToInt32).ToArray();
            var type = (DType)s[2]!;
            bool fortran = (bool)s[3]!;
            if (type.Descr == "O8")
            {
                array.Objects = (List<object>)s[4]!;
                return;
            }

            string order = type.Order is "|" or "=" ? "<" : type.Order;
            array.Numeric = Decode(path, order + type.Descr, shape, fortran, s[4] is byte[] raw ? raw : Encoding.Latin1.GetBytes((string)s[4]!));
        }

        private static object Key(object? key) => key is byte[] b ? Encoding.Latin1.GetString(b) : key!;

        private static string Text(object? value) => value is byte[] b ? Encoding.Latin1.GetString(b) : (string)value!;

        private string Line()
        {
            int end = Array.IndexOf(data, (byte)'\n', _pos);
            string line = Encoding.ASCII.GetString(data, _pos, end - _pos);
            _pos = end + 1;
            return line;
        }

        private int Int32()
        {
            int v = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(_pos));
            _pos += 4;
            return v;
        }

        private byte[] Bytes(int length)
        {
            if (length < 0 || _pos + length > data.Length)
            {
                throw new InvalidWeightsException(path, "a pickled string runs past the end of the file (truncated).");
            }

            var b = data.AsSpan(_pos, length).ToArray();
            _pos += length;
            return b;
        }

        private void Push(object? value) => _stack.Add(value);

        private object? Top() => _stack[^1];

        private object? Pop()
        {
            var v = _stack[^1];
            _stack.RemoveAt(_stack.Count - 1);
            return v;
        }

        private List<object?> PopToMark()
        {
            int mark = _stack.LastIndexOf(Mark);
            if (mark < 0)
            {
                throw new InvalidOperationException("no MARK on the stack");
            }

            var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
            _stack.RemoveRange(mark, _stack.Count - mark);
            return items;
        }
    }
}
