using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace InceptionNet.Weights;

/// <summary>
/// Reads numpy <c>.npy</c> files without executing anything: plain arrays (format 1/2/3 headers, float32/float64, either
/// byte order, C or Fortran order) and the pickled dictionaries of arrays that <c>np.save(dict)</c> writes, such as the
/// MTCNN det1/det2/det3.npy files. The pickle is interpreted by a small machine that knows only the opcodes those files
/// use and accepts only three globals (<c>numpy.core.multiarray._reconstruct</c>, <c>numpy.ndarray</c>,
/// <c>numpy.dtype</c>); anything else is refused with a clear error. Hostile input of any kind ends in an
/// <see cref="InvalidWeightsException"/>, at a cost linear in the file size.
/// </summary>
public static class NpyReader
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>A numeric array: shape and values in C order.</summary>
    /// <param name="Shape">Dimensions.</param>
    /// <param name="Data">Values, row-major.</param>
    public sealed record NpyArray(int[] Shape, float[] Data);

    /// <summary>Reads a pickled {layer: {name: array}} file into a strict <see cref="WeightSet"/>.</summary>
    /// <exception cref="InvalidWeightsException">Missing, not a pickled dictionary of float arrays, or damaged.</exception>
    public static WeightSet ReadLayerDictionary(string path, Func<string, string>? renameWeight = null) =>
        ReadLayerDictionary(ReadFile(path), path, renameWeight);

    /// <summary>
    /// Reads an in-memory pickled {layer: {name: array}} file; <paramref name="name"/> is the source used in messages and
    /// in <see cref="WeightSet.Source"/>.
    /// </summary>
    /// <exception cref="InvalidWeightsException">Not a pickled dictionary of float arrays, or damaged.</exception>
    public static WeightSet ReadLayerDictionary(byte[] bytes, string name, Func<string, string>? renameWeight = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var (header, body) = ReadHeader(bytes, name);
        if (header.Descr != "|O")
        {
            throw new InvalidWeightsException(name, "holds a plain array, not a pickled dictionary of layers.");
        }

        object root = new PickleMachine(name, body).Run();
        var layers = root is PickleArray { Objects: [Dictionary<object, object?> d] } ? d
            : root as Dictionary<object, object?> ?? throw new InvalidWeightsException(name, "the pickled object is not a dictionary of layers.");
        var set = new WeightSet(name, "numpy pickled dict (.npy)");
        foreach (var (layerKey, value) in layers)
        {
            if (layerKey is not string layer || value is not Dictionary<object, object?> weights)
            {
                throw new InvalidWeightsException(name, "a layer entry is not {name: {weight: array}}.");
            }

            foreach (var (nameKey, array) in weights)
            {
                if (nameKey is not string weight || array is not PickleArray { Numeric: { } numeric })
                {
                    throw new InvalidWeightsException(name, $"layer '{layer}' holds something other than numeric arrays.");
                }

                set.Add(layer, renameWeight?.Invoke(weight) ?? weight, numeric.Shape, numeric.Data);
            }
        }

        return set;
    }

    /// <summary>Reads a plain numeric array.</summary>
    /// <exception cref="InvalidWeightsException">Missing, not a float32/float64 array, or damaged.</exception>
    public static NpyArray ReadArray(string path) => ReadArray(ReadFile(path), path);

    /// <summary>Reads an in-memory plain numeric array; <paramref name="name"/> is used in messages.</summary>
    /// <exception cref="InvalidWeightsException">Not a float32/float64 array, or damaged.</exception>
    public static NpyArray ReadArray(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var (header, body) = ReadHeader(bytes, name);
        return Decode(name, header.Descr, header.Shape, header.Fortran, body.Span);
    }

    private static byte[] ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidWeightsException(path, Directory.Exists(path) ? "is a directory, expected a .npy file." : "file not found.");
        }

        return File.ReadAllBytes(path);
    }

    private static (Header Header, ReadOnlyMemory<byte> Body) ReadHeader(byte[] bytes, string name)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidWeightsException(name, "not a numpy .npy file (no \\x93NUMPY magic).");
        }

        int major = bytes[6];
        long headerLength;
        int start;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            start = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
            {
                throw new InvalidWeightsException(name, "truncated header.");
            }

            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            start = 12;
        }
        else
        {
            throw new InvalidWeightsException(name, $"npy format version {major} is not supported (1, 2 and 3 are).");
        }

        // In long: a version 2 length near 4 GiB must not wrap around when added to the start.
        if (start + headerLength > bytes.Length)
        {
            throw new InvalidWeightsException(name, $"the header declares {headerLength} bytes, past the end of the {bytes.Length}-byte file (truncated).");
        }

        string text;
        try
        {
            text = major == 3
                ? new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, start, (int)headerLength)
                : Encoding.Latin1.GetString(bytes, start, (int)headerLength);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidWeightsException(name, "the version 3 header is not valid UTF-8.");
        }

        var header = new HeaderParser(name, text).Parse();
        return (header, bytes.AsMemory(start + (int)headerLength));
    }

    internal static NpyArray Decode(string name, string descr, int[] shape, bool fortran, ReadOnlySpan<byte> raw)
    {
        int size = descr.Length == 3 && descr[0] is '<' or '>' or '|' or '='
            ? descr[1..] switch { "f4" => 4, "f8" => 8, _ => 0 }
            : 0;
        if (size == 0)
        {
            throw new InvalidWeightsException(name, $"dtype '{Shorten(descr)}' is not supported (float32 or float64 only).");
        }

        // The product is checked against the values present before it is formed, so it can neither overflow nor wrap to 0.
        long available = raw.Length / size;
        long count = shape.Contains(0) ? 0 : 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new InvalidWeightsException(name, $"shape ({string.Join(", ", shape)}) has a negative dimension.");
            }

            if (count != 0 && count > available / d)
            {
                throw new InvalidWeightsException(name, $"an array of shape ({string.Join(", ", shape)}) needs more than the {raw.Length} bytes the file has (truncated).");
            }

            count = count == 0 ? 0 : count * d;
        }

        if (count > available)
        {
            throw new InvalidWeightsException(name, $"an array of shape ({string.Join(", ", shape)}) needs {count * size} bytes, the file has {raw.Length} (truncated).");
        }

        bool big = descr[0] == '>';
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
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

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private sealed record Header(string Descr, bool Fortran, int[] Shape);

    /// <summary>
    /// Parses the header, a Python dict literal such as <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>.
    /// Only the value kinds numpy writes are understood: strings, True/False and tuples of integers.
    /// </summary>
    private sealed class HeaderParser(string name, string text)
    {
        private int _pos;

        public Header Parse()
        {
            var values = new Dictionary<string, object>(StringComparer.Ordinal);
            Expect('{');
            while (Peek() != '}')
            {
                string key = ReadString();
                Expect(':');
                values[key] = ReadValue();
                if (Peek() != ',')
                {
                    break;
                }

                _pos++;
            }

            Expect('}');
            string descr = values.GetValueOrDefault("descr") as string
                ?? throw new InvalidWeightsException(name, "header has no 'descr' string (structured dtypes are not supported).");
            if (descr.Length == 0)
            {
                throw new InvalidWeightsException(name, "header has an empty 'descr'.");
            }

            bool fortran = values.GetValueOrDefault("fortran_order") as bool?
                ?? throw new InvalidWeightsException(name, "header has no 'fortran_order' True/False.");
            var shape = values.GetValueOrDefault("shape") as int[]
                ?? throw new InvalidWeightsException(name, "header has no 'shape' tuple.");
            return new Header(descr, fortran, shape);
        }

        private object ReadValue() => Peek() switch
        {
            '\'' or '"' => ReadString(),
            '(' => ReadShape(),
            _ => ReadWord() switch
            {
                "True" => true,
                "False" => false,
                var word => throw Error($"value '{Shorten(word)}' is not understood"),
            },
        };

        private int[] ReadShape()
        {
            Expect('(');
            var dims = new List<int>();
            while (Peek() != ')')
            {
                string word = ReadWord().TrimEnd('L'); // Python 2 wrote long integers as 2L.
                if (!int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                {
                    throw Error($"shape entry '{Shorten(word)}' is not a dimension between 0 and {int.MaxValue}");
                }

                dims.Add(d);
                if (Peek() != ',')
                {
                    break;
                }

                _pos++;
            }

            Expect(')');
            return [.. dims];
        }

        private string ReadString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"'))
            {
                throw Error("expected a quoted string");
            }

            int end = text.IndexOf(quote, _pos + 1);
            if (end < 0)
            {
                throw Error("unterminated string");
            }

            string value = text[(_pos + 1)..end];
            _pos = end + 1;
            return value;
        }

        private string ReadWord()
        {
            SkipSpace();
            int start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] is '_' or '-' or '+'))
            {
                _pos++;
            }

            return text[start.._pos];
        }

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw Error($"expected '{c}'");
            }

            _pos++;
        }

        private char Peek()
        {
            SkipSpace();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos]))
            {
                _pos++;
            }
        }

        private InvalidWeightsException Error(string problem) =>
            new(name, $"malformed header at character {_pos}: {problem} in {Shorten(text.TrimEnd())}.");
    }

    private sealed class PickleArray
    {
        public NpyArray? Numeric { get; set; }

        public List<object?>? Objects { get; set; }
    }

    private sealed record Global(string Name);

    private sealed record DType(string Descr)
    {
        public string Order { get; set; } = "<";
    }

    /// <summary>
    /// Runs the pickle opcodes numpy writes, checking every operand: the stack and the MARK boundaries (kept on a separate
    /// stack, as CPython does), the types each opcode needs, memo slots, lengths against the bytes left. Nothing recurses,
    /// each opcode costs at most the bytes it consumes plus the items it pops, and array bytes may be decoded only once
    /// in total (a memo reference cannot multiply the work), so the cost is linear in the file size.
    /// </summary>
    private sealed class PickleMachine(string name, ReadOnlyMemory<byte> data)
    {
        // Layer and weight names are short; a longer key is refused rather than hashed again at every reuse.
        private const int MaxKeyLength = 1024;

        private readonly List<object?> _stack = [];
        private readonly List<int> _marks = [];
        private readonly Dictionary<long, object?> _memo = [];
        private long _decodedBytes;
        private int _pos;

        private ReadOnlySpan<byte> Data => data.Span;

        public object Run()
        {
            while (true)
            {
                int at = _pos;
                byte op = Byte();
                switch (op)
                {
                    case 0x80: Byte(); break;                                                     // PROTO
                    case (byte)'c': Push(GlobalOf(Line() + " " + Line())); break;                 // GLOBAL
                    case (byte)'q': _memo[Byte()] = Top(op); break;                               // BINPUT
                    case (byte)'r': _memo[UInt32()] = Top(op); break;                             // LONG_BINPUT
                    case (byte)'h': Push(Memo(Byte())); break;                                    // BINGET
                    case (byte)'j': Push(Memo(UInt32())); break;                                  // LONG_BINGET
                    case (byte)'K': Push((int)Byte()); break;                                     // BININT1
                    case (byte)'M': Push((int)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                    case (byte)'J': Push(BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;  // BININT
                    case (byte)'N': Push(null); break;                                            // NONE
                    case 0x88: Push(true); break;                                                 // NEWTRUE
                    case 0x89: Push(false); break;                                                // NEWFALSE
                    case (byte)')': Push(Array.Empty<object?>()); break;                         // EMPTY_TUPLE
                    case (byte)']': Push(new List<object?>()); break;                             // EMPTY_LIST
                    case (byte)'}': Push(new Dictionary<object, object?>()); break;               // EMPTY_DICT
                    case (byte)'(': _marks.Add(_stack.Count); break;                              // MARK
                    case 0x85: Push(new[] { Pop(op) }); break;                                    // TUPLE1
                    case 0x86: { var b = Pop(op); var a = Pop(op); Push(new[] { a, b }); break; } // TUPLE2
                    case 0x87: { var c = Pop(op); var b = Pop(op); var a = Pop(op); Push(new[] { a, b, c }); break; } // TUPLE3
                    case (byte)'t': Push(PopToMark(op).ToArray()); break;                         // TUPLE
                    case (byte)'U': Push(Take(Byte()).ToArray()); break;                          // SHORT_BINSTRING
                    case (byte)'T': Push(Take(UInt32()).ToArray()); break;                        // BINSTRING
                    case (byte)'C': Push(Take(Byte()).ToArray()); break;                          // SHORT_BINBYTES
                    case (byte)'B': Push(Take(UInt32()).ToArray()); break;                        // BINBYTES
                    case (byte)'X': Push(Utf8(Take(UInt32()))); break;                            // BINUNICODE
                    case 0x8c: Push(Utf8(Take(Byte()))); break;                                   // SHORT_BINUNICODE
                    case (byte)'a': { var v = Pop(op); ListOf(op, Top(op)).Add(v); break; }       // APPEND
                    case (byte)'e': { var items = PopToMark(op); ListOf(op, Top(op)).AddRange(items); break; } // APPENDS
                    case (byte)'s': { var v = Pop(op); var k = Key(Pop(op)); DictOf(op, Top(op))[k] = v; break; } // SETITEM
                    case (byte)'u':                                                               // SETITEMS
                        {
                            var items = PopToMark(op);
                            var dict = DictOf(op, Top(op));
                            if (items.Count % 2 != 0)
                            {
                                throw Error(op, $"{items.Count} items after the MARK do not form key/value pairs");
                            }

                            for (int i = 0; i < items.Count; i += 2)
                            {
                                dict[Key(items[i])] = items[i + 1];
                            }

                            break;
                        }

                    case (byte)'R':                                                               // REDUCE
                        {
                            var args = Pop(op) as object?[] ?? throw Error(op, "the arguments are not a tuple");
                            var f = Pop(op) as Global ?? throw Error(op, "the callable is not one of the allowed numpy globals");
                            Push(Reduce(f, args));
                            break;
                        }

                    case (byte)'b': { var state = Pop(op); Build(Top(op), state); break; }        // BUILD
                    case (byte)'.': return Pop(op) ?? throw new InvalidWeightsException(name, "the pickle holds None."); // STOP
                    default:
                        throw new InvalidWeightsException(name, $"pickle opcode 0x{op:X2} at byte {at} is not allowed in a weights file (refusing to interpret it).");
                }
            }
        }

        private Global GlobalOf(string global) => global is "numpy.core.multiarray _reconstruct" or "numpy ndarray" or "numpy dtype"
            ? new Global(global)
            : throw new InvalidWeightsException(name, $"the pickle refers to '{Shorten(global)}', which a weights file has no reason to; refusing it.");

        private object Reduce(Global f, object?[] args) => f.Name switch
        {
            "numpy.core.multiarray _reconstruct" => new PickleArray(),
            "numpy dtype" when args.Length >= 1 && Text(args[0]) is { } descr => new DType(descr),
            "numpy dtype" => throw Error((byte)'R', "numpy.dtype needs a type string"),
            _ => throw new InvalidWeightsException(name, $"'{f.Name}' cannot be called directly."),
        };

        private void Build(object? target, object? state)
        {
            const byte op = (byte)'b';
            var s = state as object?[] ?? throw Error(op, "the state is not a tuple");
            if (target is DType dtype)
            {
                dtype.Order = s.Length >= 2 && Text(s[1]) is ("<" or ">" or "|" or "=") and var byteOrder
                    ? byteOrder
                    : throw Error(op, "a dtype state needs a byte order '<', '>', '|' or '='");
                return;
            }

            if (target is not PickleArray array)
            {
                throw Error(op, "only numpy arrays and dtypes can be built");
            }

            if (s.Length < 5 || s[1] is not object?[] dims || s[2] is not DType type || s[3] is not bool fortran)
            {
                throw Error(op, "an array state is not (version, shape, dtype, fortran_order, data)");
            }

            var shape = new int[dims.Length];
            for (int i = 0; i < dims.Length; i++)
            {
                shape[i] = dims[i] is int d and >= 0 ? d : throw Error(op, "a shape entry is not a non-negative integer");
            }

            if (type.Descr == "O8")
            {
                array.Objects = s[4] as List<object?> ?? throw Error(op, "an object array's data is not a list");
                return;
            }

            byte[] raw = s[4] switch
            {
                byte[] b => b,
                string text => Latin1(text),
                _ => throw Error(op, "an array's data is not a byte string"),
            };

            // Real files decode each array's bytes once, so the total cannot exceed the file; a memo reference to the
            // same bytes in many arrays would otherwise multiply the work without bound.
            _decodedBytes += raw.Length;
            if (_decodedBytes > data.Length)
            {
                throw Error(op, "array data is decoded more than once (the pickle reuses it)");
            }

            string order = type.Order is "|" or "=" ? "<" : type.Order;
            array.Numeric = Decode(name, order + type.Descr, shape, fortran, raw);
        }

        private byte[] Latin1(string text)
        {
            // numpy encodes Python 2 str data back with latin1, which fails on characters above U+00FF.
            if (text.Any(c => c > '\u00FF'))
            {
                throw Error((byte)'b', "an array's data string has characters outside latin-1");
            }

            return Encoding.Latin1.GetBytes(text);
        }

        private object Key(object? key) => key switch
        {
            null => throw Error((byte)'s', "None is used as a dictionary key"),
            string { Length: > MaxKeyLength } or byte[] { Length: > MaxKeyLength } => throw Error((byte)'s', $"a dictionary key is longer than {MaxKeyLength} characters"),
            string or int or bool => key,
            byte[] b => Encoding.Latin1.GetString(b),
            _ => throw Error((byte)'s', $"a {Describe(key)} is used as a dictionary key"),
        };

        private static string? Text(object? value) => value switch
        {
            byte[] { Length: <= 16 } b => Encoding.Latin1.GetString(b),
            string { Length: <= 16 } s => s,
            _ => null,
        };

        private List<object?> ListOf(byte op, object? value) => value as List<object?> ?? throw Error(op, $"appends to a {Describe(value)}, not a list");

        private Dictionary<object, object?> DictOf(byte op, object? value) =>
            value as Dictionary<object, object?> ?? throw Error(op, $"sets an item of a {Describe(value)}, not a dictionary");

        private object? Memo(long key) => _memo.TryGetValue(key, out var value) ? value : throw Error((byte)'h', $"memo slot {key} is read but was never set");

        private string Utf8(ReadOnlySpan<byte> bytes)
        {
            try
            {
                return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw Error((byte)'X', "a unicode string is not valid UTF-8");
            }
        }

        private string Line()
        {
            int end = Data[_pos..].IndexOf((byte)'\n');
            if (end < 0)
            {
                throw Error((byte)'c', "the global name has no end of line");
            }

            string line = Encoding.Latin1.GetString(Data.Slice(_pos, end));
            _pos += end + 1;
            return line;
        }

        private byte Byte() => Take(1)[0];

        private long UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        private ReadOnlySpan<byte> Take(long length)
        {
            if (length > Data.Length - _pos)
            {
                throw new InvalidWeightsException(name, $"the pickle needs {length} more bytes at byte {_pos} but the file ends (truncated).");
            }

            var span = Data.Slice(_pos, (int)length);
            _pos += (int)length;
            return span;
        }

        private int Floor => _marks.Count == 0 ? 0 : _marks[^1];

        private void Push(object? value) => _stack.Add(value);

        private object? Top(byte op) => _stack.Count > Floor ? _stack[^1] : throw Underflow(op);

        private object? Pop(byte op)
        {
            var v = Top(op);
            _stack.RemoveAt(_stack.Count - 1);
            return v;
        }

        private List<object?> PopToMark(byte op)
        {
            if (_marks.Count == 0)
            {
                throw Error(op, "there is no MARK on the stack");
            }

            int mark = _marks[^1];
            _marks.RemoveAt(_marks.Count - 1);
            var items = _stack.GetRange(mark, _stack.Count - mark);
            _stack.RemoveRange(mark, _stack.Count - mark);
            return items;
        }

        private InvalidWeightsException Underflow(byte op) => Error(op, "the stack is empty (stack underflow)");

        private InvalidWeightsException Error(byte op, string problem) =>
            new(name, $"damaged pickle data: opcode 0x{op:X2} before byte {_pos}: {problem}.");

        private static string Describe(object? value) => value?.GetType().Name ?? "None";
    }
}
