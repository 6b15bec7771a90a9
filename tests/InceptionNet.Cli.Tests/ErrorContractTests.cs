using System.Text.Json;
using InceptionNet.Cli;
using InceptionNet.TestSupport;
using Xunit;
using static InceptionNet.Cli.Tests.CliRunner;

namespace InceptionNet.Cli.Tests;

/// <summary>Every failure of every command: exit 2 and one line <c>error: &lt;file&gt;: &lt;problem&gt;</c>, never a stack trace.</summary>
public sealed class ErrorContractTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void An_unwritable_output_path_is_one_error_line_with_exit_2()
    {
        string target = Path.Combine(_dir, "no-such-folder", "x.png");
        var (exit, stdout, stderr) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--draw", target, SharedData.CourseImageFile("younes"));
        Assert.Equal(CliApp.Error, exit);
        Assert.Equal($"error: {target}: folder not found.", stderr.Trim());
        Assert.Equal(string.Empty, stdout);
    }

    [Fact]
    public void With_json_the_error_is_json_on_stdout()
    {
        string target = Path.Combine(_dir, "no-such-folder", "x.png");
        var (exit, stdout, _) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", "--draw", target, SharedData.CourseImageFile("younes"));
        Assert.Equal(CliApp.Error, exit);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal($"{target}: folder not found.", doc.RootElement.GetProperty("error").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("exit_code").GetInt32());

        var (usageExit, usageOut, _) = Run("embed", "--json", "--batch", "many", SharedData.CourseImageFile("younes"));
        Assert.Equal(CliApp.Error, usageExit);
        Assert.Contains("many", JsonDocument.Parse(usageOut).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Verbose_adds_the_stack_trace_and_nothing_else_does()
    {
        string target = Path.Combine(_dir, "no-such-folder", "x.png");
        var (_, _, quiet) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--draw", target, SharedData.CourseImageFile("younes"));
        var (exit, _, verbose) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--verbose", "--draw", target, SharedData.CourseImageFile("younes"));
        Assert.Equal(CliApp.Error, exit);
        Assert.DoesNotContain("   at ", quiet, StringComparison.Ordinal);
        Assert.Contains("   at ", verbose, StringComparison.Ordinal);
    }

    [Fact]
    public void One_mapping_from_exception_to_exit_code()
    {
        // A failure no layer documents is a bug of ours: still one line and exit 2.
        Assert.Equal((2, "error: internal error (KeyNotFoundException: boom). This is a bug: run again with --verbose for the stack trace, and report it."),
            CliErrors.Describe(new KeyNotFoundException("boom")));
        Assert.Equal(2, CliErrors.Describe(new InsufficientMemoryException()).Exit);
        Assert.Equal((2, "error: /data/g.json: permission denied."), CliErrors.Describe(new UnauthorizedAccessException("Access to the path '/data/g.json' is denied.")));
        Assert.Equal((2, "error: /x/y.jpg: file not found."), CliErrors.Describe(new FileNotFoundException("gone", "/x/y.jpg")));
        Assert.Equal(CliErrors.Describe(new InvalidDataException("inner")), CliErrors.Describe(new AggregateException(new InvalidDataException("inner"))));
    }

    [Fact]
    public async Task Running_out_of_memory_is_an_error_line_not_a_crash()
    {
        // A 64 MiB heap cannot hold the activations of a FaceNet batch of 32 (the first convolution's output alone is
        // 79·79·32 floats per image, 26 MB for the batch): the encode fails with OutOfMemoryException, which must come out
        // as the documented line and exit 2 (not the runtime's crash report and exit 134 or 1). The packed weights are
        // native memory, outside the GC heap's limit, so loading alone no longer runs out (one image passes at 64 MiB).
        string image = SharedData.CourseImageFile("younes");
        var (exit, stdout, stderr) = await CliRunner.RunProcessAsync(
            ["embed", "--weights", SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5"), "--batch", "32", .. Enumerable.Repeat(image, 32)],
            TimeSpan.FromMinutes(3), environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x4000000" });
        Assert.Equal(CliApp.Error, exit);
        // The load's own progress line comes first; then the one error line, and nothing of a crash.
        var lines = stderr.Trim().Split('\n');
        Assert.StartsWith("Loaded facenet from ", lines[0], StringComparison.Ordinal);
        Assert.Equal(["error: out of memory. Give fewer or smaller images at a time, a smaller --batch, or more memory."], lines[1..]);
        Assert.Equal(string.Empty, stdout);
    }

    [Fact]
    public void The_memory_reserve_is_let_go_when_out_of_memory_is_thrown_before_any_handler_runs()
    {
        // The CLI's entry point holds a few megabytes so that, at the heap's limit, carrying the exception to the
        // handler above (the async machinery captures it, which allocates) does not fail too and abort the process with
        // the runtime's bare "Out of memory." (exit 134, seen under a 96 MiB heap before the reserve).
        MemoryReserve.Install();
        Assert.True(MemoryReserve.Held);
        bool heldInHandler = true;
        int tooLong = int.MaxValue; // past Array.MaxLength: the runtime throws OutOfMemoryException without allocating
        try
        {
            GC.KeepAlive(new byte[tooLong]);
        }
        catch (OutOfMemoryException)
        {
            heldInHandler = MemoryReserve.Held;
        }

        Assert.False(heldInHandler); // already released when the first catch block ran
    }
}
