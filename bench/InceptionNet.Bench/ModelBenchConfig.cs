using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace InceptionNet.Bench;

/// <summary>
/// The job of the model benchmarks — fixed warm-up and iteration counts so <c>--filter '*FaceNet*'</c> finishes in a
/// couple of minutes — plus GFLOP/s and % of the machine's measured fp32 peak as columns.
/// </summary>
internal sealed class ModelBenchConfig : ManualConfig
{
    public ModelBenchConfig()
    {
        // Tiered JIT needs a few dozen passes before every kernel runs optimized code; 8 warm-up iterations of ≥ 0.5 s cover it.
        AddJob(Job.Default.WithWarmupCount(8).WithIterationCount(15));
        AddColumn(new ThroughputColumn(percentOfPeak: false), new ThroughputColumn(percentOfPeak: true), new PerformedShareColumn());
    }
}

/// <summary>
/// What the custom numeric columns of these benchmarks share: always shown, in the custom category, dimensionless,
/// available in every summary, never a default column. A column names itself and gives its value.
/// </summary>
internal abstract class CustomColumn(string id, string name, int priority, string legend) : IColumn
{
    public string Id => id;

    public virtual string ColumnName => name;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => priority;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => legend;

    public virtual bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public abstract string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style);
}

/// <summary>GFLOP/s (2 × multiply-adds per image × batch / mean time), or that as a percentage of the measured peak.</summary>
internal sealed class ThroughputColumn(bool percentOfPeak) : CustomColumn(
    percentOfPeak ? "PercentOfPeak" : "GflopPerSecond",
    "GFLOP/s",
    percentOfPeak ? 1 : 0,
    percentOfPeak
        ? "GFLOP/s as a share of the fp32 FMA peak measured on this machine with all cores (see MachinePeak)"
        : "2 × multiply-adds per image (derived from the architecture) × batch / mean time")
{
    private static readonly Dictionary<Type, (long Nominal, long Performed)> s_multiplyAdds = [];
    private static readonly Lock s_gate = new();

    public override string ColumnName => percentOfPeak ? $"% of peak ({MachinePeak.Measured.TotalGflops:F0} GFLOP/s)" : "GFLOP/s";

    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (Gflops(summary, benchmarkCase, MultiplyAddsOf(benchmarkCase.Descriptor.Type).Nominal) is not { } gflops)
        {
            return "-";
        }

        return percentOfPeak ? PercentOfPeak(gflops) : gflops.ToString("F0", System.Globalization.CultureInfo.InvariantCulture);
    }

    // 2 × multiply-adds per image × batch / mean time (the mean is in ns: flop/ns = GFLOP/s); null without a result or a count.
    internal static double? Gflops(Summary summary, BenchmarkCase benchmarkCase, long multiplyAdds)
    {
        var statistics = summary[benchmarkCase]?.ResultStatistics;
        int batch = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Batch")?.Value is int b ? b : 1;
        return statistics is null || multiplyAdds == 0 ? null : 2.0 * multiplyAdds * batch / statistics.Mean;
    }

    internal static string PercentOfPeak(double gflops) =>
        (100 * gflops / MachinePeak.Measured.TotalGflops).ToString("F0", System.Globalization.CultureInfo.InvariantCulture) + " %";

    // Derived from each network's architecture in the host process (the benchmark itself runs in a child process), with
    // the benchmark's own loader: nominal (as a direct convolution counts them) and as our engine performs them.
    internal static (long Nominal, long Performed) MultiplyAddsOf(Type type)
    {
        lock (s_gate)
        {
            if (!s_multiplyAdds.TryGetValue(type, out var macs))
            {
                var model = typeof(IModelBenchmark).IsAssignableFrom(type) && !type.IsAbstract ? ((IModelBenchmark)Activator.CreateInstance(type)!).Load() : null;
                macs = model is null ? (0, 0) : (model.MultiplyAddsPerImage, model.PerformedMultiplyAddsPerImage);
                s_multiplyAdds[type] = macs;
            }

            return macs;
        }
    }
}

/// <summary>
/// What share of the FMA peak our engine's rows keep busy: the multiply-adds as performed (a layer that runs through a
/// Winograd form counts its transformed products, fewer than the nominal count) × 2 × batch / mean time, over the measured
/// peak. Not shown for the peer's rows: how it performs its arithmetic is not counted here.
/// </summary>
internal sealed class PerformedShareColumn() : CustomColumn(
    "PerformedPercentOfPeak",
    "FMA use",
    2,
    "Our engine only: multiply-adds as performed (Winograd layers count their transformed products) × 2 × batch / mean time, as a share of the measured peak")
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        bool peer = benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(FaceNetBenchmarks.OnnxRuntime);
        return !peer && ThroughputColumn.Gflops(summary, benchmarkCase, ThroughputColumn.MultiplyAddsOf(benchmarkCase.Descriptor.Type).Performed) is { } gflops
            ? ThroughputColumn.PercentOfPeak(gflops)
            : "-";
    }
}
