using System.Globalization;
using System.Net;
using System.Text;

namespace InceptionNet.Recognition;

/// <summary>What the report says about the run besides the metrics.</summary>
/// <param name="Title">Heading, e.g. "faceapi on images/faces".</param>
/// <param name="ModelId">Model id.</param>
/// <param name="WeightsDigest">Weights digest (SHA-256).</param>
/// <param name="Details">Extra lines (data set, detection, skipped photos, timing), each a Markdown bullet.</param>
/// <param name="ModelThreshold">The model's default threshold, marked on the plots.</param>
public sealed record EvaluationContext(string Title, string ModelId, string WeightsDigest, IReadOnlyList<string> Details, double ModelThreshold);

/// <summary>
/// Writes an evaluation as <c>report.md</c> (tables), <c>roc.svg</c>, <c>histogram.svg</c> and <c>report.html</c> (the
/// same content with the plots inline, to open in a browser). The SVG is written by hand: axes, ticks, curves, legend.
/// </summary>
public static class EvaluationReport
{
    private const int Width = 560;
    private const int Height = 420;
    private const int Left = 64;
    private const int Right = 20;
    private const int Top = 36;
    private const int Bottom = 52;

    private static readonly string[] ReportFiles = ["report.md", "roc.svg", "histogram.svg", "report.html"];

    /// <summary>Standard FARs reported as TAR@FAR.</summary>
    public static IReadOnlyList<double> StandardFars { get; } = [1e-2, 1e-3];

    /// <summary>
    /// Writes the four files into <paramref name="directory"/> (created if needed); returns their paths and the Markdown
    /// body (summary and tables) for printing.
    /// </summary>
    public static (IReadOnlyList<string> Paths, string Markdown) Write(string directory, VerificationEvaluation evaluation, EvaluationContext context, double targetFar)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        ArgumentNullException.ThrowIfNull(context);
        Directory.CreateDirectory(directory);
        var operating = evaluation.AtFar(targetFar);
        string roc = RocSvg(evaluation, operating);
        string histogram = HistogramSvg(evaluation, context.ModelThreshold, operating.Threshold);
        string markdown = Markdown(evaluation, context, targetFar);
        var paths = ReportFiles.Select(f => Path.Combine(directory, f)).ToArray();
        File.WriteAllText(paths[0], markdown + "\n![ROC](roc.svg)\n\n![Distance histogram](histogram.svg)\n");
        File.WriteAllText(paths[1], roc);
        File.WriteAllText(paths[2], histogram);
        File.WriteAllText(paths[3], Html(markdown, roc, histogram, context.Title));
        return (paths, markdown);
    }

    /// <summary>The Markdown body (summary and tables, without the image links).</summary>
    public static string Markdown(VerificationEvaluation evaluation, EvaluationContext context, double targetFar)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        ArgumentNullException.ThrowIfNull(context);
        var s = new StringBuilder();
        var (bestThreshold, bestAccuracy) = evaluation.BestThreshold();
        var (tarAtModel, farAtModel) = evaluation.RatesAt(context.ModelThreshold);
        s.AppendLine(Inv($"# Verification report — {context.Title}"));
        s.AppendLine();
        s.AppendLine(Inv($"- model: `{context.ModelId}`, weights sha256 `{context.WeightsDigest[..Math.Min(16, context.WeightsDigest.Length)]}…`"));
        s.AppendLine(Inv($"- pairs: {evaluation.Genuine.Count} genuine, {evaluation.Impostor.Count} impostor"));
        foreach (string line in context.Details)
        {
            s.AppendLine("- " + line);
        }

        s.AppendLine();
        s.AppendLine("| metric | value |");
        s.AppendLine("|---|---|");
        s.AppendLine(Inv($"| ROC AUC | {evaluation.Auc:F4} |"));
        s.AppendLine(Inv($"| best accuracy (all pairs) | {bestAccuracy:P2} at threshold {bestThreshold:F4} |"));
        try
        {
            var cv = evaluation.CrossValidate();
            s.AppendLine(Inv($"| accuracy, {cv.FoldAccuracies.Count}-fold cross-validated | {cv.Mean:P2} ± {cv.StandardDeviation:P2} (thresholds {cv.FoldThresholds.Min():F3}–{cv.FoldThresholds.Max():F3}) |"));
        }
        catch (InvalidOperationException ex)
        {
            s.AppendLine(Inv($"| accuracy, cross-validated | n/a ({ex.Message}) |"));
        }

        s.AppendLine(Inv($"| at the model threshold {context.ModelThreshold:F2} | TAR {tarAtModel:P2}, FAR {farAtModel:P2}, accuracy {evaluation.AccuracyAt(context.ModelThreshold):P2} |"));
        foreach (double far in StandardFars.Append(targetFar).Distinct())
        {
            var p = evaluation.AtFar(far);
            string note = p.Resolvable ? string.Empty : Inv($" — not measurable: only {evaluation.Impostor.Count} impostor pairs (need ≥ {Math.Ceiling(1 / far):F0})");
            s.AppendLine(Inv($"| TAR @ FAR ≤ {far:G3} | {p.Tar:P2} (threshold {p.Threshold:F4}, measured FAR {p.Far:G3}){note} |"));
        }

        s.AppendLine();
        s.AppendLine("| distances | min | median | max |");
        s.AppendLine("|---|---|---|---|");
        s.AppendLine(Inv($"| genuine | {evaluation.Genuine[0]:F4} | {Median(evaluation.Genuine):F4} | {evaluation.Genuine[^1]:F4} |"));
        s.AppendLine(Inv($"| impostor | {evaluation.Impostor[0]:F4} | {Median(evaluation.Impostor):F4} | {evaluation.Impostor[^1]:F4} |"));
        var errors = evaluation.Pairs.Where(p => (p.Distance < context.ModelThreshold) != p.Same).OrderBy(p => p.Same ? -p.Distance : p.Distance).Take(10).ToList();
        if (errors.Count > 0)
        {
            s.AppendLine();
            s.AppendLine(Inv($"Errors at the model threshold {context.ModelThreshold:F2} (up to 10):"));
            s.AppendLine();
            s.AppendLine("| pair | same person | distance |");
            s.AppendLine("|---|---|---|");
            foreach (var e in errors)
            {
                s.AppendLine(Inv($"| {e.Left} ↔ {e.Right} | {(e.Same ? "yes" : "no")} | {e.Distance:F4} |"));
            }
        }

        return s.ToString();
    }

    /// <summary>ROC: TAR against FAR (linear axes), chance diagonal, the operating point for the target FAR marked.</summary>
    public static string RocSvg(VerificationEvaluation evaluation, FarOperatingPoint operating)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        var s = Start(Inv($"ROC (AUC {evaluation.Auc:F4})"));
        Axes(s, 0, 1, 0, 1, "false accept rate", "true accept rate");
        s.AppendLine(Inv($"<line x1=\"{X(0, 0, 1):F1}\" y1=\"{Y(0, 0, 1):F1}\" x2=\"{X(1, 0, 1):F1}\" y2=\"{Y(1, 0, 1):F1}\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>"));
        // One ROC point per distinct distance is hundreds of thousands for a large folder; points that land on the same
        // tenth of a pixel as the one before draw nothing new, so only the first of each run is kept.
        var points = new List<string>();
        foreach (var p in evaluation.Roc())
        {
            string point = Inv($"{X(p.Far, 0, 1):F1},{Y(p.Tar, 0, 1):F1}");
            if (points.Count == 0 || points[^1] != point)
            {
                points.Add(point);
            }
        }

        s.AppendLine($"<polyline fill=\"none\" stroke=\"#1f6fd1\" stroke-width=\"2\" points=\"{string.Join(' ', points)}\"/>");
        s.AppendLine(Inv($"<circle cx=\"{X(operating.Far, 0, 1):F1}\" cy=\"{Y(operating.Tar, 0, 1):F1}\" r=\"5\" fill=\"#d12f1f\"/>"));
        s.AppendLine(Inv($"<text x=\"{X(operating.Far, 0, 1) + 8:F1}\" y=\"{Y(operating.Tar, 0, 1) + 16:F1}\" font-size=\"12\" fill=\"#d12f1f\">FAR ≤ {operating.TargetFar:G3}: TAR {operating.Tar:P1} @ {operating.Threshold:F3}</text>"));
        return End(s);
    }

    /// <summary>Histogram of genuine and impostor distances (fraction of each per bin) with thresholds as vertical lines.</summary>
    public static string HistogramSvg(VerificationEvaluation evaluation, double modelThreshold, double farThreshold)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        const int bins = 30;
        double max = Math.Max(Math.Max(evaluation.Genuine[^1], evaluation.Impostor[^1]), modelThreshold) * 1.05;
        double width = max / bins;
        double[] Fractions(IReadOnlyList<double> values)
        {
            var f = new double[bins];
            foreach (double v in values)
            {
                f[Math.Min(bins - 1, (int)(v / width))] += 1.0 / values.Count;
            }

            return f;
        }

        var genuine = Fractions(evaluation.Genuine);
        var impostor = Fractions(evaluation.Impostor);
        double top = Math.Max(genuine.Max(), impostor.Max()) * 1.1;
        var s = Start("Distance distributions");
        Axes(s, 0, max, 0, top, "euclidean distance", "fraction of pairs");
        foreach (var (fractions, colour) in new[] { (impostor, "#d12f1f"), (genuine, "#1f9d3a") })
        {
            for (int b = 0; b < bins; b++)
            {
                if (fractions[b] <= 0)
                {
                    continue;
                }

                double x0 = X(b * width, 0, max), x1 = X((b + 1) * width, 0, max), y = Y(fractions[b], 0, top);
                s.AppendLine(Inv($"<rect x=\"{x0:F1}\" y=\"{y:F1}\" width=\"{x1 - x0:F1}\" height=\"{Y(0, 0, top) - y:F1}\" fill=\"{colour}\" fill-opacity=\"0.45\" stroke=\"{colour}\"/>"));
            }
        }

        foreach (var (t, label, dash) in new[] { (modelThreshold, "model threshold", "6 3"), (farThreshold, "FAR threshold", "2 3") })
        {
            s.AppendLine(Inv($"<line x1=\"{X(t, 0, max):F1}\" y1=\"{Top}\" x2=\"{X(t, 0, max):F1}\" y2=\"{Height - Bottom}\" stroke=\"#333\" stroke-dasharray=\"{dash}\"/>"));
            s.AppendLine(Inv($"<text x=\"{X(t, 0, max) + 4:F1}\" y=\"{Top + (dash == "6 3" ? 14 : 30)}\" font-size=\"11\">{label} {t:F3}</text>"));
        }

        Legend(s, [("genuine (same person)", "#1f9d3a"), ("impostor", "#d12f1f")]);
        return End(s);
    }

    private static string Html(string markdown, string roc, string histogram, string title)
    {
        var s = new StringBuilder();
        s.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + WebUtility.HtmlEncode(title) + "</title>");
        s.AppendLine("<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}.plots{display:flex;gap:1em;flex-wrap:wrap}</style></head><body>");
        bool inTable = false;
        foreach (string raw in markdown.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith('|'))
            {
                var cells = line.Trim('|').Split('|').Select(c => WebUtility.HtmlEncode(c.Trim())).ToArray();
                if (cells.All(c => c.All(ch => ch == '-')))
                {
                    continue;
                }

                if (!inTable)
                {
                    s.AppendLine("<table><tr>" + string.Concat(cells.Select(c => $"<th>{c}</th>")) + "</tr>");
                    inTable = true;
                    continue;
                }

                s.AppendLine("<tr>" + string.Concat(cells.Select(c => $"<td>{c}</td>")) + "</tr>");
                continue;
            }

            if (inTable)
            {
                s.AppendLine("</table>");
                inTable = false;
            }

            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                s.AppendLine($"<h1>{WebUtility.HtmlEncode(line[2..])}</h1>");
            }
            else if (line.StartsWith("- ", StringComparison.Ordinal))
            {
                s.AppendLine($"<p>• {WebUtility.HtmlEncode(line[2..]).Replace("`", string.Empty, StringComparison.Ordinal)}</p>");
            }
            else if (line.Length > 0)
            {
                s.AppendLine($"<p>{WebUtility.HtmlEncode(line)}</p>");
            }
        }

        if (inTable)
        {
            s.AppendLine("</table>");
        }

        s.AppendLine("<div class=\"plots\">" + roc + histogram + "</div></body></html>");
        return s.ToString();
    }

    private static StringBuilder Start(string title)
    {
        var s = new StringBuilder();
        s.AppendLine(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\">"));
        s.AppendLine(Inv($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        s.AppendLine(Inv($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{WebUtility.HtmlEncode(title)}</text>"));
        return s;
    }

    private static string End(StringBuilder s) => s.AppendLine("</svg>").ToString();

    private static void Axes(StringBuilder s, double x0, double x1, double y0, double y1, string xLabel, string yLabel)
    {
        s.AppendLine(Inv($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#333\"/>"));
        for (int i = 0; i <= 5; i++)
        {
            double vx = x0 + (x1 - x0) * i / 5, vy = y0 + (y1 - y0) * i / 5;
            double px = X(vx, x0, x1), py = Y(vy, y0, y1);
            s.AppendLine(Inv($"<line x1=\"{px:F1}\" y1=\"{Height - Bottom}\" x2=\"{px:F1}\" y2=\"{Height - Bottom + 5}\" stroke=\"#333\"/><text x=\"{px:F1}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\" font-size=\"11\">{vx:G3}</text>"));
            s.AppendLine(Inv($"<line x1=\"{Left - 5}\" y1=\"{py:F1}\" x2=\"{Left}\" y2=\"{py:F1}\" stroke=\"#333\"/><text x=\"{Left - 8}\" y=\"{py + 4:F1}\" text-anchor=\"end\" font-size=\"11\">{vy:G3}</text>"));
            s.AppendLine(Inv($"<line x1=\"{Left}\" y1=\"{py:F1}\" x2=\"{Width - Right}\" y2=\"{py:F1}\" stroke=\"#eee\"/>"));
        }

        s.AppendLine(Inv($"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\" font-size=\"12\">{xLabel}</text>"));
        s.AppendLine(Inv($"<text x=\"16\" y=\"{(Top + Height - Bottom) / 2}\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 {(Top + Height - Bottom) / 2})\">{yLabel}</text>"));
    }

    private static void Legend(StringBuilder s, IReadOnlyList<(string Label, string Colour)> entries)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            int y = Top + 50 + i * 18, x = Width - Right - 170;
            s.AppendLine(Inv($"<rect x=\"{x}\" y=\"{y - 10}\" width=\"12\" height=\"12\" fill=\"{entries[i].Colour}\" fill-opacity=\"0.45\" stroke=\"{entries[i].Colour}\"/><text x=\"{x + 18}\" y=\"{y}\" font-size=\"11\">{entries[i].Label}</text>"));
        }
    }

    private static double X(double v, double min, double max) => Left + (v - min) / (max - min) * (Width - Left - Right);

    private static double Y(double v, double min, double max) => Height - Bottom - (v - min) / (max - min) * (Height - Top - Bottom);

    private static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
