using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using InceptionNet.Models;
using InceptionNet.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Bench;

/// <summary>
/// FaceNet-160, our engine against ONNX Runtime on the same synthetic weights, 2 threads each, in pairs (issue 19, goal
/// 1): each invocation times one pass of each, about a second apart, and the ratio is the median of the pairs' ratios.
/// <see cref="FaceNetBenchmarks"/> measures the two as separate cases a minute or more apart, and on a VM whose speed
/// drifts by a third between phases that gap lands in its ratio whole (Zen 5 runs 9 and 11 of 2026-12-05: batch 16 at
/// 0.715 and batch 1 at 0.761, each the slow phase of one side, in runs that met every other goal). Here a drift slower
/// than a pair cancels.
/// <para>
/// Each side is timed as in its own loop: it pauses <see cref="SettleMs"/>, runs one untimed pass, then the timed one.
/// ONNX Runtime's intra-op threads go on spinning after a run and slow whatever runs next. On the Zen 5 VM, in three runs
/// of a probe, our batch-1 pass took 19–27 ms 0–20 ms after one of ONNX Runtime's passes, 12.0–14.6 ms 50 ms after and
/// 10.8–12.2 ms 100 ms after, against 10.7–11.5 ms after one of our own, whatever the gap. ONNX Runtime's pass took
/// 17.4–20.6 ms after one of ours at every gap, and 16.6–19.3 ms right after its own. Which side goes first alternates.
/// </para>
/// </summary>
[Config(typeof(PairedConfig))]
public class FaceNetPairedBenchmarks
{
    /// <summary>Measured pairs per batch size.</summary>
    public const int Pairs = 41;

    /// <summary>
    /// How long each side pauses before its untimed pass, so the other side's threads have gone quiet: ONNX Runtime's
    /// slowed our next pass for up to 100 ms on the Zen 5 VM (class remarks), so two and a half times that.
    /// Not a wait on the process's CPU time: Linux counts it in 10 ms ticks, and our pass was still slowed (13.3–14.2 ms)
    /// once 10 ms windows showed the process all but idle.
    /// </summary>
    public const int SettleMs = 250;

    /// <summary>What each pair measured, by batch size, in the order run (the warm-up invocation's first).</summary>
    internal static readonly Dictionary<int, List<(double Ours, double Ort)>> Measured = [];

    private InferenceSession? _ort;
    private DenseTensor<float>? _ortInput;
    private FaceEncoder? _engine;
    private WorkerPool? _workers;
    private float[] _input = [];
    private float[] _raw = [];
    private int _pair;

    /// <summary>Images per pass.</summary>
    [Params(1, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _workers = new WorkerPool(CliEmbedBenchmarks.Threads);
        _engine = FaceNetInceptionResNetV1.Load(BenchData.PathOf("fixtures", "facenet-synthetic", "weights.h5"), new ExecutionContext(_workers));
        _input = BenchData.Batch(_engine, Batch);
        _raw = new float[Batch * 128];
        var options = new SessionOptions { IntraOpNumThreads = CliEmbedBenchmarks.Threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _ort = new InferenceSession(BenchData.PathOf("fixtures", "facenet-synthetic", "model.onnx"), options);
        _ortInput = new DenseTensor<float>(_input, [Batch, 160, 160, 3]);
        // Past tiered compilation's tier 0 (this runs in the host process, which starts cold), and ONNX Runtime's memory
        // planning: both sides for 5 s.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(5))
        {
            Ours();
            Ort();
        }

        lock (Measured)
        {
            Measured[Batch] = [];
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ort?.Dispose();
        _ort = null;
        _workers?.Dispose();
        _workers = null;
    }

    /// <summary>One pair: a pass of each side, each timed after a pause and an untimed pass.</summary>
    [Benchmark]
    public void Pair()
    {
        double ours = 0, ort = 0;
        if (_pair++ % 2 == 0)
        {
            ours = TimeSecond(Ours);
            ort = TimeSecond(Ort);
        }
        else
        {
            ort = TimeSecond(Ort);
            ours = TimeSecond(Ours);
        }

        lock (Measured)
        {
            Measured[Batch].Add((ours, ort));
        }
    }

    /// <summary>The measured pairs of <paramref name="batch"/> (the warm-up invocation's left out), or none.</summary>
    internal static IReadOnlyList<(double Ours, double Ort)> PairsOf(int batch)
    {
        lock (Measured)
        {
            return Measured.TryGetValue(batch, out var pairs) ? [.. pairs.Skip(1)] : [];
        }
    }

    private void Ours() => _engine!.Forward(_input, Batch, _raw);

    private void Ort()
    {
        using var results = _ort!.Run([NamedOnnxValue.CreateFromTensor("input", _ortInput!)]);
        _ = results[0].AsTensor<float>().GetValue(0);
    }

    private static double TimeSecond(Action pass)
    {
        Thread.Sleep(SettleMs);
        return CliEmbedBenchmarks.TimeSecond(pass);
    }

    /// <summary>
    /// In process (the pairs are read back by the columns), one invocation per iteration, <see cref="Pairs"/> of them,
    /// and the pairs' columns.
    /// </summary>
    private sealed class PairedConfig() : ProcessBenchConfig(
        ProcessBenchConfig.Job.WithIterationCount(Pairs), new PairColumn(PairColumn.Kind.Ours), new PairColumn(PairColumn.Kind.Ort),
        new PairColumn(PairColumn.Kind.Ratio), new PairColumn(PairColumn.Kind.MiddleHalf));
}

/// <summary>The medians of a <see cref="FaceNetPairedBenchmarks"/> row's pairs: each side's time, their ratio, its spread.</summary>
internal sealed class PairColumn(PairColumn.Kind kind) : CustomColumn(
    $"Pair{kind}",
    kind switch { Kind.Ours => "Ours", Kind.Ort => "ORT", Kind.Ratio => "Ours / ORT", _ => "Ratio, middle half" },
    (int)kind,
    kind switch
    {
        Kind.Ours => "Our engine's median time per pass over the pairs",
        Kind.Ort => "ONNX Runtime's median time per pass over the pairs",
        Kind.Ratio => "The median over the pairs of ours / ONNX Runtime's, each pair's two passes seconds apart",
        _ => "The 25th to 75th percentile of the pairs' ratios",
    })
{
    /// <summary>What the column shows.</summary>
    public enum Kind
    {
        /// <summary>Our engine's time.</summary>
        Ours,

        /// <summary>ONNX Runtime's time.</summary>
        Ort,

        /// <summary>The ratio.</summary>
        Ratio,

        /// <summary>The ratio's middle half.</summary>
        MiddleHalf,
    }

    public override string GetValue(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var pairs = FaceNetPairedBenchmarks.PairsOf((int)benchmarkCase.Parameters["Batch"]);
        if (pairs.Count == 0)
        {
            return "-";
        }

        var ratios = pairs.Select(p => p.Ours / p.Ort).Order().ToArray();
        return kind switch
        {
            Kind.Ours => CliEmbedBenchmarks.Median(pairs.Select(p => p.Ours)).ToString("F3", CultureInfo.InvariantCulture) + " ms",
            Kind.Ort => CliEmbedBenchmarks.Median(pairs.Select(p => p.Ort)).ToString("F3", CultureInfo.InvariantCulture) + " ms",
            Kind.Ratio => CliEmbedBenchmarks.Median(ratios).ToString("F4", CultureInfo.InvariantCulture),
            _ => string.Create(CultureInfo.InvariantCulture, $"{ratios[ratios.Length / 4]:F3}–{ratios[3 * ratios.Length / 4]:F3}"),
        };
    }
}
