using InceptionNet.Fuzz;
using SharpFuzz;

// Usage: InceptionNet.Fuzz TARGET                       under afl-fuzz (input on stdin, SharpFuzz fork server)
//        InceptionNet.Fuzz TARGET FILE...               replay files once each, printing the outcome (a crash is an exception)
//        InceptionNet.Fuzz --seeds TARGET DIR SHARED    write a starting corpus for TARGET into DIR
if (args is ["--seeds", var seedTarget, var seedDirectory, var sharedRoot])
{
    Console.WriteLine($"{SeedCorpus.Write(seedTarget, seedDirectory, sharedRoot)} seeds for {seedTarget} in {seedDirectory}");
    return 0;
}

if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: InceptionNet.Fuzz TARGET [FILE...]; TARGET is one of {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}

string target = args[0];
if (args.Length > 1)
{
    foreach (string file in args[1..])
    {
        FuzzOutcome outcome;
        try
        {
            outcome = FuzzTargets.Run(target, File.ReadAllBytes(file));
        }
        catch (Exception ex) when (Environment.GetEnvironmentVariable("INCEPTIONNET_FUZZ_TRACE") == "1")
        {
            Console.WriteLine($"{file}: CRASH {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}\nlast rejection:\n{FuzzTargets.LastRejection?.StackTrace}");
            continue;
        }

        long allocated = GC.GetTotalAllocatedBytes();
        Console.WriteLine($"{file}: {outcome}{(outcome == FuzzOutcome.Rejected ? $" ({FuzzTargets.LastRejection?.Message})" : string.Empty)} [allocated so far {allocated >> 20} MB]");
        if (Environment.GetEnvironmentVariable("INCEPTIONNET_FUZZ_TRACE") == "1")
        {
            Console.WriteLine(FuzzTargets.LastRejection?.StackTrace);
        }
    }

    return 0;
}

// Out of process: a stack overflow or a kill after a timeout restarts the child instead of ending the campaign.
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    FuzzTargets.Run(target, buffer.ToArray());
});
return 0;
