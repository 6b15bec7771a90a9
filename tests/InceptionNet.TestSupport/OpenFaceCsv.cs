using System.Globalization;

namespace InceptionNet.TestSupport;

/// <summary>Writes the course CSV directory format (Torch order) from Keras tensors, for tests.</summary>
public static class OpenFaceCsv
{
    /// <summary>Writes one CSV per tensor, named as the course's load_weights_from_FaceNet expects.</summary>
    public static void Write(string directory, IEnumerable<KerasH5Writer.Tensor> tensors)
    {
        Directory.CreateDirectory(directory);
        foreach (var t in tensors)
        {
            string suffix = t.Name switch
            {
                "kernel" or "gamma" => "w",
                "bias" or "beta" => "b",
                "moving_mean" => "m",
                _ => "v",
            };
            string layer = t.Layer == "dense_layer" ? "dense" : t.Layer;
            float[] torch = ToTorch(t.Data, t.Shape);
            // Rows of 8 values: the reader must not care how the values are split across lines.
            var lines = torch.Chunk(8).Select(row => string.Join(",", row.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            File.WriteAllLines(Path.Combine(directory, $"{layer}_{suffix}.csv"), lines);
        }
    }

    private static float[] ToTorch(float[] data, int[] shape)
    {
        var result = new float[data.Length];
        if (shape.Length == 4)
        {
            int kh = shape[0], kw = shape[1], cin = shape[2], cout = shape[3];
            for (int y = 0; y < kh; y++)
            {
                for (int x = 0; x < kw; x++)
                {
                    for (int i = 0; i < cin; i++)
                    {
                        for (int o = 0; o < cout; o++)
                        {
                            result[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o];
                        }
                    }
                }
            }

            return result;
        }

        if (shape.Length == 2)
        {
            for (int i = 0; i < shape[0]; i++)
            {
                for (int o = 0; o < shape[1]; o++)
                {
                    result[o * shape[0] + i] = data[i * shape[1] + o];
                }
            }

            return result;
        }

        return data;
    }
}
