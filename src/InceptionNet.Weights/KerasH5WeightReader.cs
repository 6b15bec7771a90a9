using System.Globalization;
using InceptionNet.Weights.Hdf5;
using Microsoft.Win32.SafeHandles;

namespace InceptionNet.Weights;

/// <summary>
/// Reads Keras 2 HDF5 weights: <c>model.save_weights</c> files (layers at the root, with <c>layer_names</c> /
/// <c>weight_names</c> attributes) and full-model <c>model.save</c> files (the same under <c>/model_weights</c>). Every
/// float32 tensor is read (name lists that Keras split into <c>layer_names0</c>, <c>layer_names1</c>, … are joined);
/// names are shortened to the part after the last '/', without the ":0" suffix. The file is
/// read with our own strict reader of the HDF5 subset h5py writes for Keras (see <c>Hdf5/Hdf5File.cs</c>), which checks
/// every declared size and offset against the file before reading or allocating.
/// </summary>
public static class KerasH5WeightReader
{
    // Refuse absurd declared sizes before allocating: the largest real layer (FaceNet Block8 up-projection) is 3.2 M values.
    private const long MaxValuesPerTensor = 1L << 28;

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

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidWeightsException(path, $"cannot be opened ({ex.Message}).", ex);
        }

        Hdf5ByteSource source;
        try
        {
            source = Hdf5ByteSource.FromFile(handle);
        }
        catch (IOException ex)
        {
            handle.Dispose();
            throw new InvalidWeightsException(path, $"cannot be read ({ex.Message}).", ex);
        }

        return Read(source, path);
    }

    /// <summary>Reads every weight tensor of an in-memory h5 file; <paramref name="name"/> is used in messages.</summary>
    /// <exception cref="InvalidWeightsException">Not HDF5, truncated, damaged or not in Keras layout.</exception>
    public static WeightSet Read(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return Read(Hdf5ByteSource.FromArray(bytes), name);
    }

    // Takes ownership of the source.
    private static WeightSet Read(Hdf5ByteSource source, string name)
    {
        try
        {
            var file = Hdf5File.Open(source, name);
            try
            {
                var set = ReadLayers(file);
                // Every dataset's range was checked against the file's length above, so a truncated file has failed
                // already, naming the dataset. The digest is hashed from the file on a second thread from here on, beside
                // the model's binding (a cold start's second core is otherwise idle). The file stays open for the model
                // to take its tensors; the set closes it when the last one is taken and the hash is done.
                set.BeginDigest();
                return set;
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
        catch (IOException ex)
        {
            throw new InvalidWeightsException(name, $"cannot be read ({ex.Message}).", ex);
        }
    }

    // The dataset's dimensions as ints (each was checked against int.MaxValue when the dataset was opened).
    private static int[] Shape(ulong[] dimensions)
    {
        var shape = new int[dimensions.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = (int)dimensions[i];
        }

        return shape;
    }

    private static WeightSet ReadLayers(Hdf5File file)
    {
        string path = file.Name;
        long root = file.Root;
        string format = "Keras h5 (save_weights)";
        var layerNames = Names(file, root, "layer_names", "attribute 'layer_names'");
        if (layerNames is null)
        {
            long modelWeights = file.Find(root, "model_weights");
            if (modelWeights < 0 || !file.IsGroup(modelWeights))
            {
                throw new InvalidWeightsException(path, "not a Keras weights file: no 'layer_names' attribute at the root and no '/model_weights' group.");
            }

            root = modelWeights;
            format = "Keras h5 (full model)";
            layerNames = Names(file, root, "layer_names", "attribute 'layer_names'") ?? throw new InvalidWeightsException(path, "'/model_weights' has no 'layer_names' attribute.");
        }

        var set = new WeightSet(path, format);
        foreach (string layer in layerNames)
        {
            long group = file.Find(root, layer);
            if (group < 0 || !file.IsGroup(group))
            {
                throw new InvalidWeightsException(path, $"layer '{layer}' is listed in 'layer_names' but has no group.");
            }

            if (Names(file, group, "weight_names", $"attribute 'weight_names' of layer '{layer}'") is not { } weightNames)
            {
                continue;
            }

            foreach (string weightName in weightNames)
            {
                long address = file.Find(group, weightName);
                if (address < 0)
                {
                    throw new InvalidWeightsException(path, $"layer '{layer}' lists weight '{weightName}' but the dataset is missing.");
                }

                string where = $"weight '{layer}/{weightName}'";
                var dataset = file.Dataset(address, where, MaxValuesPerTensor);
                set.AddLazy(layer, ShortName(weightName), Shape(dataset.Space.Dimensions), (int)dataset.Space.ElementCount,
                    destination => Load(file, dataset, where, destination), file);
            }
        }

        return set;
    }

    private static void Load(Hdf5File file, Hdf5Dataset dataset, string where, Span<float> destination)
    {
        try
        {
            file.ReadFloat32(dataset, where, destination);
        }
        catch (IOException ex)
        {
            throw new InvalidWeightsException(file.Name, $"{where} cannot be read ({ex.Message}).", ex);
        }
        catch (ObjectDisposedException ex)
        {
            throw new InvalidOperationException($"{file.Name}: {where} was read after the file was closed.", ex);
        }
    }

    // Keras's save_attributes_to_hdf5_group splits a list too large for one object header message (64 KB) into
    // attributes NAME0, NAME1, …; null when neither form is present.
    private static List<string>? Names(Hdf5File file, long address, string name, string where)
    {
        if (file.Attribute(address, name) is { } whole)
        {
            return [.. file.Strings(whole, where)];
        }

        List<string>? names = null;
        for (int chunk = 0; file.Attribute(address, name + chunk.ToString(CultureInfo.InvariantCulture)) is { } part; chunk++)
        {
            names ??= [];
            names.AddRange(file.Strings(part, $"{where} (part {chunk})"));
        }

        return names;
    }

    private static string ShortName(string weightName)
    {
        string name = weightName[(weightName.LastIndexOf('/') + 1)..];
        int colon = name.LastIndexOf(':');
        return colon > 0 ? name[..colon] : name;
    }
}
