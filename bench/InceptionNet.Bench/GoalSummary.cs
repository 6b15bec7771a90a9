using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>
/// Issue 19's goals, read back from one <c>bench/goals.sh</c> run: the BenchmarkDotNet CSV reports it saved and the peers'
/// timings beside them, each ratio set against its target for the measuring machine's class (AVX-512 when the engine ran
/// its Vector512 kernels there, as <c>machine.txt</c> records, else AVX2). Ratios are computed from the reports' times, not
/// from their rounded ratio cells, so a miss by less than the last printed digit is still a miss. Prints a Markdown
/// table; a measurement the run lacks, or a case that failed, is a "not measured" line and a "no", never a guess.
/// </summary>
internal static partial class GoalSummary
{
    /// <summary>How <c>machine.txt</c>'s line with the engine's SIMD level begins (<c>--simd-level</c> prints it).</summary>
    public const string LevelLabel = "engine SIMD level: ";

    /// <summary>Reads <paramref name="folder"/> and prints the table; returns 0, or 2 when there is nothing to read.</summary>
    public static int Run(string folder)
    {
        if (!Directory.Exists(folder))
        {
            Console.Error.WriteLine($"error: {folder}: no such folder (give the folder bench/goals.sh wrote)");
            return 2;
        }

        if (Directory.GetFiles(folder, "InceptionNet.Bench.*-report.csv").Length == 0)
        {
            Console.Error.WriteLine($"error: {folder}: none of the reports bench/goals.sh saves is there");
            return 2;
        }

        var summary = new Summary();
        string? level = null;
        string machine = Path.Combine(folder, "machine.txt");
        if (File.Exists(machine))
        {
            level = File.ReadLines(machine).FirstOrDefault(l => l.StartsWith(LevelLabel, StringComparison.Ordinal))?[LevelLabel.Length..].Split(' ')[0];
        }

        if (level is null)
        {
            level = Simd.Default.ToString();
            summary.Missing.Add($"the measuring machine's SIMD level (no \"{LevelLabel}\" line in machine.txt): this machine's, {level}, is assumed");
        }

        bool avx512 = level == nameof(SimdLevel.Vector512);
        try
        {
            FaceNet(folder, avx512, summary);
            Cli(folder, summary);
            Mtcnn(folder, summary);
            FaceApi(folder, summary);
            Search(folder, summary);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Issue 19's goals, {(avx512 ? "AVX-512" : "AVX2")} class (the engine ran at {level}):");
        text.AppendLine();
        text.AppendLine("| goal | measured | target | met |");
        text.AppendLine("|---|---|---|---|");
        foreach (var row in summary.Rows)
        {
            text.AppendLine($"| {string.Join(" | ", row)} |");
        }

        if (summary.Missing.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Not measured in this run:");
            foreach (string line in summary.Missing)
            {
                text.Append("- ").AppendLine(line);
            }
        }

        Console.Write(text.ToString());
        return 0;
    }

    private static void FaceNet(string folder, bool avx512, Summary summary)
    {
        const string goal = "1. FaceNet";
        if (Report.Load(folder, "FaceNetBenchmarks", goal, summary) is not { } report)
        {
            return;
        }

        double target = avx512 ? 0.70 : 0.80;
        // The paired measurement (FaceNetPairedBenchmarks: a pass of each side per pair, the median of the pairs' ratios)
        // when the run has it; the separate cases' ratio below it either way.
        var paired = Report.Load(folder, "FaceNetPairedBenchmarks");
        foreach (string batch in new[] { "1", "16" })
        {
            if (paired?.Find(r => r["Batch"] == batch) is { } pair)
            {
                string pairedWhat = $"{goal} batch {batch}, ours / ONNX Runtime, median of pairs";
                if (double.TryParse(pair["Ours / ORT"], NumberStyles.Float, CultureInfo.InvariantCulture, out double median))
                {
                    summary.Add(pairedWhat, $"{median.ToString("F4", CultureInfo.InvariantCulture)} (medians {pair["Ours"]} / {pair["ORT"]}; middle half of the ratios {pair["Ratio, middle half"]})",
                        $"≤ {F2(target)}", median <= target);
                }
                else
                {
                    summary.NotMeasured(pairedWhat, $"the pairs at batch {batch} failed (Ours / ORT: '{pair["Ours / ORT"]}')");
                }
            }

            string what = $"{goal} batch {batch}, ours / ONNX Runtime{(paired is null ? "" : ", separate cases")}";
            var ours = report.Time(r => r["Method"] == "InceptionNet" && r["Batch"] == batch, $"InceptionNet at batch {batch}", out string oursText);
            var ort = report.Time(r => r["Method"] == "'ONNX Runtime'" && r["Batch"] == batch, $"ONNX Runtime at batch {batch}", out string ortText);
            if (ours is null || ort is null)
            {
                summary.NotMeasured(what, report.TakeProblems());
                continue;
            }

            double ratio = ours.Value / ort.Value;
            summary.Add(what, $"{F3(ratio)} ({oursText} / {ortText})", $"≤ {F2(target)}", ratio <= target);
            if (batch != "16")
            {
                continue;
            }

            // The column's header names the peak measured in that run: "% of peak (199 GFLOP/s)". The share is worked out
            // again from the GFLOP/s cell, which has no rounding to a whole percent.
            string share = $"{goal} batch 16, nominal GFLOP/s as a share of the measured FMA peak";
            string? column = report.Columns.FirstOrDefault(c => c.StartsWith("% of peak (", StringComparison.Ordinal));
            var peak = column is null ? null : PeakInHeader().Match(column);
            var row = report.Find(r => r["Method"] == "InceptionNet" && r["Batch"] == "16");
            if (peak is not { Success: true } || row is null
                || !double.TryParse(row["GFLOP/s"], NumberStyles.Float, CultureInfo.InvariantCulture, out double gflops))
            {
                summary.NotMeasured(share, "no GFLOP/s value or no \"% of peak (… GFLOP/s)\" column in the FaceNet report");
                continue;
            }

            double peakGflops = double.Parse(peak.Groups[1].Value, CultureInfo.InvariantCulture);
            double percent = 100 * gflops / peakGflops;
            string fmaUse = row.TryGetValue("FMA use", out string? use) ? $"; as performed (Winograd's fewer products), {use}" : "";
            summary.Add(share, $"{percent.ToString("F1", CultureInfo.InvariantCulture)} % ({row["GFLOP/s"]} of {peak.Groups[1].Value} GFLOP/s, peak measured in that run{fmaUse})", "≥ 75 %", percent >= 75);
        }
    }

    private static void Cli(string folder, Summary summary)
    {
        const string goal = "2. CLI `embed --model facenet`";
        if (Report.Load(folder, "CliEmbedBenchmarks", goal, summary, " (bench/native/cli-vs-ort.sh)") is not { } report)
        {
            return;
        }

        // The goal's ratio as CliEmbedBenchmarks defines it: on its "rounds" row, the median over rounds of the marginal
        // (64-image time − 16-image time) / 48 over ONNX Runtime's time per image at batch 16 in the same round. Reports from
        // before the rounds (separate 16- and 64-image cases) give (mean over 64 − mean over 16) / 48 over ONNX Runtime's
        // best time per image (batch 1 or 16) of the same run.
        var ort1 = report.Time(r => r["Case"] == "ort b1", "ort b1", out _);
        var ort16 = report.Time(r => r["Case"] == "ort b16", "ort b16", out _);
        double? ortBest = ort1 is null || ort16 is null ? null : Math.Min(ort1.Value, ort16.Value) / CliEmbedBenchmarks.OrtImages;
        string ortProblem = report.TakeProblems();
        var builds = report.Rows.Select(r => r["Case"].Split(' ')[0]).Where(b => b is "jit" or "native").Distinct().ToList();
        if (builds.Count == 0)
        {
            summary.NotMeasured(goal, "the report has no CLI rows (jit N / native N)");
            return;
        }

        foreach (string build in builds)
        {
            if (report.Find(r => r["Case"] == $"{build} rounds") is { } rounds)
            {
                // "ORT b16 in rounds" in the first reports with rounds (Zen 5 runs 9–13, where batch 16 was ONNX Runtime's best
                // by 1.4–1.8×); its best of batch 1 and 16 since.
                bool best = rounds["ORT best in rounds"].Length > 0;
                string ortColumn = best ? "ORT best in rounds" : "ORT b16 in rounds";
                string paired = $"{goal} ({build} build), marginal time per image over 64 / ONNX Runtime's {(best ? "best (batch 1 or 16)" : "at batch 16")}, median of rounds";
                double? marginal = Milliseconds(rounds["Per image"]), ortRound = Milliseconds(rounds[ortColumn]);
                if (marginal is null || ortRound is null || !double.TryParse(rounds["Marginal / ORT"], NumberStyles.Float, CultureInfo.InvariantCulture, out double median))
                {
                    summary.NotMeasured(paired, $"the {build} rounds failed or the report lacks their columns (Per image: '{rounds["Per image"]}')");
                }
                else
                {
                    string engine = Milliseconds(rounds["Engine b16 in rounds"]) is { } e ? $"; the engine in process {F2(e)} ms" : "";
                    summary.Add(paired, $"{median.ToString("F4", CultureInfo.InvariantCulture)} (medians: {F2(marginal.Value)} / {F2(ortRound.Value)} ms{engine}; middle half of the marginals {rounds["Marginal, middle half"]})",
                        "≤ 0.85", median <= 0.85);
                }

                FirstEmbedding(goal, build, report, summary);
                continue;
            }

            string what = $"{goal} ({build} build), marginal time per image over 64 / ONNX Runtime's best";
            var t64 = report.Time(r => r["Case"] == $"{build} 64", $"{build} 64", out _);
            var t16 = report.Time(r => r["Case"] == $"{build} 16", $"{build} 16", out _);
            if (t64 is null || t16 is null || ortBest is null)
            {
                summary.NotMeasured(what, string.Join("; ", new[] { ortProblem, report.TakeProblems() }.Where(p => p.Length > 0)));
            }
            else
            {
                double marginal = CliEmbedBenchmarks.MarginalPerImage(t64.Value, t16.Value), ratio = marginal / ortBest.Value;
                summary.Add(what, $"{F3(ratio)} ({F2(marginal)} / {F2(ortBest.Value)} ms)", "≤ 0.85", ratio <= 0.85);
            }

            FirstEmbedding(goal, build, report, summary);
        }
    }

    private static void FirstEmbedding(string goal, string build, Report report, Summary summary)
    {
        string first = $"{goal} ({build} build), first embedding of one image from process start";
        if (report.Time(r => r["Case"] == $"{build} 1", $"{build} 1", out string text) is null)
        {
            summary.NotMeasured(first, report.TakeProblems());
        }
        else
        {
            summary.Rows.Add([first, text, "report it", "—"]);
        }
    }

    private static void Mtcnn(string folder, Summary summary)
    {
        const string goal = "3. MTCNN";
        if (Report.Load(folder, "DetectBenchmarks", goal, summary) is not { } report)
        {
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

            if (peer.Count == 0)
            {
                summary.NotMeasured($"{goal} against facenet-pytorch", "mtcnn-peer.txt holds no timing line");
            }
        }
        else
        {
            summary.NotMeasured($"{goal} against facenet-pytorch", "no mtcnn-peer.txt (bench/goals.sh writes it when FACENET_PYTORCH names a checkout)");
        }

        double largest = 0;
        bool hasMedian = report.Columns.Contains("Median");
        bool failed = false; // a case without a time or an allocation: the largest allocation is then unknown
        var matched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in report.Rows)
        {
            string file = row["File"];
            string what = $"{goal} {file}, facenet-pytorch / ours";
            double? allocated = Bytes(row["Allocated"]);
            // The peer's number is a median of its calls, so ours is the median of our iterations: the same statistic on
            // both sides (a mean would carry every stall of a shared VM into our side only).
            double? ours = Milliseconds(row["Median"]);
            if (allocated is null || (ours is null && hasMedian))
            {
                summary.NotMeasured($"{goal} {file}", $"its case failed (Median {row["Median"]}, Allocated {row["Allocated"]})");
                failed = true;
                continue;
            }

            largest = Math.Max(largest, allocated.Value);
            var match = peer.FirstOrDefault(p => SameParameter(file, p.Key));
            if (match.Key is null)
            {
                if (peer.Count > 0)
                {
                    summary.NotMeasured(what, "mtcnn-peer.txt has no line for this photo");
                }

                continue;
            }

            matched.Add(match.Key);
            if (ours is null)
            {
                summary.NotMeasured(what, "the report has no Median column (DetectBenchmarks asks for one)");
                continue;
            }

            double speedup = match.Value / ours.Value;
            summary.Add($"{goal} {match.Key}, facenet-pytorch / ours", $"{F2(speedup)}× (median {F1(match.Value)} ms / median {row["Median"]})", "≥ 2×", speedup >= 2);
        }

        foreach (string photo in peer.Keys.Where(p => !matched.Contains(p)))
        {
            summary.NotMeasured($"{goal} {photo}", "timed by facenet-pytorch but not in our report");
        }

        if (!failed)
        {
            summary.Add($"{goal}, most allocated for one photo after warm-up", $"{F2(largest / (1 << 20))} MB", "≤ 5 MB", largest <= 5 << 20);
        }
        else
        {
            summary.NotMeasured($"{goal}, allocation per photo", "a case failed, so the largest allocation is unknown");
        }
    }

    private static void FaceApi(string folder, Summary summary)
    {
        const string goal = "4. face-api batch 1, ours / face-api's wasm backend";
        if (Report.Load(folder, "FaceApiBenchmarks", goal, summary) is not { } report)
        {
            return;
        }

        // Median against the peer's median, as for MTCNN.
        var ours = report.Time(r => r["Batch"] == "1", "face-api at batch 1", out string oursText, "Median");
        if (ours is null)
        {
            summary.NotMeasured(goal, report.TakeProblems());
            return;
        }

        string peerFile = Path.Combine(folder, "faceapi-peer.json");
        if (!File.Exists(peerFile) || new FileInfo(peerFile).Length == 0)
        {
            summary.NotMeasured(goal, $"no faceapi-peer.json (bench/goals.sh writes it where node and npm are installed); ours alone: {oursText}");
            return;
        }

        double wasm;
        string threads;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(peerFile));
            wasm = json.RootElement.GetProperty("median_ms").GetDouble();
            threads = json.RootElement.TryGetProperty("threads", out var t) ? t.ToString() : "?";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"{peerFile}: not the peer's JSON line ({ex.Message})");
        }

        double ratio = ours.Value / wasm;
        summary.Add($"{goal} ({threads} thread(s))", $"{F3(ratio)} (median {oursText} / median {F1(wasm)} ms)", "≤ 0.50", ratio <= 0.5);
    }

    private static void Search(string folder, Summary summary)
    {
        const string goal = "5. identify";
        if (Report.Load(folder, "SearchBenchmarks", goal, summary) is not { } report)
        {
            return;
        }

        foreach (var (n, limit) in new[] { ("10000", 0.3), ("1000000", 20.0) })
        {
            string what = $"{goal} over {int.Parse(n, CultureInfo.InvariantCulture):N0} vectors";
            var ms = report.Time(r => r["Method"] == "'identify (top two identities)'" && r["N"] == n, $"identify at N = {n}", out string text);
            if (ms is null)
            {
                summary.NotMeasured(what, report.TakeProblems());
                continue;
            }

            summary.Add(what, text, $"≤ {limit.ToString(CultureInfo.InvariantCulture)} ms", ms <= limit);
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

    // "24.84 ms", "174.2 μs", "2,017.6 ms", "1.2 s" as milliseconds; null for a case that did not run ("NA", "?", "-").
    internal static double? Milliseconds(string value)
    {
        if (Split(value) is not var (number, unit))
        {
            return null;
        }

        return unit switch
        {
            "ns" => number / 1e6,
            "μs" or "us" => number / 1e3,
            "ms" => number,
            "s" => number * 1e3,
            _ => throw new FormatException($"'{value}' is not a time"),
        };
    }

    // "0 B", "536 B", "76.2 KB", "1.5 MB" as bytes; null where nothing was measured ("NA", "?", "-").
    internal static double? Bytes(string value)
    {
        if (Split(value) is not var (number, unit))
        {
            return null;
        }

        return unit switch
        {
            "B" => number,
            "KB" => number * 1024,
            "MB" => number * 1024 * 1024,
            "GB" => number * 1024 * 1024 * 1024,
            _ => throw new FormatException($"'{value}' is not a size"),
        };
    }

    private static (double Number, string Unit)? Split(string value)
    {
        if (value is "NA" or "?" or "-" or "")
        {
            return null;
        }

        int space = value.LastIndexOf(' ');
        if (space < 0 || !double.TryParse(value[..space], NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out double number))
        {
            throw new FormatException($"'{value}' is not a number with a unit");
        }

        return (number, value[(space + 1)..]);
    }

    private static string F1(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

    private static string F2(double value) => value.ToString("F2", CultureInfo.InvariantCulture);

    private static string F3(double value) => value.ToString("F3", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"facenet-pytorch MTCNN (\S+) \([^)]*\): median ([0-9.]+) ms")]
    private static partial Regex PeerLine();

    [GeneratedRegex(@"^(.*)\(\.\.\.\)(.*) \[(\d+)\]$")]
    private static partial Regex Shortened();

    [GeneratedRegex(@"^% of peak \(([0-9.]+) GFLOP/s\)$")]
    private static partial Regex PeakInHeader();

    // The table's rows and what it could not measure.
    private sealed class Summary
    {
        public List<string[]> Rows { get; } = [];

        public List<string> Missing { get; } = [];

        public void Add(string goal, string measured, string target, bool met) => Rows.Add([goal, measured, target, met ? "yes" : "**no**"]);

        // A goal the run should have measured and did not: a "no" row, and the reason below the table.
        public void NotMeasured(string goal, string why)
        {
            Rows.Add([goal, "not measured", "", "**no**"]);
            Missing.Add($"{goal}: {why}");
        }
    }

    // One BenchmarkDotNet CSV report: its header and rows, quoted fields unquoted.
    private sealed class Report(string path, string[] columns, List<Dictionary<string, string>> rows)
    {
        public string[] Columns { get; } = columns;

        public List<Dictionary<string, string>> Rows { get; } = rows;

        // Every column the goals look up, by name.
        private static readonly string[] Looked = ["Method", "Mean", "Median", "Batch", "Case", "File", "N", "Allocated", "GFLOP/s",
            "Per image", "Marginal / ORT", "ORT b16 in rounds", "ORT best in rounds", "Engine b16 in rounds", "Marginal, middle half",
            "Ours", "ORT", "Ours / ORT", "Ratio, middle half"];

        private readonly List<string> _problems = [];

        public Dictionary<string, string>? Find(Func<Dictionary<string, string>, bool> match) => Rows.FirstOrDefault(match);

        // The `statistic` (Mean or Median) of the row matching `match` in ms, and the cell as printed; null when the row
        // is missing, the report lacks that column, or the case failed, which TakeProblems then says.
        public double? Time(Func<Dictionary<string, string>, bool> match, string what, out string text, string statistic = "Mean")
        {
            var row = Find(match);
            text = row?[statistic] ?? "";
            double? ms = row is null ? null : Milliseconds(text);
            if (ms is null)
            {
                _problems.Add(row is null ? $"{Path.GetFileName(path)} has no row for {what}"
                    : !Columns.Contains(statistic) ? $"{Path.GetFileName(path)} has no {statistic} column"
                    : $"{what} failed in {Path.GetFileName(path)} ({statistic}: {text})");
            }

            return ms;
        }

        // Why the Time calls since the last TakeProblems found nothing, and forgets it.
        public string TakeProblems()
        {
            string problems = string.Join("; ", _problems);
            _problems.Clear();
            return problems;
        }

        // The report, or null after noting the goal as not measured because the file is missing.
        public static Report? Load(string folder, string benchmark, string goal, Summary summary, string from = "")
        {
            var report = Load(folder, benchmark);
            if (report is null)
            {
                summary.NotMeasured(goal, $"InceptionNet.Bench.{benchmark}-report.csv{from} is missing");
            }

            return report;
        }

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

                foreach (string name in Looked)
                {
                    row.TryAdd(name, ""); // a column this report lacks reads as empty: that row then matches nothing
                }

                rows.Add(row);
            }

            if (!lines[0].Contains("Mean"))
            {
                throw new FormatException($"{path}: no \"Mean\" column");
            }

            return new Report(path, [.. lines[0]], rows);
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
