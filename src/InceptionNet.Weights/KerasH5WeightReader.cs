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
    /// <exception cref="InvalidWeightsException">The file is missing, not HDF5, truncated or not in Keras layout.</exception>
    public static WeightSet Read(string path)
    {
        CheckFile(path);
        NativeFile file;
        try
        {
            file = H5File.OpenRead(path);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidWeightsException(path, $"not a readable HDF5 file ({ex.Message}).", ex);
        }

        using (file)
        {
            try
            {
                return ReadLayers(path, file);
            }
            catch (InvalidWeightsException)
            {
                throw;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new InvalidWeightsException(path, $"the HDF5 file is damaged or truncated ({ex.GetType().Name}: {ex.Message}).", ex);
            }
        }
    }

    private static void CheckFile(string path)
    {
        if (Directory.Exists(path))
        {
            throw new InvalidWeightsException(path, "is a directory, expected a Keras .h5 file.");
        }

        if (!File.Exists(path))
        {
            throw new InvalidWeightsException(path, "file not found.");
        }

        var header = new byte[8];
        using var stream = File.OpenRead(path);
        if (stream.Length == 0)
        {
            throw new InvalidWeightsException(path, "the file is empty (0 bytes).");
        }

        int read = stream.ReadAtLeast(header, 8, throwOnEndOfStream: false);
        if (read < 8 || !header.AsSpan().SequenceEqual(Signature))
        {
            throw new InvalidWeightsException(path, "not an HDF5 file (no HDF5 signature at offset 0).");
        }
    }

    private static WeightSet ReadLayers(string path, NativeFile file)
    {
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
        long fileLength = new FileInfo(path).Length;
        foreach (string layer in ReadStrings(root.Attribute("layer_names")))
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

            foreach (string weightName in ReadStrings(group.Attribute("weight_names")))
            {
                if (!group.LinkExists(weightName))
                {
                    throw new InvalidWeightsException(path, $"layer '{layer}' lists weight '{weightName}' but the dataset is missing.");
                }

                var dataset = group.Dataset(weightName);
                int[] shape = dataset.Space.Dimensions.Select(d => d > int.MaxValue ? -1 : (int)d).ToArray();
                long count = shape.Aggregate(1L, (a, d) => d < 0 ? long.MaxValue : a * d);
                if (count > MaxValuesPerTensor || count * dataset.Type.Size > fileLength)
                {
                    throw new InvalidWeightsException(path, $"weight '{layer}/{weightName}' declares shape ({string.Join(", ", dataset.Space.Dimensions)}), larger than the file itself.");
                }

                float[] data = dataset.Type.Class == H5DataTypeClass.FloatingPoint && dataset.Type.Size == 4
                    ? dataset.Read<float[]>()
                    : dataset.Type.Class == H5DataTypeClass.FloatingPoint && dataset.Type.Size == 8
                        ? Array.ConvertAll(dataset.Read<double[]>(), v => (float)v)
                        : throw new InvalidWeightsException(path, $"weight '{layer}/{weightName}' is {dataset.Type.Class} of {dataset.Type.Size} bytes, expected float32.");
                if (data.Length != count)
                {
                    throw new InvalidWeightsException(path, $"weight '{layer}/{weightName}' has {data.Length} values for shape ({string.Join(", ", shape)}).");
                }

                set.Add(layer, ShortName(weightName), shape, data);
            }
        }

        return set;
    }

    // h5py stores Keras's empty weight list as an empty float64 array, so check the type before decoding strings.
    // Keras writes fixed-length strings; other writers use variable-length ones, which PureHDF reports as VariableLength.
    private static string[] ReadStrings(IH5Attribute attribute)
    {
        if (attribute.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
        {
            return [];
        }

        return attribute.Read<string[]>().Select(s => s.TrimEnd('\0')).ToArray();
    }

    private static string ShortName(string weightName)
    {
        string name = weightName[(weightName.LastIndexOf('/') + 1)..];
        int colon = name.LastIndexOf(':');
        return colon > 0 ? name[..colon] : name;
    }
}
