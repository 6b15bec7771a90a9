using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>
/// The native (NativeAOT) CLI against the JIT build, as whole processes the way a user runs them (issue 18). Each
/// invocation starts one <c>inceptionnet embed</c> process and waits for its JSON. The builds come from the environment:
/// <c>INCEPTIONNET_NATIVE_CLI</c> (the launcher of <c>tools/native/publish.sh linux-x64</c>) and
/// <c>INCEPTIONNET_JIT_CLI</c> (<c>inceptionnet.dll</c> of a framework-dependent <c>dotnet publish</c>, run with
/// <c>dotnet</c>). <c>bench/native/run.sh</c> sets both and runs <c>--filter '*Native*'</c>.
/// </summary>
internal static class NativeCli
{
    public static string Native => Required("INCEPTIONNET_NATIVE_CLI");

    public static string Jit => Required("INCEPTIONNET_JIT_CLI");

    public static string WeightsOf(string model) => model switch
    {
        "facenet" => BenchData.PathOf("fixtures", "facenet-synthetic", "weights.h5"),
        "openface" => BenchData.PathOf("fixtures", "openface-synthetic", "weights.h5"),
        "faceapi" => BenchData.PathOf("weights", "faceapi"),
        _ => throw new ArgumentException($"unknown model '{model}'", nameof(model)),
    };

    /// <summary>The image every run embeds: a 96×96 course face (no detection).</summary>
    public static string Face => BenchData.PathOf("images", "course", "younes.jpg");

    /// <summary>Runs one CLI process to the end; fails with its stderr when it does not exit 0.</summary>
    public static void Run(bool native, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(native ? Native : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!native)
        {
            start.ArgumentList.Add(Jit);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0 || !output.Result.TrimStart().StartsWith('{') && !output.Result.TrimStart().StartsWith('['))
        {
            throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}: {errors.Result}");
        }
    }

    private static string Required(string variable)
    {
        string? path = Environment.GetEnvironmentVariable(variable);
        return !string.IsNullOrEmpty(path) && File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{variable} must name the build to run (bench/native/run.sh sets it); it is '{path}'.");
    }
}

/// <summary>Cold start: process start to JSON out for one <c>embed</c> of one image, per model.</summary>
[Config(typeof(ProcessBenchConfig))]
public class NativeColdStartBenchmarks
{
    private string[] _arguments = [];

    [Params("facenet", "openface", "faceapi")]
    public string Model { get; set; } = "facenet";

    [GlobalSetup]
    public void Setup() => _arguments = ["embed", "--model", Model, "--weights", NativeCli.WeightsOf(Model), "--json", NativeCli.Face];

    [Benchmark(Baseline = true, Description = "JIT build")]
    public void Jit() => NativeCli.Run(native: false, _arguments, new Dictionary<string, string>());

    [Benchmark(Description = "native build")]
    public void Native() => NativeCli.Run(native: true, _arguments, new Dictionary<string, string>());
}

/// <summary>
/// Steady state: FaceNet-160 <c>embed</c> of 8 and of 64 copies of one image at each kernel level, batch 1 and 16; the
/// marginal time per image between them (load and warm-up cancel) is the <see cref="MarginalPerImageColumn"/>. The native
/// launcher picks the binary for the level (<c>INCEPTIONNET_SIMD</c> caps it); the JIT is capped the same way, and at
/// Vector128 also runs without AVX2/FMA (<c>DOTNET_EnableAVX2=0</c>), which is what an x86-64-v2 machine gives it.
/// </summary>
[Config(typeof(ProcessBenchConfig))]
public class NativeSteadyStateBenchmarks
{
    private string? _folder;
    private string[] _arguments = [];
    private Dictionary<string, string> _environment = [];

    [Params(SimdLevel.Vector512, SimdLevel.Vector256, SimdLevel.Vector128)]
    public SimdLevel Level { get; set; } = SimdLevel.Vector256;

    [Params(1, 16)]
    public int Batch { get; set; } = 1;

    [Params(8, 64)]
    public int Images { get; set; } = 8;

    [GlobalSetup]
    public void Setup()
    {
        if (Simd.Clamp(Level) != Level)
        {
            throw new NotSupportedException($"This CPU runs up to {Simd.Best}; {Level} would silently measure {Simd.Clamp(Level)}.");
        }

        _folder = Directory.CreateTempSubdirectory("inceptionnet-native-bench-").FullName;
        var images = new List<string>();
        for (int i = 0; i < Images; i++)
        {
            string copy = Path.Combine(_folder, $"{i:D2}.jpg");
            File.CreateSymbolicLink(copy, NativeCli.Face);
            images.Add(copy);
        }

        _arguments = ["embed", "--model", "facenet", "--weights", NativeCli.WeightsOf("facenet"), "--json", "--batch", Batch.ToString(CultureInfo.InvariantCulture), .. images];
        string cap = Level switch { SimdLevel.Vector512 => "512", SimdLevel.Vector256 => "256", _ => "128" };
        _environment = new() { ["INCEPTIONNET_SIMD"] = cap };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Benchmark(Baseline = true, Description = "JIT build")]
    public void Jit()
    {
        var environment = new Dictionary<string, string>(_environment);
        if (Level == SimdLevel.Vector128)
        {
            environment["DOTNET_EnableAVX2"] = "0";
        }

        NativeCli.Run(native: false, _arguments, environment);
    }

    [Benchmark(Description = "native build")]
    public void Native() => NativeCli.Run(native: true, _arguments, _environment);
}

/// <summary>
/// One process per invocation, so no pilot stage or unrolling: a warm-up run (page cache, the file system) and then
/// seven measured runs, each one invocation. The marginal-time columns read the 8- and 64-image cases of the same build.
/// </summary>
internal class ProcessBenchConfig : ManualConfig
{
    /// <summary>
    /// The job: a warm-up run and seven measured runs of one invocation each. In process: the benchmark only starts and
    /// waits for child processes, so BenchmarkDotNet need not build and start a host of its own (which under load can
    /// time out before measuring anything).
    /// </summary>
    public static readonly Job Job = Job.Default.WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(7)
        .WithToolchain(InProcessEmitToolchain.Instance);

    public ProcessBenchConfig()
        : this(new MarginalPerImageColumn(ratio: false), new MarginalPerImageColumn(ratio: true))
    {
    }

    /// <summary>The job with <paramref name="columns"/> and the median.</summary>
    public ProcessBenchConfig(params IColumn[] columns)
        : this(Job, columns)
    {
    }

    /// <summary><paramref name="job"/> with <paramref name="columns"/> and the median.</summary>
    protected ProcessBenchConfig(Job job, params IColumn[] columns)
    {
        AddJob(job);
        AddColumn(columns);
        AddColumn(StatisticColumn.Median);
    }
}

/// <summary>
/// For a 64-image case: (mean of 64 images − mean of 8 images of the same build, level and batch) / 56, the time each
/// further image costs; or that of the native build over the JIT build's. Empty on other rows.
/// </summary>
internal sealed class MarginalPerImageColumn(bool ratio) : CustomColumn(
    ratio ? "MarginalRatio" : "MarginalPerImage",
    ratio ? "Marginal native/JIT" : "Marginal per image",
    ratio ? 1 : 0,
    ratio
        ? "Marginal time per image of the native build / that of the JIT build, same level and batch"
        : "(Mean with 64 images − mean with 8 images) / 56, in ms: the time of one more image once loaded and warm")
{
    public override bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => c.Parameters.Items.Any(p => p.Name == "Images"));

    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (!Equals(benchmarkCase.Parameters["Images"], 64))
        {
            return "-";
        }

        double? mine = Marginal(summary, benchmarkCase, benchmarkCase.Descriptor.WorkloadMethod.Name);
        if (!ratio)
        {
            return mine is { } ms ? ms.ToString("F1", CultureInfo.InvariantCulture) + " ms" : "-";
        }

        double? jit = Marginal(summary, benchmarkCase, "Jit");
        return mine is > 0 && jit is > 0 ? (mine.Value / jit.Value).ToString("F2", CultureInfo.InvariantCulture) : "-";
    }

    private static double? Marginal(Summary summary, BenchmarkCase like, string method)
    {
        double? Mean(int images) => summary.BenchmarksCases
            .Where(c => c.Descriptor.WorkloadMethod.Name == method && Equals(c.Parameters["Images"], images)
                && Equals(c.Parameters["Level"], like.Parameters["Level"]) && Equals(c.Parameters["Batch"], like.Parameters["Batch"]))
            .Select(c => summary[c]?.ResultStatistics?.Mean)
            .FirstOrDefault();
        return Mean(64) is { } many && Mean(8) is { } few ? (many - few) / 56 / 1e6 : null;
    }
}
