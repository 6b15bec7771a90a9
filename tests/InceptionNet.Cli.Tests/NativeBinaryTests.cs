using System.Diagnostics;
using System.Text.Json;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Cli.Tests;

/// <summary>
/// The fixture checks run through a native (NativeAOT) build of the CLI as a user runs it: a child process, JSON on
/// stdout. Set <c>INCEPTIONNET_NATIVE_CLI</c> to the binary (<c>tools/native/publish.sh</c>) and, for another
/// architecture, <c>INCEPTIONNET_NATIVE_RUNNER</c> to its emulator (<c>qemu-aarch64-static</c>); <c>.ci/run</c> does
/// both. The images are a small subset, because under emulation every pass is 10–100× slower.
/// </summary>
public sealed class NativeBinaryTests(ITestOutputHelper output)
{
    private const string BinaryVariable = "INCEPTIONNET_NATIVE_CLI";
    private const string RunnerVariable = "INCEPTIONNET_NATIVE_RUNNER";

    // The same bars as the in-process fixture tests (OpenFaceFixtureTests, FaceApiFixtureTests, MtcnnFixtureTests):
    // the native build runs the same kernels, so it must meet the same tolerances.
    private const double OpenFaceEmbeddingTolerance = 1e-5;
    private const double FaceApiDescriptorTolerance = 1e-4;
    private const double PixelTolerance = 1e-4;
    private const double ProbabilityTolerance = 1e-5;

    private static readonly string[] Course = ["camera_0", "danielle", "younes"];

    private static string Binary()
    {
        string? binary = Environment.GetEnvironmentVariable(BinaryVariable);
        Skip.If(string.IsNullOrEmpty(binary), $"skipped: set {BinaryVariable} to a native build (tools/native/publish.sh) to run the fixture checks through it");
        Assert.True(File.Exists(binary), $"{BinaryVariable}={binary}: no such file");
        return binary!;
    }

    private JsonElement RunJson(params string[] args) => JsonDocument.Parse(Run(args)).RootElement.Clone();

    private string Run(params string[] args)
    {
        string binary = Binary();
        string? runner = Environment.GetEnvironmentVariable(RunnerVariable);
        var start = new ProcessStartInfo(string.IsNullOrEmpty(runner) ? binary : runner)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = SharedData.RepoRoot,
        };
        if (!string.IsNullOrEmpty(runner))
        {
            start.ArgumentList.Add(binary);
        }

        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Emulated runs of face-api take tens of seconds; 10 minutes means a hang, not slowness.
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{binary} {string.Join(' ', args)}: still running after 10 minutes");
        }

        output.WriteLine($"{Path.GetFileName(binary)} {string.Join(' ', args.Take(3))} …: exit {process.ExitCode} in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    [SkippableFact]
    public void OpenFace_embeddings_match_the_PyTorch_fixture()
    {
        var result = RunJson(["embed", "--model", "openface", "--weights", SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), "--json",
            .. Course.Select(SharedData.CourseImageFile)]);
        var expected = SharedData.Json("fixtures", "openface-synthetic", "expected.json").GetProperty("course").GetProperty("encodings");
        Assert.Equal(Course.Length, result.GetArrayLength());
        double worst = 0;
        for (int i = 0; i < Course.Length; i++)
        {
            worst = Math.Max(worst, TestData.MaxAbsDiff(Floats(result[i].GetProperty("embedding")), SharedData.Numbers(expected.GetProperty(Course[i]).GetProperty("embedding"))));
        }

        output.WriteLine($"openface: max |native − PyTorch| = {worst:E2}");
        Assert.InRange(worst, 0, OpenFaceEmbeddingTolerance);
    }

    [SkippableFact]
    public void FaceApi_descriptors_match_the_face_api_fixture()
    {
        var result = RunJson(["embed", "--model", "faceapi", "--weights", SharedData.PathOf("weights", "faceapi"), "--json",
            .. Course.Select(SharedData.CourseImageFile)]);
        var expected = SharedData.Json("fixtures", "faceapi", "expected.json").GetProperty("course").EnumerateArray()
            .ToDictionary(c => Path.GetFileNameWithoutExtension(c.GetProperty("image").GetString()!), c => SharedData.Numbers(c.GetProperty("descriptor")));
        double worst = 0;
        for (int i = 0; i < Course.Length; i++)
        {
            worst = Math.Max(worst, TestData.MaxAbsDiff(Floats(result[i].GetProperty("embedding")), expected[Course[i]]));
        }

        output.WriteLine($"faceapi: max |native − face-api| = {worst:E2}");
        Assert.InRange(worst, 0, FaceApiDescriptorTolerance);
    }

    [SkippableFact]
    public void Detect_matches_the_MTCNN_fixture()
    {
        const string image = "images/faces/obama-240p.jpg";
        var result = RunJson("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", SharedData.PathOf(image.Split('/')));
        var expected = SharedData.Json("fixtures", "mtcnn", "expected.json").GetProperty("images").GetProperty(image).GetProperty("faces");
        var faces = result[0].GetProperty("faces");
        Assert.Equal(expected.GetArrayLength(), faces.GetArrayLength());
        double worstPixel = 0, worstProbability = 0;
        for (int i = 0; i < faces.GetArrayLength(); i++)
        {
            worstPixel = Math.Max(worstPixel, MaxAbsDiff(SharedData.Numbers(faces[i].GetProperty("box")), SharedData.Numbers(expected[i].GetProperty("box"))));
            var landmarks = faces[i].GetProperty("landmarks").EnumerateArray().SelectMany(SharedData.Numbers).ToArray();
            var expectedLandmarks = expected[i].GetProperty("landmarks").EnumerateArray().SelectMany(SharedData.Numbers).ToArray();
            worstPixel = Math.Max(worstPixel, MaxAbsDiff(landmarks, expectedLandmarks));
            worstProbability = Math.Max(worstProbability, Math.Abs(faces[i].GetProperty("probability").GetDouble() - expected[i].GetProperty("probability").GetDouble()));
        }

        output.WriteLine($"detect {image}: {faces.GetArrayLength()} faces, max Δ {worstPixel:E2} px, probability Δ {worstProbability:E2}");
        Assert.InRange(worstPixel, 0, PixelTolerance);
        Assert.InRange(worstProbability, 0, ProbabilityTolerance);
    }

    public static TheoryData<string> BitExactCases => ["facenet", "openface", "faceapi", "faceapi-photo", "detect"];

    /// <summary>
    /// The native build and the JIT build (this test process, in-process CLI) print the same bytes at the same kernel
    /// level. <c>.ci/run</c> runs this at every <c>INCEPTIONNET_SIMD</c> cap, so each x64 binary (the launcher picks v2,
    /// v3 or v4 by the cap) is compared with the JIT at its own level.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(BitExactCases))]
    public void Output_equals_the_JIT_builds_bit_for_bit_at_the_same_kernel_level(string @case)
    {
        Binary();
        Skip.IfNot(string.IsNullOrEmpty(Environment.GetEnvironmentVariable(RunnerVariable)), "skipped: emulated binary (another architecture than this JIT's)");
        string[] course = [.. Course.Select(SharedData.CourseImageFile)];
        string photo = SharedData.PathOf("images", "faces", "obama-240p.jpg");
        string[] args = @case switch
        {
            "facenet" => ["embed", "--model", "facenet", "--weights", SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5"), "--json", .. course],
            "openface" => ["embed", "--model", "openface", "--weights", SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), "--json", .. course],
            "faceapi" => ["embed", "--model", "faceapi", "--weights", SharedData.PathOf("weights", "faceapi"), "--json", .. course],
            "faceapi-photo" => ["embed", "--model", "faceapi", "--weights", SharedData.PathOf("weights", "faceapi"), "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", photo],
            _ => ["detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", photo],
        };
        string target = RunJson("info", "--json").GetProperty("target").GetString()!;
        string native = Run(args);
        // The JIT runs as its own process on the instruction set the native binary was built for. It matters for the
        // x86-64-v2 binary: it has no FMA, so its Vector128 kernels round x·y + z twice where this CPU's JIT would fuse
        // (DOTNET_EnableAVX2=0 takes AVX2 and FMA, and everything above, away from the JIT).
        var environment = new Dictionary<string, string>();
        if (target == "x86-64-v2")
        {
            environment["DOTNET_EnableAVX2"] = "0";
        }

        var (exit, jit, stderr) = CliRunner.RunProcessAsync(args, TimeSpan.FromMinutes(5), SharedData.RepoRoot, environment).GetAwaiter().GetResult();
        Assert.True(exit == 0, stderr);
        output.WriteLine($"{@case} at {Simd.Default} ({target}): {native.Length} bytes of JSON");
        Assert.Equal(jit, native);
    }

    [SkippableFact]
    public void The_launcher_runs_the_binary_built_for_this_cpu()
    {
        string binary = Binary();
        Skip.IfNot(string.IsNullOrEmpty(Environment.GetEnvironmentVariable(RunnerVariable)) && System.Runtime.Intrinsics.X86.X86Base.IsSupported
            && File.Exists(binary + "-x86-64-v3") && File.Exists(binary + "-x86-64-v4"), "skipped: needs the linux-x64 set of three binaries run natively");
        // The JIT in this test process is the independent witness of what this CPU runs under the same INCEPTIONNET_SIMD
        // cap (inherited by the child): the launcher must pick the binary whose widest kernels are exactly that level.
        string expected = Simd.Default switch { SimdLevel.Vector512 => "x86-64-v4", SimdLevel.Vector256 => "x86-64-v3", _ => "x86-64-v2" };
        var info = RunJson("info", "--json");
        Assert.Equal("native", info.GetProperty("runtime").GetString());
        Assert.Equal(expected, info.GetProperty("target").GetString());
        Assert.Equal(Simd.Default.ToString(), info.GetProperty("kernels").GetString());
    }

    private static double MaxAbsDiff(double[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        return actual.Zip(expected, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
    }

    private static float[] Floats(JsonElement array) => [.. array.EnumerateArray().Select(v => v.GetSingle())];
}
