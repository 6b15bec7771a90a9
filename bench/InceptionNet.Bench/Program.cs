using BenchmarkDotNet.Running;
using InceptionNet.Bench;
using InceptionNet.Tensors;

if (args.Length > 0 && args[0] == "--quick")
{
    // Stopwatch summary for closing notes and smoke checks; BenchmarkDotNet is the measurement of record.
    QuickReport.Run(args.Skip(1).ToArray());
    return 0;
}

if (args.Length > 0 && args[0] == "--goals")
{
    // bench/goals.sh's last step: the saved reports read back against issue 19's targets.
    if (args.Length != 2)
    {
        Console.Error.WriteLine("usage: InceptionNet.Bench --goals FOLDER   (a folder bench/goals.sh wrote)");
        Environment.Exit(2);
    }

    Environment.Exit(GoalSummary.Run(args[1]));
}

if (args.Length > 0 && args[0] == "--simd-level")
{
    // The level the engine runs at here (INCEPTIONNET_SIMD applied) and the best the CPU has: bench/goals.sh records both.
    Console.WriteLine($"{GoalSummary.LevelLabel}{Simd.Default} (best on this CPU: {Simd.Best})");
    return 0;
}

// BenchmarkDotNet reports a benchmark that threw as NA and still exits 0: a script calling this must see the failure.
var summaries = BenchmarkSwitcher.FromAssembly(typeof(FaceNetBenchmarks).Assembly).Run(args).ToList();
var failed = summaries.SelectMany(s => s.Reports).Where(r => !r.Success).Select(r => r.BenchmarkCase.DisplayInfo).ToList();
if (summaries.Any(s => s.HasCriticalValidationErrors) || failed.Count > 0)
{
    Console.Error.WriteLine($"error: {failed.Count} benchmark case(s) failed{(failed.Count > 0 ? ": " + string.Join("; ", failed) : "")}; see the log above");
    return 1;
}

return 0;
