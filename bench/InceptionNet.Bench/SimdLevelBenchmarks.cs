using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using InceptionNet.Models;
using InceptionNet.Tensors;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Bench;

/// <summary>
/// FaceNet-160 (synthetic weights) on each vector kernel set in one run, with GFLOP/s and the speed relative to the
/// Vector256 set at the same batch. Scalar is left out: a batch-16 pass takes tens of seconds. No job is fixed, so
/// <c>--job short</c> gives a quick look: <c>-- --filter '*SimdLevel*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(SimdLevelBenchConfig))]
public class SimdLevelBenchmarks : IModelBenchmark
{
    private FaceEncoder _model = null!;
    private float[] _input = [];
    private float[] _raw = [];

    [Params(SimdLevel.Vector128, SimdLevel.Vector256, SimdLevel.Vector512)]
    public SimdLevel Level { get; set; } = SimdLevel.Vector256;

    [Params(1, 16)]
    public int Batch { get; set; }

    public FaceEncoder Load() => FaceNetInceptionResNetV1.Load(BenchData.PathOf("fixtures", "facenet-synthetic", "weights.h5"), new ExecutionContext(level: Level));

    [GlobalSetup]
    public void Setup()
    {
        if (Simd.Clamp(Level) != Level)
        {
            throw new NotSupportedException($"This CPU runs up to {Simd.Best}; {Level} would silently measure {Simd.Clamp(Level)}.");
        }

        _model = Load();
        _input = BenchData.Batch(_model, Batch);
        _raw = new float[Batch * 128];
    }

    [Benchmark(Description = "FaceNet-160 forward")]
    public float Forward()
    {
        _model.Forward(_input, Batch, _raw);
        return _raw[0];
    }
}

internal sealed class SimdLevelBenchConfig : ManualConfig
{
    public SimdLevelBenchConfig() => AddColumn(new ThroughputColumn(percentOfPeak: false), new SpeedVersusVector256Column());
}

/// <summary>Vector256's mean time over this case's, at the same batch: above 1 is faster than the Vector256 set.</summary>
internal sealed class SpeedVersusVector256Column : IColumn
{
    public string Id => nameof(SpeedVersusVector256Column);

    public string ColumnName => "Speed vs Vector256";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 2;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Mean time of the Vector256 case with the same batch / this case's mean time";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var reference = summary.BenchmarksCases.FirstOrDefault(c =>
            Equals(c.Parameters["Level"], SimdLevel.Vector256) && Equals(c.Parameters["Batch"], benchmarkCase.Parameters["Batch"]));
        double? mine = summary[benchmarkCase]?.ResultStatistics?.Mean;
        double? theirs = reference is null ? null : summary[reference]?.ResultStatistics?.Mean;
        return mine is > 0 && theirs is > 0 ? (theirs.Value / mine.Value).ToString("F2", CultureInfo.InvariantCulture) : "-";
    }
}
