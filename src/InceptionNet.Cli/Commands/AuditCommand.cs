using System.CommandLine;
using System.Text.Json.Nodes;
using InceptionNet.Server.Audit;

namespace InceptionNet.Cli.Commands;

/// <summary><c>audit verify</c>: checks the hash chain of the service's audit log.</summary>
internal static class AuditCommand
{
    public static Command Create(CliConsole console)
    {
        var json = CliOptions.Json();
        var file = CliOptions.Paths(new Argument<string>("file") { Description = "Audit log (JSON lines) written by inceptionnet serve." });
        var verify = new Command("verify", "Check that no line of an audit log was edited, deleted, reordered or torn. Exit 0 = intact, 1 = broken (the first broken line is named), 2 = error.")
            { file, json };
        verify.SetAction(r =>
        {
            string path = r.GetValue(file)!;
            var result = AuditLog.Verify(path);
            if (r.GetValue(json))
            {
                console.Json(new JsonObject
                {
                    ["file"] = path,
                    ["intact"] = result.Intact,
                    ["lines"] = result.LinesChecked,
                    ["broken_line"] = result.BrokenLine,
                    ["problem"] = result.Problem,
                    ["last_hash"] = result.LastHash,
                });
            }
            else if (result.Intact)
            {
                console.Stdout.WriteLine($"{path}: intact, {result.LinesChecked} lines; last line's hash {result.LastHash} (keep it elsewhere to detect lines cut from the end later).");
            }
            else
            {
                string before = result.LinesChecked == 0 ? "No line before it checks." : $"The {result.LinesChecked} lines before it check.";
                console.Stdout.WriteLine($"{path}: broken: {result.Problem}. {before}");
            }

            return result.Intact ? CliApp.Success : CliApp.Rejected;
        });

        return new Command("audit", "Work with the audit log of inceptionnet serve.") { verify };
    }
}
