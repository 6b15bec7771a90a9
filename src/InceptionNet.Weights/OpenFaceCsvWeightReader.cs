using System.Globalization;

namespace InceptionNet.Weights;

/// <summary>
/// Reads the course's OpenFace weight directory (<c>conv1_w.csv</c>, <c>conv1_b.csv</c>, <c>bn1_w.csv</c> … <c>dense_w.csv</c>),
/// the format the deeplearning.ai notebook's <c>load_weights_from_FaceNet</c> consumes. Files of layers whose name contains
/// "conv" hold a kernel (<c>_w</c>, Torch order out, in, kh, kw) and a bias (<c>_b</c>); "bn" layers hold gamma, beta,
/// mean, variance (<c>_w</c>, <c>_b</c>, <c>_m</c>, <c>_v</c>); <c>dense_w</c>/<c>dense_b</c> belong to layer <c>dense_layer</c>
/// (kernel stored 128 × 736).
/// </summary>
public static class OpenFaceCsvWeightReader
{
    /// <summary>Reads every CSV file of <paramref name="directory"/>.</summary>
    public static WeightSet Read(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new InvalidWeightsException(directory, "directory not found.");
        }

        var files = Directory.GetFiles(directory, "*.csv");
        if (files.Length == 0)
        {
            throw new InvalidWeightsException(directory, "contains no .csv weight files.");
        }

        var set = new WeightSet(directory, "OpenFace CSV directory");
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            string stem = Path.GetFileNameWithoutExtension(file);
            int underscore = stem.LastIndexOf('_');
            if (underscore <= 0)
            {
                throw new InvalidWeightsException(file, "name is not <layer>_<w|b|m|v>.csv.");
            }

            string layer = stem[..underscore];
            string suffix = stem[(underscore + 1)..];
            string name = (layer.Contains("bn", StringComparison.Ordinal), suffix) switch
            {
                (true, "w") => "gamma",
                (true, "b") => "beta",
                (true, "m") => "moving_mean",
                (true, "v") => "moving_variance",
                (false, "w") => "kernel",
                (false, "b") => "bias",
                _ => throw new InvalidWeightsException(file, $"unknown weight suffix '_{suffix}' (expected _w, _b, _m or _v)."),
            };
            if (layer == "dense")
            {
                layer = "dense_layer";
            }

            set.Add(layer, name, null, ParseValues(file), WeightLayout.TorchFlat);
        }

        return set;
    }

    private static float[] ParseValues(string file)
    {
        var values = new List<float>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(file))
        {
            lineNumber++;
            foreach (string field in line.Split(','))
            {
                string text = field.Trim();
                if (text.Length == 0)
                {
                    continue;
                }

                if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
                {
                    throw new InvalidWeightsException(file, $"line {lineNumber}: '{(text.Length > 40 ? text[..40] + "…" : text)}' is not a finite number.");
                }

                values.Add(value);
            }
        }

        if (values.Count == 0)
        {
            throw new InvalidWeightsException(file, "holds no numbers.");
        }

        return [.. values];
    }
}
