using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.Server.Audit;
using InceptionNet.Server.Security;
using InceptionNet.Vision;
using InceptionNet.Weights;

namespace InceptionNet.Cli;

/// <summary>No face was found where one was needed (exit code 1, like a rejection).</summary>
internal sealed class NoFaceException(string message) : Exception(message);

/// <summary>
/// The one mapping from a failure to an exit code and a one-line message, for every command: a rejection (no face) is
/// exit 1, every other failure exit 2 with <c>error: &lt;file&gt;: &lt;problem&gt;</c> — a bug in our own code included,
/// whose stack trace is printed only under <c>--verbose</c>.
/// </summary>
public static partial class CliErrors
{
    /// <summary>The exit code and the line to print for <paramref name="failure"/>.</summary>
    public static (int Exit, string Message) Describe(Exception failure) => failure switch
    {
        AggregateException { InnerExceptions.Count: 1 } one => Describe(one.InnerExceptions[0]),
        System.Reflection.TargetInvocationException { InnerException: { } inner } => Describe(inner),
        NoFaceException noFace => (CliApp.Rejected, $"no face: {noFace.Message}"),
        GalleryException or InvalidImageException or InvalidWeightsException or InvalidDatasetException or ApiKeyException or AuditException or InceptionNet.Server.Collections.GalleryStoreException => (CliApp.Error, $"error: {failure.Message}"),
        FileNotFoundException missing when missing.FileName is not null => (CliApp.Error, $"error: {missing.FileName}: file not found."),
        DirectoryNotFoundException => (CliApp.Error, $"error: {PathIn(failure.Message)}folder not found."),
        UnauthorizedAccessException => (CliApp.Error, $"error: {PathIn(failure.Message)}permission denied."),
        PathTooLongException => (CliApp.Error, $"error: {PathIn(failure.Message)}path too long."),
        IOException => (CliApp.Error, $"error: {PathIn(failure.Message)}{Unquoted(failure.Message)}"),
        OutOfMemoryException => (CliApp.Error, "error: out of memory. Give fewer or smaller images at a time, a smaller --batch, or more memory."),
        OperationCanceledException => (CliApp.Error, "error: cancelled."),
        _ => (CliApp.Error, $"error: internal error ({failure.GetType().Name}: {failure.Message}). This is a bug: run again with --verbose for the stack trace, and report it."),
    };

    /// <summary>Prints <paramref name="failure"/> the way the command line promises and returns its exit code.</summary>
    internal static int Report(Exception failure, bool json, bool verbose, TextWriter stdout, TextWriter stderr)
    {
        var (exit, message) = Describe(failure);
        if (json)
        {
            stdout.WriteLine(new JsonObject { ["error"] = message.StartsWith("error: ", StringComparison.Ordinal) ? message["error: ".Length..] : message, ["exit_code"] = exit }.ToJsonString());
        }

        stderr.WriteLine(message);
        if (verbose)
        {
            stderr.WriteLine(failure.ToString());
        }

        return exit;
    }

    // .NET's I/O messages quote the path ("Could not find a part of the path '/x/y.png'."): put it first, as every
    // other error line does.
    private static string PathIn(string message) => QuotedPath().Match(message) is { Success: true } m ? m.Groups[1].Value + ": " : string.Empty;

    private static string Unquoted(string message) => QuotedPath().Replace(message, "it").Trim();

    [GeneratedRegex("'(/[^']*|[A-Za-z]:\\\\[^']*)'")]
    private static partial Regex QuotedPath();
}
