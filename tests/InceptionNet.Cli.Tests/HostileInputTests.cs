using System.Diagnostics;
using InceptionNet.Cli;
using InceptionNet.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Cli.Tests;

/// <summary>
/// Hostile files through the real command line, as a user would hit them: every command that reads images refuses each
/// one with its own <c>error: &lt;file&gt;: &lt;problem&gt;</c> line and exit 2 — no stack trace, no out-of-memory, no hang —
/// in a process whose managed heap is capped at 1.5 GiB.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] WriteHostileImages()
    {
        byte[] photo = File.ReadAllBytes(SharedData.CourseImageFile("younes"));
        var files = new Dictionary<string, byte[]>
        {
            ["idat-claims-1gib.png"] = HostileFiles.PngIdatClaimingOneGiB(),
            ["huge-header-tiny-data.png"] = HostileFiles.PngHugeHeaderTinyData(),
            ["above-pixel-budget.png"] = HostileFiles.PngAboveThePixelBudget(),
            ["deflate-bomb.png"] = HostileFiles.PngDeflateBombShortOfItsHeader(),
            ["1000-empty-scans.jpg"] = HostileFiles.JpegEmptyProgressiveScans(1000),
            ["dc-scan-without-data.jpg"] = HostileFiles.JpegDcScanWithoutData(),
            ["restart-intervals-of-nothing.jpg"] = HostileFiles.JpegRestartIntervalsOfNothing(),
            ["truncated.jpg"] = photo[..(photo.Length / 2)],
            ["garbage.jpg"] = [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 >> 3))],
            ["empty.png"] = [],
        };
        foreach (var (name, bytes) in files)
        {
            File.WriteAllBytes(Path.Combine(_dir, name), bytes);
        }

        return [.. files.Keys.Select(name => Path.Combine(_dir, name))];
    }

    [Theory]
    [InlineData("embed")]
    [InlineData("detect")]
    [InlineData("enroll")]
    public async Task Every_hostile_image_is_one_error_line_and_exit_2(string command)
    {
        var files = WriteHostileImages();
        string gallery = Path.Combine(_dir, "g.json");
        string[] args = command switch
        {
            "embed" => ["embed", "--model", "openface", "--weights", SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), "--json", .. files],
            "detect" => ["detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", .. files],
            _ => ["enroll", "--gallery", gallery, "--name", "mallory", "--model", "openface", "--weights", SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), .. files],
        };
        var clock = Stopwatch.StartNew();
        var (exit, stderr) = await RunCapped(args);
        output.WriteLine($"{command}: exit {exit} in {clock.Elapsed.TotalSeconds:F1} s\n{stderr}");
        Assert.Equal(CliApp.Error, exit);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("out of memory", stderr, StringComparison.Ordinal);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.All(lines, l => Assert.StartsWith("error: ", l, StringComparison.Ordinal));
        if (command == "enroll")
        {
            Assert.False(File.Exists(gallery), "enroll touched the gallery although its photos were refused");
        }
        else
        {
            foreach (string file in files)
            {
                Assert.Single(lines, l => l.StartsWith($"error: {file}: ", StringComparison.Ordinal));
            }
        }
    }

    public static TheoryData<string> RegressionFiles
    {
        get
        {
            var data = new TheoryData<string>();
            string root = Path.Combine(SharedData.RepoRoot, "tests", "fuzz-regressions");
            foreach (string target in new[] { "h5", "npy", "jpeg", "png", "gallery" })
            {
                string folder = Path.Combine(root, target);
                var files = Directory.Exists(folder) ? Directory.GetFiles(folder) : [];
                foreach (string file in files.Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                {
                    data.Add(Path.GetRelativePath(root, file));
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(RegressionFiles))]
    public void Every_fuzz_finding_through_the_command_that_reads_it_is_an_error_line(string relative)
    {
        // The fuzzer found these against the parsers; here each goes through the command a user would give it to.
        string file = Path.Combine(SharedData.RepoRoot, "tests", "fuzz-regressions", relative);
        string kind = relative.Split(Path.DirectorySeparatorChar)[0];
        string photo = SharedData.CourseImageFile("kian");
        string[] args;
        switch (kind)
        {
            case "h5":
                args = ["embed", "--model", "facenet", "--weights", file, photo];
                break;
            case "npy":
                string mtcnn = Path.Combine(_dir, "mtcnn");
                Directory.CreateDirectory(mtcnn);
                File.Copy(file, Path.Combine(mtcnn, "det1.npy"), overwrite: true);
                File.Copy(SharedData.PathOf("weights", "mtcnn", "det2.npy"), Path.Combine(mtcnn, "det2.npy"), overwrite: true);
                File.Copy(SharedData.PathOf("weights", "mtcnn", "det3.npy"), Path.Combine(mtcnn, "det3.npy"), overwrite: true);
                args = ["detect", "--mtcnn", mtcnn, photo];
                break;
            case "gallery":
                args = ["identify", "-g", file, "--weights", SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), photo];
                break;
            default:
                args = ["embed", "--json", "--model", "openface", "--weights", SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), file];
                break;
        }

        var clock = Stopwatch.StartNew();
        var (exit, _, stderr) = CliRunner.Run(args);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{relative}: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        // A finding the parser now reads correctly (exit 0) is fine; otherwise it is exactly the documented error.
        Assert.True(exit is CliApp.Success or CliApp.Error, $"{relative}: exit {exit}\n{stderr}");
        if (exit == CliApp.Error)
        {
            Assert.All(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), l => Assert.StartsWith("error: ", l, StringComparison.Ordinal));
        }
    }

    // The CLI in its own process with the managed heap capped at 1.5 GiB (the bound), and a deadline of 10 s per
    // file plus start-up: generous for a loaded 2-core VM, far below the minutes the old decoders took.
    private static async Task<(int Exit, string Stderr)> RunCapped(string[] args)
    {
        var (exit, _, stderr) = await CliRunner.RunProcessAsync(args, TimeSpan.FromSeconds(30 + 10 * args.Length),
            environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x60000000" });
        return (exit, stderr);
    }
}
