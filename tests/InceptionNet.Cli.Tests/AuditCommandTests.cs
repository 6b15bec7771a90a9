using System.Text.Json;
using InceptionNet.Cli;
using InceptionNet.Server.Audit;
using Xunit;
using static InceptionNet.Cli.Tests.CliRunner;

namespace InceptionNet.Cli.Tests;

public sealed class AuditCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-audit-cli-").FullName;

    private string Log => Path.Combine(_dir, "audit.jsonl");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task WriteLog(int lines)
    {
        await using var log = AuditLog.Open(Log);
        for (int i = 0; i < lines; i++)
        {
            await log.AppendAsync(new AuditEntry(DateTimeOffset.UtcNow, "0123456789abcdef", "10.0.0.7", "POST /v1/identify", "staff", "accepted", $"person-{i}", 0.5, 3));
        }
    }

    [Fact]
    public async Task An_intact_log_is_exit_0_with_its_line_count()
    {
        await WriteLog(12);
        var (exit, stdout, stderr) = Run("audit", "verify", Log);
        Assert.Equal(CliApp.Success, exit);
        Assert.Equal(string.Empty, stderr);
        Assert.StartsWith($"{Log}: intact, 12 lines; last line's hash ", stdout, StringComparison.Ordinal);

        var (jsonExit, json, _) = Run("audit", "verify", Log, "--json");
        Assert.Equal(CliApp.Success, jsonExit);
        var result = JsonDocument.Parse(json).RootElement;
        Assert.True(result.GetProperty("intact").GetBoolean());
        Assert.Equal(12, result.GetProperty("lines").GetInt32());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("broken_line").ValueKind);
        Assert.Equal(AuditLog.Verify(Log).LastHash, result.GetProperty("last_hash").GetString());
    }

    [Fact]
    public async Task A_deleted_line_is_exit_1_naming_the_first_broken_line_and_why()
    {
        await WriteLog(12);
        var lines = File.ReadAllLines(Log).ToList();
        lines.RemoveAt(4);
        File.WriteAllText(Log, string.Join('\n', lines) + "\n");

        var (exit, stdout, _) = Run("audit", "verify", Log);
        Assert.Equal(CliApp.Rejected, exit);
        Assert.Equal($"{Log}: broken: line 5: its 'prev' is not the hash of line 4: line 4 was edited, or lines before line 5 were deleted or reordered. The 4 lines before it check.", stdout.Trim());

        var (jsonExit, json, _) = Run("audit", "verify", "--json", Log);
        Assert.Equal(CliApp.Rejected, jsonExit);
        var result = JsonDocument.Parse(json).RootElement;
        Assert.False(result.GetProperty("intact").GetBoolean());
        Assert.Equal(5, result.GetProperty("broken_line").GetInt32());
        Assert.Equal(4, result.GetProperty("lines").GetInt32());
        Assert.Contains("deleted or reordered", result.GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_torn_last_line_and_a_garbage_file_are_exit_1()
    {
        await WriteLog(3);
        byte[] bytes = File.ReadAllBytes(Log);
        File.WriteAllBytes(Log, bytes[..^10]);
        var (exit, stdout, _) = Run("audit", "verify", Log);
        Assert.Equal(CliApp.Rejected, exit);
        Assert.Contains("broken: line 3 is torn", stdout, StringComparison.Ordinal);

        string garbage = Path.Combine(_dir, "garbage.jsonl");
        File.WriteAllBytes(garbage, [.. Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 7919 >> 3))]);
        var (garbageExit, garbageOut, _) = Run("audit", "verify", garbage);
        Assert.Equal(CliApp.Rejected, garbageExit);
        Assert.Contains("broken: line 1 is not an audit line", garbageOut, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_or_a_folder_is_exit_2_with_one_error_line()
    {
        string missing = Path.Combine(_dir, "none.jsonl");
        var (exit, stdout, stderr) = Run("audit", "verify", missing);
        Assert.Equal(CliApp.Error, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"error: {missing}: audit log not found.", stderr.Trim());

        var (dirExit, _, dirErr) = Run("audit", "verify", _dir);
        Assert.Equal(CliApp.Error, dirExit);
        Assert.Equal($"error: {_dir}: is a directory, expected an audit log file.", dirErr.Trim());

        var (jsonExit, json, _) = Run("audit", "verify", missing, "--json");
        Assert.Equal(CliApp.Error, jsonExit);
        Assert.Equal($"{missing}: audit log not found.", JsonDocument.Parse(json).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public void A_path_through_a_file_is_exit_2()
    {
        File.WriteAllText(Log, "x\n");
        string through = Path.Combine(Log, "audit.jsonl");
        var (exit, stdout, stderr) = Run("audit", "verify", through);
        Assert.Equal(CliApp.Error, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"error: {through}: audit log not found.", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [SkippableFact]
    public void An_unreadable_file_is_exit_2()
    {
        Skip.If(OperatingSystem.IsWindows() || Environment.UserName == "root", "needs a user that file permissions apply to");
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.WriteAllText(Log, "x\n");
        File.SetUnixFileMode(Log, UnixFileMode.None);
        var (exit, _, stderr) = Run("audit", "verify", Log);
        Assert.Equal(CliApp.Error, exit);
        Assert.StartsWith($"error: {Log}: ", stderr, StringComparison.Ordinal);
    }
}
