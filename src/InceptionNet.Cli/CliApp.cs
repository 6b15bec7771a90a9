using System.CommandLine;
using InceptionNet.Cli.Commands;

namespace InceptionNet.Cli;

/// <summary>The command tree; <see cref="Run"/> is what <c>inceptionnet</c> executes.</summary>
public static class CliApp
{
    /// <summary>Exit code: success.</summary>
    public const int Success = 0;

    /// <summary>Exit code: an input or weights problem; the message is on stderr.</summary>
    public const int Error = 2;

    /// <summary>Parses <paramref name="args"/> and runs the command, writing to the given streams.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("InceptionNet: pure-managed face recognition (FaceNet, OpenFace, face-api) with MTCNN face detection.");
        var verbose = new Option<bool>("--verbose") { Description = "On an error, also print the stack trace (for bug reports).", Recursive = true };
        root.Options.Add(verbose);
        // Progress lines (carriage returns) only when a person watches stderr, never into a redirected log.
        var console = new CliConsole(stdout, stderr, ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected);
        foreach (var create in new Func<CliConsole, Command>[]
        {
            EmbedCommand.Create, DetectCommand.Create, EnrollCommand.Create, VerifyCommand.Create, IdentifyCommand.Create, GalleryCommand.Create,
            TripletLossCommand.Create, DemoCommand.Create, WatchCommand.Create, EvalCommand.Create, CalibrateCommand.Create, KeysCommand.Create, ServeCommand.Create, AuditCommand.Create, DbCommand.Create, InfoCommand.Create,
        })
        {
            root.Subcommands.Add(create(console));
        }
        ParseResult parsed;
        try
        {
            parsed = root.Parse(args);
        }
        catch (Exception failure)
        {
            return CliErrors.Report(failure, args.Contains("--json"), args.Contains("--verbose"), stdout, stderr);
        }

        bool json = parsed.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--json") is Option<bool> jsonOption && parsed.GetValue(jsonOption);
        if (parsed.Errors.Count > 0)
        {
            // Usage errors are errors like any other (exit 2), so a caller can tell them from a rejection (exit 1).
            if (json)
            {
                stdout.WriteLine(new System.Text.Json.Nodes.JsonObject { ["error"] = string.Join(" ", parsed.Errors.Select(e => e.Message)), ["exit_code"] = Error }.ToJsonString());
            }

            foreach (var error in parsed.Errors)
            {
                stderr.WriteLine($"error: {error.Message}");
            }

            stderr.WriteLine("Run 'inceptionnet --help' or 'inceptionnet <command> --help' for usage.");
            return Error;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception failure)
        {
            return CliErrors.Report(failure, json, parsed.GetValue(verbose), stdout, stderr);
        }
    }

    /// <summary>Exit code: the face was rejected, is not in the database, or no face was found.</summary>
    public const int Rejected = 1;
}
