using System.Globalization;
using InceptionNet.Recognition;
using InceptionNet.Tensors;

namespace InceptionNet.Pipeline;

/// <summary>A labelled-pairs file or folder that cannot be used; the message names the file (and line) and the problem.</summary>
public sealed class InvalidDatasetException(string message) : Exception(message);

/// <summary>One wanted comparison: two photos, whether they show the same person, and its cross-validation fold.</summary>
/// <param name="Left">First photo.</param>
/// <param name="Right">Second photo.</param>
/// <param name="Same">Same person.</param>
/// <param name="Fold">Cross-validation fold.</param>
public readonly record struct LabelledPair(string Left, string Right, bool Same, int Fold);

/// <summary>Labelled pairs for evaluation: every pair of a per-person folder, a pairs file, or a gallery's own vectors.</summary>
public static class PairDataset
{
    /// <summary>The image files a folder of photos holds (JPEG and PNG by extension), in ordinal order.</summary>
    public static IReadOnlyList<string> Images(string folder) =>
        [.. Directory.GetFiles(folder).Where(IsImage).Order(StringComparer.Ordinal)];

    /// <summary>Whether <paramref name="path"/> names a JPEG or PNG by its extension.</summary>
    public static bool IsImage(string path) => Path.GetExtension(path).ToUpperInvariant() is ".JPG" or ".JPEG" or ".PNG";

    /// <summary>
    /// The pairs of <paramref name="data"/>: a folder with one sub-folder per person (every pair), or a pairs file
    /// (LFW <c>pairs.txt</c> or CSV <c>img1,img2,same</c>, relative paths under <paramref name="root"/>).
    /// </summary>
    /// <exception cref="InvalidDatasetException">Missing, malformed, or too few people.</exception>
    public static (IReadOnlyList<LabelledPair> Pairs, string Description) Load(string data, string? root, int folds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        if (Directory.Exists(data))
        {
            var people = Directory.GetDirectories(data).Order(StringComparer.Ordinal).ToList();
            var photos = people.SelectMany(p => Images(p).Select(f => (Person: Path.GetFileName(p), File: f))).ToList();
            if (people.Count < 2 || photos.GroupBy(p => p.Person).All(g => g.Count() < 2))
            {
                throw new InvalidDatasetException($"{data}: needs sub-folders for at least two people, one of them with two or more photos.");
            }

            var pairs = AllPairs(photos.Select(p => p.Person).ToList(), folds).Select(p => new LabelledPair(photos[p.I].File, photos[p.J].File, p.Same, p.Fold)).ToList();
            return (pairs, $"{people.Count} people, {photos.Count} photos in {data} (every pair; folds by a fixed shuffle)");
        }

        if (File.Exists(data))
        {
            var pairs = ReadPairsFile(data, root, folds);
            return (pairs, $"pairs file {data}, {pairs.Count} pairs over {pairs.SelectMany(p => new[] { p.Left, p.Right }).Distinct(StringComparer.Ordinal).Count()} photos");
        }

        throw new InvalidDatasetException($"{data}: no such folder or pairs file.");
    }

    /// <summary>Every same-person (genuine) and cross-person (impostor) pair among a gallery's stored vectors.</summary>
    public static List<ScoredPair> GalleryPairs(Gallery gallery, int folds)
    {
        ArgumentNullException.ThrowIfNull(gallery);
        var items = gallery.Identities.SelectMany(i => i.Entries.Select(e => (i.Name, e.Source, e.Embedding))).ToList();
        return AllPairs(items.Select(i => i.Name).ToList(), folds)
            .Select(p => new ScoredPair(ElementwiseOps.Distance(items[p.I].Embedding, items[p.J].Embedding), p.Same, p.Fold, items[p.I].Source, items[p.J].Source))
            .ToList();
    }

    /// <summary>
    /// LFW: an optional header "sets pairsPerSet" (or one count), then "name i j" (same person, images
    /// <c>name/name_000i.jpg</c>) or "name1 i name2 j" (different people); folds are the file's contiguous sets.
    /// CSV: <c>img1,img2,same</c> with an optional header; <c>same</c> is 1/0, true/false, yes/no or same/different.
    /// </summary>
    public static List<LabelledPair> ReadPairsFile(string path, string? root, int folds)
    {
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        string baseDir = root ?? Directory.GetCurrentDirectory();
        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.Combine(baseDir, p);
        var pairs = new List<(string, string, bool)>();
        bool csv = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || (lines.Count > 0 && lines[0].Contains(',', StringComparison.Ordinal));
        for (int n = 0; n < lines.Count; n++)
        {
            string line = lines[n];
            string where = $"{path}:{n + 1}";
            if (csv)
            {
                var cells = line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
                if (cells.Length != 3)
                {
                    throw new InvalidDatasetException($"{where}: expected img1,img2,same; got '{line}'.");
                }

                if (n == 0 && !Path.HasExtension(cells[0]) && !Path.HasExtension(cells[1]))
                {
                    continue; // header such as img1,img2,same
                }

                bool? same = cells[2].ToUpperInvariant() switch
                {
                    "1" or "TRUE" or "YES" or "SAME" => true,
                    "0" or "FALSE" or "NO" or "DIFFERENT" => false,
                    _ => null,
                };
                if (same is null)
                {
                    throw new InvalidDatasetException($"{where}: '{cells[2]}' is not a same/different label (1/0, true/false, yes/no).");
                }

                pairs.Add((Resolve(cells[0]), Resolve(cells[1]), same.Value));
                continue;
            }

            var t = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (n == 0 && t.All(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out _)) && t.Length <= 2)
            {
                continue; // LFW header
            }

            string Lfw(string name, string index) => int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                ? Resolve(Path.Combine(name, $"{name}_{i:D4}.jpg"))
                : throw new InvalidDatasetException($"{where}: '{index}' is not an image number.");
            pairs.Add(t.Length switch
            {
                3 => (Lfw(t[0], t[1]), Lfw(t[0], t[2]), true),
                4 => (Lfw(t[0], t[1]), Lfw(t[2], t[3]), false),
                _ => throw new InvalidDatasetException($"{where}: expected 'name i j' or 'name1 i name2 j'; got '{line}'."),
            });
        }

        if (pairs.Count == 0)
        {
            throw new InvalidDatasetException($"{path}: no pairs.");
        }

        return [.. pairs.Select((p, i) => new LabelledPair(p.Item1, p.Item2, p.Item3, VerificationEvaluation.ContiguousFold(i, pairs.Count, folds)))];
    }

    // Every pair (i < j) of labelled items: genuine when the labels agree. Folds: a fixed-seed shuffle dealt round-robin.
    private static List<(int I, int J, bool Same, int Fold)> AllPairs(List<string> labels, int folds)
    {
        var pairs = new List<(int I, int J, bool Same, int Fold)>();
        for (int i = 0; i < labels.Count; i++)
        {
            for (int j = i + 1; j < labels.Count; j++)
            {
                pairs.Add((i, j, labels[i] == labels[j], 0));
            }
        }

        var order = Enumerable.Range(0, pairs.Count).ToArray();
        new Random(20261123).Shuffle(order);
        for (int k = 0; k < order.Length; k++)
        {
            pairs[order[k]] = pairs[order[k]] with { Fold = k % folds };
        }

        return pairs;
    }
}
