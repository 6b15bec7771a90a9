namespace InceptionNet.Cli;

/// <summary>Entry point of the <c>inceptionnet</c> command.</summary>
public static class Program
{
    /// <summary>Runs the CLI with the process's console.</summary>
    public static int Main(string[] args)
    {
        // A native x64 build first hands over to its sibling built for this CPU's level, when there is one.
        NativeVariants.HandOverIfBetter(args);
        MemoryReserve.Install();
        return CliApp.Run(args, Console.Out, Console.Error);
    }
}
