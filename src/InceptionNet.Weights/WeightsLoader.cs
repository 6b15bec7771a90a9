namespace InceptionNet.Weights;

/// <summary>Opens weights in any supported format and finds them where a user would put them.</summary>
public static class WeightsLoader
{
    /// <summary>Environment variable that points at a weights file or directory.</summary>
    public const string EnvironmentVariable = "INCEPTIONNET_WEIGHTS";

    /// <summary>
    /// Reads a Keras h5 file, a TensorFlow.js manifest (<c>*.json</c>, or a folder holding one), or a course OpenFace CSV
    /// directory.
    /// </summary>
    public static WeightSet Load(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return TfjsWeightReader.Read(path);
        }

        if (Directory.Exists(path))
        {
            return Directory.EnumerateFiles(path, "*" + TfjsWeightReader.ManifestSuffix).Any()
                ? TfjsWeightReader.Read(TfjsWeightReader.FindManifest(path))
                : OpenFaceCsvWeightReader.Read(path);
        }

        return KerasH5WeightReader.Read(path);
    }

    /// <summary>
    /// Resolves the weights location: the explicit <paramref name="argument"/> if given, then <c>$INCEPTIONNET_WEIGHTS</c>,
    /// then each of <paramref name="defaultRelativePaths"/> under <c>./weights</c> and <c>../shared/weights</c>
    /// (relative to the current directory). Returns the candidates tried when nothing is found.
    /// </summary>
    public static (string? Path, IReadOnlyList<string> Tried) Resolve(string? argument, IEnumerable<string> defaultRelativePaths)
    {
        var tried = new List<string>();
        if (!string.IsNullOrWhiteSpace(argument))
        {
            tried.Add(argument);
            return (File.Exists(argument) || Directory.Exists(argument) ? argument : null, tried);
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            tried.Add($"${EnvironmentVariable}={fromEnvironment}");
            if (File.Exists(fromEnvironment) || Directory.Exists(fromEnvironment))
            {
                return (fromEnvironment, tried);
            }
        }

        foreach (string root in new[] { "weights", Path.Combine("..", "shared", "weights") })
        {
            foreach (string relative in defaultRelativePaths)
            {
                string candidate = Path.Combine(root, relative);
                tried.Add(candidate);
                if (File.Exists(candidate) || (Directory.Exists(candidate)
                    && (Directory.EnumerateFiles(candidate, "*.csv").Any() || Directory.EnumerateFiles(candidate, "*" + TfjsWeightReader.ManifestSuffix).Any())))
                {
                    return (candidate, tried);
                }
            }
        }

        return (null, tried);
    }
}
