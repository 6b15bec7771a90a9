using System.Text.Json;

namespace InceptionNet.TestSupport;

/// <summary>Locates ../shared (relative to the repository root) and its fixtures.</summary>
public static class SharedData
{
    /// <summary>The repository root (the folder with InceptionNet.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared next to the repository.</summary>
    public static string Root { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>Path under shared/.</summary>
    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The 18 course image names in fixture order.</summary>
    public static IReadOnlyList<string> CourseImages { get; } =
    [
        "andrew", "arnaud", "benoit", "bertrand", "camera_0", "camera_1", "camera_2", "camera_3", "camera_4", "camera_5",
        "dan", "danielle", "felix", "kevin", "kian", "sebastiano", "tian", "younes",
    ];

    /// <summary>The course image file (danielle is a PNG).</summary>
    public static string CourseImageFile(string name) => PathOf("images", "course", name + (name == "danielle" ? ".png" : ".jpg"));

    /// <summary>Parses a JSON fixture once.</summary>
    public static JsonElement Json(params string[] parts)
    {
        string path = PathOf(parts);
        lock (Cache)
        {
            if (!Cache.TryGetValue(path, out var element))
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                element = doc.RootElement.Clone();
                Cache[path] = element;
            }

            return element;
        }
    }

    /// <summary>Reads a JSON array of numbers.</summary>
    public static double[] Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static readonly Dictionary<string, JsonElement> Cache = [];

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InceptionNet.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"InceptionNet.sln not found above {AppContext.BaseDirectory}.");
    }
}
