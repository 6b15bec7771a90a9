using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>
/// Issue 19's goals, read back from one <c>bench/goals.sh</c> run: the BenchmarkDotNet CSV reports it saved and the peers'
/// timings beside them, each ratio set against its target for this machine's class (AVX-512 or AVX2, as the engine runs
/// here). Prints a Markdown table; a measurement the run lacks is named as missing, never guessed.
/// </summary>
internal static partial class GoalSummary
{
    /// <summary>Reads <paramref name="folder"/> and prints the table; returns 0, or 2 when the folder holds no report.</summary>
    public static int Run(string folder)
    {
        if (!Directory.Exists(folder))
        {
            Console.Error.WriteLine($"error: {folder}: no such folder (give the folder bench/goals.sh wrote)");
            return 2;
        }

        bool avx512 = Simd.Default == SimdLevel.Vector512;
        var rows = new List<string[]>();
        var missing = new List<string>();
        FaceNet(folder, avx512, rows, missing);
        Cli(folder, rows, missing);
        Mtcnn(folder, rows, missing);
        FaceApi(folder, rows, missing);
        Search(folder, rows, missing);
        if (rows.Count == 0)
        {
            Console.Error.WriteLine($"error: {folder}: none of the reports bench/goals.sh saves is there");
            return 2;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Issue 19's goals, {(avx512 ? "AVX-512" : "AVX2")} class (the engine's level here: {Simd.Default}), from {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}:");
        text.AppendLine();
        text.AppendLine("| goal | measured | target | met |");
        text.AppendLine("|---|---|---|---|");
        foreach (var row in rows)
        {
            text.AppendLine($"| {string.Join(" | ", row)} |");
        }

        foreach (string line in missing)
        {
            text.AppendLine();
            text.Append("Not measured in this run: ").AppendLine(line);
        }

        Console.Write(text.ToString());
        return 0;
    }

    private static void FaceNet(string folder, bool avx512, List<string[]> rows, List<string> missing)
    {
        var report = Report.Load(folder, "FaceNetBenchmarks");
        if (report is null)
        {
            missing.Add("goal 1 (InceptionNet.Bench.FaceNetBenchmarks-report.csv)");
            return;
        }

        double target = avx512 ? 0.70 : 0.80;
        foreach (string batch in new[] { "1", "16" })
        {
            var ours = report.Find(r => r["Method"] == "InceptionNet" && r["Batch"] == batch);
            var ort = report.Find(r => r["Method"] == "'ONNX Runtime'" && r["Batch"] == batch);
            if (ours is null || ort is null)
            {
                missing.Add($"goal 1 at batch {batch} (no row for both engines)");
                continue;
            }

            double ratio = Milliseconds(ours["Mean"]) / Milliseconds(ort["Mean"]);
            rows.Add([$"1. FaceNet batch {batch}, ours / ONNX Runtime", $"{F2(ratio)} ({ours["Mean"]} / {ort["Mean"]})", $"≤ {F2(target)}", Met(ratio <= target)]);
            if (batch == "16")
            {
                string? column = report.Columns.FirstOrDefault(c => c.StartsWith("% of peak", StringComparison.Ordinal));
                if (column is null)
                {
                    missing.Add("goal 1's share of peak (no \"% of peak\" column)");
                    continue;
                }

                double share = double.Parse(ours[column].TrimEnd(' ', '%'), CultureInfo.InvariantCulture);
                rows.Add(["1. FaceNet batch 16, share of measured FMA peak", $"{ours[column]} {column[2..]}", "≥ 75 %", Met(share >= 75)]);
            }
        }
    }

    private static void Cli(string folder, List<string[]> rows, List<string> missing)
    {
        var report = Report.Load(folder, "CliEmbedBenchmarks");
        if (report is null)
        {
            missing.Add("goal 2 (InceptionNet.Bench.CliEmbedBenchmarks-report.csv, from bench/native/cli-vs-ort.sh)");
            return;
        }

        foreach (string build in new[] { "jit", "native" })
        {
            var marginal = report.Find(r => r["Case"] == $"{build} 64");
            if (marginal is null)
            {
                continue;
            }

            string ratio = marginal["Marginal / ORT best"];
            bool ok = double.TryParse(ratio, NumberStyles.Float, CultureInfo.InvariantCulture, out double value);
            rows.Add([$"2. CLI `embed` ({build} build), marginal per image over 64 / ONNX Runtime's best", ok ? $"{ratio} ({marginal["Per image"]} per image)" : ratio, "≤ 0.85", ok ? Met(value <= 0.85) : "—"]);
            if (report.Find(r => r["Case"] == $"{build} 1") is { } first)
            {
                rows.Add([$"2. CLI `embed` ({build} build), first embedding of one image from process start", first["Mean"], "report it", "—"]);
            }
        }
    }

    private static void Mtcnn(string folder, List<string[]> rows, List<string> missing)
    {
        var report = Report.Load(folder, "DetectBenchmarks");
        if (report is null)
        {
            missing.Add("goal 3 (InceptionNet.Bench.DetectBenchmarks-report.csv)");
            return;
        }

        // facenet-pytorch's lines: "facenet-pytorch MTCNN <photo> (<w>x<h>): median <ms> ms, …" (tools/mtcnn_peer_timing.py).
        var peer = new Dictionary<string, double>(StringComparer.Ordinal);
        string peerFile = Path.Combine(folder, "mtcnn-peer.txt");
        if (File.Exists(peerFile))
        {
            foreach (Match m in PeerLine().Matches(File.ReadAllText(peerFile)))
            {
                peer[m.Groups[1].Value] = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }
        else
        {
            missing.Add("goal 3's peer (mtcnn-peer.txt: set FACENET_PYTORCH to a facenet-pytorch checkout)");
        }

        double largest = 0;
        foreach (var row in report.Rows)
        {
            largest = Math.Max(largest, Bytes(row["Allocated"]));
            string file = row["File"];
            var match = peer.FirstOrDefault(p => SameParameter(file, p.Key));
            if (match.Key is null)
            {
                continue;
            }

            double speedup = match.Value / Milliseconds(row["Mean"]);
            rows.Add([$"3. MTCNN {match.Key}, facenet-pytorch / ours", $"{F2(speedup)}× ({F1(match.Value)} ms / {row["Mean"]})", "≥ 2×", Met(speedup >= 2)]);
        }

        rows.Add(["3. MTCNN, most allocated for one photo after warm-up", $"{F2(largest / (1 << 20))} MB", "≤ 5 MB", Met(largest <= 5 << 20)]);
    }

    private static void FaceApi(string folder, List<string[]> rows, List<string> missing)
    {
        var report = Report.Load(folder, "FaceApiBenchmarks");
        string peerFile = Path.Combine(folder, "faceapi-peer.json");
        var ours = report?.Find(r => r["Batch"] == "1");
        if (ours is null)
        {
            missing.Add("goal 4 (InceptionNet.Bench.FaceApiBenchmarks-report.csv)");
            return;
        }

        if (!File.Exists(peerFile))
        {
            missing.Add("goal 4's peer (faceapi-peer.json: needs node and npm)");
            rows.Add(["4. face-api batch 1 (ours alone)", ours["Mean"], "≤ 0.5× face-api wasm", "—"]);
            return;
        }

        using var json = JsonDocument.Parse(File.ReadAllText(peerFile));
        double wasm = json.RootElement.GetProperty("median_ms").GetDouble();
        double ratio = Milliseconds(ours["Mean"]) / wasm;
        rows.Add(["4. face-api batch 1, ours / face-api's wasm backend (1 thread)", $"{F2(ratio)} ({ours["Mean"]} / {F1(wasm)} ms)", "≤ 0.50", Met(ratio <= 0.5)]);
    }

    private static void Search(string folder, List<string[]> rows, List<string> missing)
    {
        var report = Report.Load(folder, "SearchBenchmarks");
        if (report is null)
        {
            missing.Add("goal 5 (InceptionNet.Bench.SearchBenchmarks-report.csv)");
            return;
        }

        foreach (var (n, limit) in new[] { ("10000", 0.3), ("1000000", 20.0) })
        {
            if (report.Find(r => r["Method"] == "'identify (top two identities)'" && r["N"] == n) is { } row)
            {
                double ms = Milliseconds(row["Mean"]);
                rows.Add([$"5. identify over {int.Parse(n, CultureInfo.InvariantCulture):N0} vectors", row["Mean"], $"≤ {limit.ToString(CultureInfo.InvariantCulture)} ms", Met(ms <= limit)]);
            }
            else
            {
                missing.Add($"goal 5 at {n} vectors");
            }
        }
    }

    // BenchmarkDotNet shortens long parameter values in its reports ("faces(...)1.jpg [21]": head, tail, full length).
    internal static bool SameParameter(string shown, string value)
    {
        if (shown == value)
        {
            return true;
        }

        var m = Shortened().Match(shown);
        return m.Success && value.Length == int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)
            && value.StartsWith(m.Groups[1].Value, StringComparison.Ordinal) && value.EndsWith(m.Groups[2].Value, StringComparison.Ordinal);
    }

    // "24.84 ms", "174.2 μs", "2,017.6 ms", "1.2 s" as milliseconds.
    internal static double Milliseconds(string value)
    {
        var (number, unit) = Split(value);
        return unit switch
        {
            "ns" => number / 1e6,
            "μs" or "us" => number / 1e3,
            "ms" => number,
            "s" => number * 1e3,
            _ => throw new FormatException($"'{value}' is not a time"),
        };
    }

    // "536 B", "76.2 KB", "1.5 MB", "-" (nothing) as bytes.
    internal static double Bytes(string value)
    {
        if (value is "-" or "0 B")
        {
            return 0;
        }

        var (number, unit) = Split(value);
        return unit switch
        {
            "B" => number,
            "KB" => number * 1024,
            "MB" => number * 1024 * 1024,
            "GB" => number * 1024 * 1024 * 1024,
            _ => throw new FormatException($"'{value}' is not a size"),
        };
    }

    private static (double Number, string Unit) Split(string value)
    {
        int space = value.LastIndexOf(' ');
        if (space < 0 || !double.TryParse(value[..space], NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out double number))
        {
            throw new FormatException($"'{value}' is not a number with a unit");
        }

        return (number, value[(space + 1)..]);
    }

    private static string Met(bool met) => met ? "yes" : "**no**";

    private static string F1(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

    private static string F2(double value) => value.ToString("F2", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"facenet-pytorch MTCNN (\S+) \([^)]*\): median ([0-9.]+) ms")]
    private static partial Regex PeerLine();

    [GeneratedRegex(@"^(.*)\(\.\.\.\)(.*) \[(\d+)\]$")]
    private static partial Regex Shortened();

    // One BenchmarkDotNet CSV report: its header and rows, quoted fields unquoted.
    private sealed class Report(string[] columns, List<Dictionary<string, string>> rows)
    {
        public string[] Columns { get; } = columns;

        public List<Dictionary<string, string>> Rows { get; } = rows;

        public Dictionary<string, string>? Find(Func<Dictionary<string, string>, bool> match) => Rows.FirstOrDefault(match);

        public static Report? Load(string folder, string benchmark)
        {
            string path = Path.Combine(folder, $"InceptionNet.Bench.{benchmark}-report.csv");
            if (!File.Exists(path))
            {
                return null;
            }

            var lines = File.ReadAllLines(path).Where(l => l.Length > 0).Select(Fields).ToList();
            if (lines.Count == 0)
            {
                throw new FormatException($"{path}: empty");
            }

            var rows = new List<Dictionary<string, string>>();
            foreach (var fields in lines.Skip(1))
            {
                if (fields.Count != lines[0].Count)
                {
                    throw new FormatException($"{path}: a row of {fields.Count} fields under a header of {lines[0].Count}");
                }

                var row = new Dictionary<string, string>(StringComparer.Ordinal);
                for (int i = 0; i < fields.Count; i++)
                {
                    row[lines[0][i]] = fields[i];
                }

                rows.Add(row);
            }

            return new Report([.. lines[0]], rows);
        }

        // Comma-separated; a field in double quotes may hold commas, and "" inside it is one quote.
        private static List<string> Fields(string line)
        {
            var fields = new List<string>();
            var field = new StringBuilder();
            bool quoted = false;
            for (int i = 0; i < line.Length; i++)
            {
                char c = line[i];
                if (quoted)
                {
                    if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else if (c == '"')
                    {
                        quoted = false;
                    }
                    else
                    {
                        field.Append(c);
                    }
                }
                else if (c == '"')
                {
                    quoted = true;
                }
                else if (c == ',')
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
                else
                {
                    field.Append(c);
                }
            }

            fields.Add(field.ToString());
            return fields;
        }
    }
}
