using BenchmarkDotNet.Running;
using InceptionNet.Bench;

if (args.Length > 0 && args[0] == "--quick")
{
    // Stopwatch summary for closing notes and smoke checks; BenchmarkDotNet is the measurement of record.
    QuickReport.Run(args.Skip(1).ToArray());
    return;
}

if (args.Length > 0 && args[0] == "--goals")
{
    // bench/goals.sh's last step: the saved reports read back against issue 19's targets.
    Environment.Exit(GoalSummary.Run(args.Length > 1 ? args[1] : "."));
}

BenchmarkSwitcher.FromAssembly(typeof(FaceNetBenchmarks).Assembly).Run(args);
