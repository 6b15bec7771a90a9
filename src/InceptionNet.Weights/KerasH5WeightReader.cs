using System.Buffers.Binary;
using PureHDF;
using PureHDF.VOL.Native;

namespace InceptionNet.Weights;

/// <summary>
/// Reads Keras 2 HDF5 weights with PureHDF (pure managed): <c>model.save_weights</c> files (layers at the root, with
/// <c>layer_names</c> / <c>weight_names</c> attributes) and full-model <c>model.save</c> files (the same under
/// <c>/model_weights</c>). Every float tensor is read; names are shortened to the part after the last '/', without
/// the ":0" suffix.
/// </summary>
public static class KerasH5WeightReader
{
    // Refuse absurd declared sizes before allocating: the largest real layer (FaceNet Block8 up-projection) is 3.2 M values.
    private const long MaxValuesPerTensor = 1L << 28;

    private static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>Reads every weight tensor of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidWeightsException">The file is missing, not HDF5, truncated, damaged or not in Keras layout.</exception>
    public static WeightSet Read(string path)
    {
        if (Directory.Exists(path))
        {
            throw new InvalidWeightsException(path, "is a directory, expected a Keras .h5 file.");
        }

        if (!File.Exists(path))
        {
            throw new InvalidWeightsException(path, "file not found.");
        }

        FileStream stream;
        try
        {
            stream = File.OpenRead(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidWeightsException(path, $"cannot be opened ({ex.Message}).", ex);
        }

        return Read(stream, path);
    }

    /// <summary>Reads every weight tensor of an in-memory h5 file; <paramref name="name"/> is used in messages.</summary>
    /// <exception cref="InvalidWeightsException">Not HDF5, truncated, damaged or not in Keras layout.</exception>
    public static WeightSet Read(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return Read(new MemoryStream(bytes, writable: false), name);
    }

    // Takes ownership of the stream. PureHDF is a general HDF5 reader that trusts the file's declared offsets and sizes;
    // the budget stream bounds what a hostile file can make it read and allocate, the checks in ReadLayers bound what is
    // declared before anything is read, and every failure inside it becomes an InvalidWeightsException naming the file.
    private static WeightSet Read(Stream stream, string name)
    {
        using var guarded = new BudgetStream(stream, name);
        CheckSignature(guarded, name);
        NativeFile file;
        try
        {
            file = H5File.Open(guarded, leaveOpen: true);
        }
        catch (InvalidWeightsException)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidWeightsException(name, $"not a readable HDF5 file ({ex.GetType().Name}: {ex.Message}).", ex);
        }

        using (file)
        {
            try
            {
                return ReadLayers(name, file, guarded);
            }
            catch (InvalidWeightsException)
            {
                throw;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new InvalidWeightsException(name, $"the HDF5 file is damaged or truncated ({ex.GetType().Name}: {ex.Message}).", ex);
            }
        }
    }

    private static void CheckSignature(Stream stream, string name)
    {
        if (stream.Length == 0)
        {
            throw new InvalidWeightsException(name, "the file is empty (0 bytes).");
        }

        var header = new byte[8];
        int read = stream.ReadAtLeast(header, 8, throwOnEndOfStream: false);
        if (read < 8 || !header.AsSpan().SequenceEqual(Signature))
        {
            throw new InvalidWeightsException(name, "not an HDF5 file (no HDF5 signature at offset 0).");
        }

        stream.Position = 0;
    }

    private static WeightSet ReadLayers(string path, NativeFile file, BudgetStream stream)
    {
        long fileLength = stream.Length;
        IH5Group root = file;
        string format = "Keras h5 (save_weights)";
        if (!root.AttributeExists("layer_names"))
        {
            if (!root.LinkExists("model_weights"))
            {
                throw new InvalidWeightsException(path, "not a Keras weights file: no 'layer_names' attribute at the root and no '/model_weights' group.");
            }

            root = root.Group("model_weights");
            format = "Keras h5 (full model)";
            if (!root.AttributeExists("layer_names"))
            {
                throw new InvalidWeightsException(path, "'/model_weights' has no 'layer_names' attribute.");
            }
        }

        var set = new WeightSet(path, format);
        foreach (string layer in ReadStrings(path, root.Attribute("layer_names"), stream))
        {
            if (!root.LinkExists(layer))
            {
                throw new InvalidWeightsException(path, $"layer '{layer}' is listed in 'layer_names' but has no group.");
            }

            var group = root.Group(layer);
            if (!group.AttributeExists("weight_names"))
            {
                continue;
            }

            foreach (string weightName in ReadStrings(path, group.Attribute("weight_names"), stream))
            {
                if (!group.LinkExists(weightName))
                {
                    throw new InvalidWeightsException(path, $"layer '{layer}' lists weight '{weightName}' but the dataset is missing.");
                }

                string where = $"weight '{layer}/{weightName}'";
                var dataset = group.Dataset(weightName);
                var dims = dataset.Space.Dimensions;
                long count = DeclaredBytes(dims, 1);
                if (count > MaxValuesPerTensor || DeclaredBytes(dims, dataset.Type.Size) > fileLength || dims.Any(d => d > int.MaxValue))
                {
                    throw new InvalidWeightsException(path, $"{where} declares shape ({string.Join(", ", dims)}), larger than the file itself.");
                }

                if (dataset.Type.Class != H5DataTypeClass.FloatingPoint || dataset.Type.Size is not (4 or 8))
                {
                    throw new InvalidWeightsException(path, $"{where} is {dataset.Type.Class} of {dataset.Type.Size} bytes, expected float32.");
                }

                // Keras (h5py's create_dataset without options) writes contiguous datasets; refusing chunked and virtual
                // storage keeps PureHDF's chunk index and decompression filters out of reach of hostile files.
                if (dataset.Layout.Class is not (H5DataLayoutClass.Contiguous or H5DataLayoutClass.Compact))
                {
                    throw new InvalidWeightsException(path, $"{where} uses {dataset.Layout.Class} storage; Keras weights are contiguous.");
                }

                float[] data = dataset.Type.Size == 4 ? dataset.Read<float[]>() : Array.ConvertAll(dataset.Read<double[]>(), v => (float)v);
                if (data.Length != count)
                {
                    throw new InvalidWeightsException(path, $"{where} has {data.Length} values for shape ({string.Join(", ", dims)}).");
                }

                set.Add(layer, ShortName(weightName), dims.Select(d => (int)d).ToArray(), data);
            }
        }

        return set;
    }

    // The product of the dimensions times the element size, saturating at long.MaxValue instead of overflowing.
    private static long DeclaredBytes(ulong[] dims, long elementSize)
    {
        if (dims.Contains(0UL) || elementSize <= 0)
        {
            return 0;
        }

        ulong total = (ulong)elementSize;
        foreach (ulong d in dims)
        {
            if (total > (ulong)long.MaxValue / d)
            {
                return long.MaxValue;
            }

            total *= d;
        }

        return (long)total;
    }

    // h5py stores Keras's empty weight list as an empty float64 array, so check the type before decoding strings.
    // Keras writes fixed-length strings; other writers use variable-length ones, which PureHDF reports as VariableLength.
    private static string[] ReadStrings(string path, IH5Attribute attribute, BudgetStream stream)
    {
        long fileLength = stream.Length;
        if (attribute.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
        {
            return [];
        }

        if (attribute.Type.Class == H5DataTypeClass.VariableLength)
        {
            stream.CheckGlobalHeaps();
        }

        // Every string needs at least one byte of the file (a variable-length one a heap reference of more), so a count
        // or size beyond the file is a lie; checked before PureHDF allocates the array.
        if (DeclaredBytes(attribute.Space.Dimensions, Math.Max((long)attribute.Type.Size, 1)) > fileLength)
        {
            throw new InvalidWeightsException(path, $"attribute '{attribute.Name}' declares {string.Join(" x ", attribute.Space.Dimensions)} strings of {attribute.Type.Size} bytes, more than the file holds.");
        }

        var strings = attribute.Read<string[]>();
        long chars = 0;
        foreach (string s in strings)
        {
            chars += s?.Length ?? 0;
        }

        // Variable-length strings may all point at one heap object; their total cannot honestly exceed the file.
        if (chars > fileLength)
        {
            throw new InvalidWeightsException(path, $"attribute '{attribute.Name}' holds {chars:N0} characters, more than the file's {fileLength:N0} bytes.");
        }

        return strings.Select(s => (s ?? string.Empty).TrimEnd('\0')).ToArray();
    }

    private static string ShortName(string weightName)
    {
        string name = weightName[(weightName.LastIndexOf('/') + 1)..];
        int colon = name.LastIndexOf(':');
        return colon > 0 ? name[..colon] : name;
    }

    /// <summary>
    /// A read-only view of the h5 stream that bounds the work PureHDF can be made to do: the bytes it reads (a cyclic
    /// B-tree or heap list would otherwise be followed forever) and the memory allocated on this thread while reading
    /// (declared sizes PureHDF trusts). A real Keras file reads each dataset once plus a little metadata, well inside
    /// both budgets. Once exceeded, every further call fails too, so a caller that swallows one failure cannot resume.
    /// </summary>
    private sealed class BudgetStream : Stream
    {
        // Each call is charged at least this much, so a loop of tiny reads or seeks exhausts the budget as well.
        private const long MinimumCharge = 64;

        private readonly Stream _inner;
        private readonly string _name;
        private readonly long _readBudget;
        private readonly long _allocationBudget;
        private readonly long _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        private long _charged;
        private bool _exceeded;
        private bool _globalHeapsChecked;

        public BudgetStream(Stream inner, string name)
        {
            _inner = inner;
            _name = name;
            long length = inner.Length;
            _readBudget = 4 * length + (16 << 20);
            _allocationBudget = 8 * length + (16 << 20);
        }

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => _inner.Length;

        public override long Position
        {
            get => _inner.Position;
            set
            {
                Charge(0);
                _inner.Position = value;
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            Charge(buffer.Length);
            return _inner.Read(buffer);
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            Charge(0);
            return _inner.Seek(offset, origin);
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }

        /// <summary>
        /// Variable-length strings live in global heap collections ("GCOL"), whose objects PureHDF reads by allocating
        /// their declared size before reading, so a lying size is an allocation of up to 2 GiB that no stream check
        /// can stop. Before such strings are read, every collection in the file is walked the way PureHDF walks it and
        /// each object's size is checked against the bytes that follow it. Done once per file.
        /// </summary>
        public void CheckGlobalHeaps()
        {
            if (_globalHeapsChecked)
            {
                return;
            }

            if (_inner.Length > Array.MaxLength)
            {
                throw new InvalidWeightsException(_name, "variable-length strings are not supported in files over 2 GiB.");
            }

            long position = _inner.Position;
            _inner.Position = 0;
            var file = new byte[_inner.Length];
            _inner.ReadExactly(file);
            _inner.Position = position;
            int lengthSize = file.Length > 14 && file[8] <= 1 ? file[14] : file.Length > 10 ? file[10] : 8;
            if (lengthSize is not (2 or 4 or 8))
            {
                throw new InvalidWeightsException(_name, $"the superblock declares {lengthSize}-byte lengths (2, 4 or 8 are valid).");
            }

            var span = file.AsSpan();
            for (int at = span.IndexOf("GCOL"u8); at >= 0; at = NextIndexOf(span, "GCOL"u8, at + 1))
            {
                CheckGlobalHeap(span, at, lengthSize);
            }

            _globalHeapsChecked = true;
        }

        private static int NextIndexOf(ReadOnlySpan<byte> span, ReadOnlySpan<byte> value, int from)
        {
            int next = span[from..].IndexOf(value);
            return next < 0 ? -1 : from + next;
        }

        // Mirrors PureHDF's GlobalHeapCollection.Decode: objects follow the header while the collection has room for
        // more than a header; an object index of 0 (free space) ends the walk.
        private void CheckGlobalHeap(ReadOnlySpan<byte> file, int at, int lengthSize)
        {
            ulong headerSize = 8UL + (ulong)lengthSize;
            long position = at + 8;
            if (position + lengthSize > file.Length)
            {
                return;
            }

            ulong collectionSize = ReadLength(file, position, lengthSize);
            position += lengthSize;
            ulong remaining = collectionSize - headerSize;
            while (remaining > headerSize && position + 8 + lengthSize <= file.Length)
            {
                long before = position;
                if (BinaryPrimitives.ReadUInt16LittleEndian(file[(int)position..]) == 0)
                {
                    return;
                }

                ulong objectSize = ReadLength(file, position + 8, lengthSize);
                position += 8 + lengthSize;
                if (objectSize > (ulong)(file.Length - position))
                {
                    throw new InvalidWeightsException(_name, $"a global heap object at byte {before} declares {objectSize:N0} bytes, more than the file holds.");
                }

                position += (long)((objectSize + 7) / 8 * 8);
                remaining -= (ulong)(position - before);
            }
        }

        private static ulong ReadLength(ReadOnlySpan<byte> file, long position, int size) => size switch
        {
            2 => BinaryPrimitives.ReadUInt16LittleEndian(file[(int)position..]),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(file[(int)position..]),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(file[(int)position..]),
        };

        private void Charge(long bytes)
        {
            _charged += Math.Max(bytes, MinimumCharge);
            if (!_exceeded && _charged > _readBudget)
            {
                _exceeded = true;
                throw new InvalidWeightsException(_name, $"reading the HDF5 structure needed more than {_readBudget:N0} bytes of reads for a {Length:N0}-byte file (cyclic or damaged metadata).");
            }

            if (!_exceeded && GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart > _allocationBudget)
            {
                _exceeded = true;
                throw new InvalidWeightsException(_name, $"reading the HDF5 structure allocated more than {_allocationBudget:N0} bytes for a {Length:N0}-byte file (damaged declared sizes).");
            }

            if (_exceeded)
            {
                throw new InvalidWeightsException(_name, "the HDF5 file was abandoned after exceeding its reading budget.");
            }
        }
    }
}
