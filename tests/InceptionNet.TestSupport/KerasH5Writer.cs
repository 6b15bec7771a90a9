using PureHDF;

namespace InceptionNet.TestSupport;

/// <summary>Writes Keras-layout h5 files for tests (save_weights or full-model layout), with PureHDF.</summary>
public static class KerasH5Writer
{
    /// <summary>One tensor: layer, short name, shape, values.</summary>
    public sealed record Tensor(string Layer, string Name, int[] Shape, float[] Data);

    /// <summary>Writes <paramref name="tensors"/>; weightless layers in <paramref name="extraLayers"/> get an empty float64 weight_names, as h5py writes.</summary>
    public static void Write(string path, IEnumerable<Tensor> tensors, bool fullModel = false, IEnumerable<string>? extraLayers = null)
    {
        var byLayer = tensors.GroupBy(t => t.Layer).ToList();
        var layers = new H5Group();
        var names = new List<string>();
        foreach (var layer in byLayer)
        {
            names.Add(layer.Key);
            var inner = new H5Group();
            foreach (var t in layer)
            {
                inner[t.Name + ":0"] = new H5Dataset(t.Data, fileDims: t.Shape.Select(d => (ulong)d).ToArray());
            }

            layers[layer.Key] = new H5Group
            {
                Attributes = new() { ["weight_names"] = layer.Select(t => $"{t.Layer}/{t.Name}:0").ToArray() },
                [layer.Key] = inner,
            };
        }

        foreach (string extra in extraLayers ?? [])
        {
            names.Add(extra);
            layers[extra] = new H5Group { Attributes = new() { ["weight_names"] = Array.Empty<double>() } };
        }

        layers.Attributes = new() { ["layer_names"] = names.ToArray(), ["backend"] = "tensorflow", ["keras_version"] = "2.2.4" };
        var file = new H5File();
        if (fullModel)
        {
            file.Attributes = new() { ["model_config"] = "{\"class_name\": \"Model\"}" };
            file["model_weights"] = layers;
        }
        else
        {
            foreach (var (key, value) in layers)
            {
                file[key] = value;
            }

            file.Attributes = layers.Attributes;
        }

        file.Write(path);
    }
}
