using BenchmarkDotNet.Attributes;
using InceptionNet.Recognition;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>
/// <c>eval</c>'s arithmetic over a folder of N photos (20 per person, random unit vectors): every pair scored, then the
/// whole report (AUC, best threshold, 10-fold cross-validation, TAR at FAR, Markdown, ROC and histogram SVGs). Before the
/// one-pass threshold sweep this was O(P²) in the P = N(N−1)/2 pairs, and 1,000 photos (499,500 pairs) never finished.
/// </summary>
[MemoryDiagnoser]
public class EvalBenchmarks
{
    private ScoredPair[] _pairs = [];

    [Params(200, 1_000)]
    public int Photos { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var flat = SearchBenchmarks.RandomUnitVectors(Photos, 128);
        var vectors = Enumerable.Range(0, Photos).Select(i => flat.AsSpan(i * 128, 128).ToArray()).ToArray();
        var pairs = new List<ScoredPair>();
        for (int i = 0; i < Photos; i++)
        {
            for (int j = i + 1; j < Photos; j++)
            {
                pairs.Add(new ScoredPair(ElementwiseOps.Distance(vectors[i], vectors[j]), i / 20 == j / 20, VerificationEvaluation.ContiguousFold(pairs.Count, Photos * (Photos - 1) / 2, 10)));
            }
        }

        _pairs = [.. pairs];
    }

    [Benchmark(Description = "eval report (all pairs)")]
    public int Report()
    {
        var evaluation = new VerificationEvaluation(_pairs);
        var context = new EvaluationContext("bench", "facenet", "0123456789abcdef0123", [$"{Photos} random unit vectors, 20 per person"], 0.7);
        string markdown = EvaluationReport.Markdown(evaluation, context, 1e-3);
        var operating = evaluation.AtFar(1e-3);
        return markdown.Length + EvaluationReport.RocSvg(evaluation, operating).Length + EvaluationReport.HistogramSvg(evaluation, 0.7, operating.Threshold).Length;
    }
}
