using System.Diagnostics;
using InceptionNet.Fuzz;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Fuzz.Tests;

/// <summary>
/// Replays every saved fuzz finding under tests/fuzz-regressions/TARGET/ through the same target function the AFL harness
/// runs. Files under a target's pending/ folder are findings in code owned elsewhere, kept for its owner and not replayed.
/// </summary>
public sealed class FuzzRegressionTests
{
    // The parsers promise at most 1 s for any input of 64 KB or less. Saved findings take milliseconds once the target is
    // warm; 1 s leaves two orders of magnitude for a loaded shared CI machine while still catching a regression to the
    // quadratic or unbounded behaviour the files were saved for.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(1);

    private static readonly string Root = Path.Combine(SharedData.RepoRoot, "tests", "fuzz-regressions");

    public static TheoryData<string, string> Files()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.Names)
        {
            string folder = Path.Combine(Root, target);
            if (!Directory.Exists(folder))
            {
                continue;
            }

            // A README.md beside the findings documents them; it is not an input.
            foreach (string file in Directory.EnumerateFiles(folder).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                data.Add(target, Path.GetFileName(file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Saved_input_is_accepted_or_rejected_with_the_documented_exception_in_time(string target, string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(Root, target, file));
        Warm(target);
        var clock = Stopwatch.StartNew();
        FuzzOutcome outcome;
        try
        {
            outcome = FuzzTargets.Run(target, input);
        }
        catch (Exception ex)
        {
            throw new Xunit.Sdk.XunitException($"tests/fuzz-regressions/{target}/{file}: escaped as {ex.GetType().Name}: {ex.Message}\n{ex}");
        }

        clock.Stop();
        Assert.True(clock.Elapsed <= Limit, $"tests/fuzz-regressions/{target}/{file}: {outcome} after {clock.Elapsed.TotalMilliseconds:F0} ms, over the {Limit.TotalMilliseconds:F0} ms bound.");
    }

    [Fact]
    public void Every_weights_target_has_saved_inputs()
    {
        foreach (string target in new[] { "npy", "pickle", "tfjs", "h5" })
        {
            string folder = Path.Combine(Root, target);
            Assert.True(Directory.Exists(folder) && Directory.EnumerateFiles(folder).Any(f => !f.EndsWith(".md", StringComparison.Ordinal)), $"no saved inputs in tests/fuzz-regressions/{target}");
        }
    }

    // The first call of a target pays for JIT compilation and static set-up, which is not what the bound is about.
    private static void Warm(string target)
    {
        try
        {
            FuzzTargets.Run(target, [0]);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Only the timing matters here; the replay itself reports any failure.
        }
    }
}
