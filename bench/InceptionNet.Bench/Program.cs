using BenchmarkDotNet.Running;
using InceptionNet.Bench;

if (args.Length > 0 && args[0] == "--quick")
{
    // Stopwatch summary for closing notes and smoke checks; BenchmarkDotNet is the measurement of record.
    QuickReport.Run(args.Skip(1).ToArray());
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(FaceNetBenchmarks).Assembly).Run(args);
