namespace InceptionNet.Cli;

/// <summary>Entry point of the <c>inceptionnet</c> command.</summary>
public static class Program
{
    /// <summary>Runs the CLI with the process's console.</summary>
    public static int Main(string[] args) => CliApp.Run(args, Console.Out, Console.Error);
}
