namespace InceptionNet.Bench;

/// <summary>Locates ../shared from the repository root, wherever BenchmarkDotNet runs the process.</summary>
internal static class BenchData
{
    public static string Shared { get; } = Find();

    public static string PathOf(params string[] parts) => Path.Combine([Shared, .. parts]);

    /// <summary>n course images, FaceNet-preprocessed (PIL NEAREST 160, /255), as one NHWC batch.</summary>
    public static float[] Batch(InceptionNet.Models.FaceEncoder model, int n)
    {
        string[] names = ["camera_0", "younes", "kian", "andrew", "arnaud", "benoit", "bertrand", "dan", "felix", "kevin", "tian", "sebastiano", "camera_1", "camera_2", "camera_3", "camera_4"];
        int per = model.InputSize * model.InputSize * 3;
        var batch = new float[n * per];
        for (int i = 0; i < n; i++)
        {
            var image = InceptionNet.Vision.RgbImage.FromRawFile(PathOf("fixtures", "decode", "course-rgb", names[i % names.Length] + ".rgb"), 96, 96);
            model.Preprocess(image).CopyTo(batch, i * per);
        }

        return batch;
    }

    private static string Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "InceptionNet.sln")))
                {
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                }
            }
        }

        throw new InvalidOperationException("Run from inside the repository (../shared must sit next to it).");
    }
}
