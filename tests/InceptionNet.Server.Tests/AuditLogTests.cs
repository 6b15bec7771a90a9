using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InceptionNet.Server.Audit;
using Xunit;

namespace InceptionNet.Server.Tests;

public sealed class AuditLogTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-audit-").FullName;

    private string LogPath => Path.Combine(_dir, "audit.jsonl");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AuditEntry Entry(int i, string? identity = null) => new(
        new DateTimeOffset(2026, 12, 2, 11, 0, 0, TimeSpan.Zero).AddMilliseconds(i), "0123456789abcdef", "10.0.0.7", "POST /v1/collections/{collection}/identify",
        "staff", "accepted", identity ?? $"person-{i}", 0.25 + i / 1e4, 12.5);

    private async Task WriteEntries(int count, int from = 0)
    {
        await using var log = AuditLog.Open(LogPath);
        for (int i = from; i < from + count; i++)
        {
            await log.AppendAsync(Entry(i));
        }
    }

    private List<byte[]> Lines() => SplitLines(File.ReadAllBytes(LogPath));

    private static List<byte[]> SplitLines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n')
            {
                lines.Add(bytes[start..i]);
                start = i + 1;
            }
        }

        return lines;
    }

    private void WriteLines(IEnumerable<byte[]> lines) => File.WriteAllBytes(LogPath, [.. lines.SelectMany(l => l.Append((byte)'\n'))]);

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [Fact]
    public async Task A_line_holds_the_documented_fields_in_order_and_chains_to_the_one_before()
    {
        string head;
        await using (var log = AuditLog.Open(LogPath))
        {
            Assert.Equal(new string('0', 64), log.LastHash);
            await log.AppendAsync(Entry(0));
            await log.AppendAsync(new AuditEntry(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.FromHours(1)), null, null, "POST /v1/detect", null, "denied", null, null, null));
            head = log.LastHash;
        }

        var lines = Lines();
        Assert.Equal(2, lines.Count);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal(["time", "key_id", "client", "route", "collection", "decision", "identity", "distance", "latency_ms", "prev"],
            first.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("2026-12-02T11:00:00.0000000Z", first.RootElement.GetProperty("time").GetString());
        Assert.Equal(new string('0', 64), first.RootElement.GetProperty("prev").GetString());
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("2026-12-02T11:00:00.0000000Z", second.RootElement.GetProperty("time").GetString()); // 12:00 at +01:00, as UTC
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("key_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("distance").ValueKind);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(lines[0])), second.RootElement.GetProperty("prev").GetString());

        var result = AuditLog.Verify(LogPath);
        Assert.True(result.Intact);
        Assert.Equal(2, result.LinesChecked);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(lines[1])), result.LastHash);
        Assert.Equal(result.LastHash, head);
        await using var reopened = AuditLog.Open(LogPath);
        Assert.Equal(head, reopened.LastHash);
    }

    [Fact]
    public async Task The_chain_verifies_after_1000_concurrent_appends_from_16_tasks_sharing_flushes()
    {
        long flushes;
        await using (var log = AuditLog.Open(LogPath))
        {
            var writers = Enumerable.Range(0, 16).Select(t => Task.Run(async () =>
            {
                for (int i = t; i < 1000; i += 16)
                {
                    await log.AppendAsync(Entry(i));
                }
            }));
            await Task.WhenAll(writers).WaitAsync(Deadline);
            flushes = log.FlushCount;
        }

        var result = AuditLog.Verify(LogPath);
        Assert.True(result.Intact, result.Problem);
        Assert.Equal(1000, result.LinesChecked);
        var identities = Lines().Select(l => JsonDocument.Parse(l).RootElement.GetProperty("identity").GetString()!).ToHashSet();
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"person-{i}").ToHashSet(), identities);
        Assert.InRange(flushes, 1, 999); // group commit: callers that queue during a flush share the next one
    }

    [Fact]
    public async Task An_append_completes_only_after_its_line_is_written_and_flushed_to_disk()
    {
        await using var log = AuditLog.Open(LogPath);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        log.BeforeFlushToDisk = () =>
        {
            reached.TrySetResult();
            release.Wait(Deadline);
        };

        var append = log.AppendAsync(Entry(0, "held-visitor")).AsTask();
        try
        {
            await reached.Task.WaitAsync(Deadline);
            Assert.Contains("held-visitor", ReadShared(LogPath), StringComparison.Ordinal); // written…
            Assert.False(append.IsCompleted);                                                // …but not yet flushed: still pending
        }
        finally
        {
            release.Set();
        }

        await append.WaitAsync(Deadline);
        log.BeforeFlushToDisk = null;
    }

    [Fact]
    public async Task Each_completed_append_is_the_last_line_of_the_file()
    {
        await using var log = AuditLog.Open(LogPath);
        for (int i = 0; i < 50; i++)
        {
            await log.AppendAsync(Entry(i, $"visitor-{i}"));
            string[] lines = ReadShared(LogPath).Split('\n');
            Assert.Equal(i + 2, lines.Length); // i + 1 lines and the empty text after the last newline
            Assert.Contains($"\"identity\":\"visitor-{i}\"", lines[i], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_chain_continues_across_reopening()
    {
        await WriteEntries(5);
        await WriteEntries(5, from: 5);
        var result = AuditLog.Verify(LogPath);
        Assert.True(result.Intact, result.Problem);
        Assert.Equal(10, result.LinesChecked);
    }

    [Fact]
    public async Task An_edited_byte_that_keeps_the_json_valid_breaks_the_chain_at_the_next_line()
    {
        await WriteEntries(10);
        var lines = Lines();
        int k = 4; // 1-based
        int at = Encoding.UTF8.GetString(lines[k - 1]).IndexOf("person-3", StringComparison.Ordinal);
        lines[k - 1][at] = (byte)'P';
        WriteLines(lines);

        var result = AuditLog.Verify(LogPath);
        Assert.Equal(k + 1, result.BrokenLine);
        Assert.Equal(k, result.LinesChecked);
        Assert.Contains($"not the hash of line {k}: line {k} was edited", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_edited_byte_that_breaks_the_json_is_reported_at_its_own_line()
    {
        await WriteEntries(10);
        var lines = Lines();
        int k = 7;
        lines[k - 1][0] = (byte)'[';
        WriteLines(lines);

        var result = AuditLog.Verify(LogPath);
        Assert.Equal(k, result.BrokenLine);
        Assert.StartsWith($"line {k} is not an audit line", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_edited_prev_is_reported_at_its_own_line()
    {
        await WriteEntries(10);
        var lines = Lines();
        int k = 6;
        lines[k - 1][^3] = lines[k - 1][^3] == (byte)'a' ? (byte)'b' : (byte)'a';
        WriteLines(lines);

        Assert.Equal(k, AuditLog.Verify(LogPath).BrokenLine);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(9)]
    public async Task A_deleted_line_is_reported_at_the_line_that_took_its_place(int k)
    {
        await WriteEntries(10);
        var lines = Lines();
        lines.RemoveAt(k - 1);
        WriteLines(lines);

        var result = AuditLog.Verify(LogPath);
        Assert.Equal(k, result.BrokenLine);
        Assert.Contains(k == 1 ? "lines were deleted from the start" : "deleted or reordered", result.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(9)]
    public async Task Two_swapped_lines_are_reported_at_the_first_of_them(int k)
    {
        await WriteEntries(10);
        var lines = Lines();
        (lines[k - 1], lines[k]) = (lines[k], lines[k - 1]);
        WriteLines(lines);

        Assert.Equal(k, AuditLog.Verify(LogPath).BrokenLine);
    }

    [Fact]
    public async Task A_file_cut_mid_line_is_a_torn_last_line()
    {
        await WriteEntries(10);
        byte[] bytes = File.ReadAllBytes(LogPath);
        int lastStart = Array.LastIndexOf(bytes, (byte)'\n', bytes.Length - 2) + 1;
        File.WriteAllBytes(LogPath, bytes[..(lastStart + 30)]);

        var result = AuditLog.Verify(LogPath);
        Assert.Equal(10, result.BrokenLine);
        Assert.Equal(9, result.LinesChecked);
        Assert.Equal("line 10 is torn: 30 bytes without a final newline (a write cut short by a crash, or a cut file)", result.Problem);
    }

    [Fact]
    public async Task Opening_after_a_torn_tail_saves_and_cuts_the_fragment_and_the_chain_goes_on()
    {
        await WriteEntries(10);
        byte[] intact = File.ReadAllBytes(LogPath);
        byte[] fragment = Encoding.UTF8.GetBytes("{\"time\":\"2026-12-02T11:00:00.00");
        File.WriteAllBytes(LogPath, [.. intact, .. fragment]);

        await using (var log = AuditLog.Open(LogPath))
        {
            Assert.Equal(fragment.Length, log.TornBytesRemoved);
            Assert.Equal(fragment, File.ReadAllBytes(log.TornFragmentPath!));
            Assert.StartsWith(LogPath + ".torn-", log.TornFragmentPath, StringComparison.Ordinal);
            Assert.Equal(intact, File.ReadAllBytes(LogPath));
            await log.AppendAsync(Entry(10));
        }

        var result = AuditLog.Verify(LogPath);
        Assert.True(result.Intact, result.Problem);
        Assert.Equal(11, result.LinesChecked);
        await using var clean = AuditLog.Open(LogPath);
        Assert.Equal(0, clean.TornBytesRemoved);
        Assert.Null(clean.TornFragmentPath);
    }

    [Fact]
    public async Task A_tail_that_is_not_a_torn_audit_line_is_refused_and_left_alone()
    {
        await WriteEntries(3);
        byte[] bytes = [.. File.ReadAllBytes(LogPath), .. "garbage"u8];
        File.WriteAllBytes(LogPath, bytes);

        var failure = Assert.Throws<AuditException>(() => AuditLog.Open(LogPath));
        Assert.Contains("neither a complete line nor the start of an audit line", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"inceptionnet audit verify {LogPath}", failure.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(LogPath));
        Assert.Empty(Directory.GetFiles(_dir, "*.torn-*"));
    }

    [Fact]
    public async Task A_torn_tail_after_a_line_that_is_not_ours_is_refused()
    {
        File.WriteAllText(LogPath, "{\"hello\":1}\n{\"time\":");
        Assert.Contains("'prev' is missing", Assert.Throws<AuditException>(() => AuditLog.Open(LogPath)).Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir, "*.torn-*"));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Hostile_files_give_a_clear_result_or_error_without_hanging()
    {
        string garbage = Path.Combine(_dir, "garbage.jsonl");
        File.WriteAllBytes(garbage, [.. Enumerable.Range(0, 1 << 16).Select(i => (byte)(i * 7919 >> 3))]);
        string longLine = Path.Combine(_dir, "long.jsonl");
        File.WriteAllBytes(longLine, [.. Enumerable.Repeat((byte)'a', 10 << 20), (byte)'\n']);
        string longTorn = Path.Combine(_dir, "long-torn.jsonl");
        File.WriteAllBytes(longTorn, [(byte)'{', .. Enumerable.Repeat((byte)' ', 10 << 20)]);
        string notUtf8 = Path.Combine(_dir, "not-utf8.jsonl");
        File.WriteAllBytes(notUtf8, [.. "{\"time\":\""u8, 0xFF, 0xFE, .. "\"}\n"u8]);
        string deep = Path.Combine(_dir, "deep.jsonl");
        File.WriteAllText(deep, "{\"x\":" + new string('[', 5000) + new string(']', 5000) + "}\n");

        var work = Task.Run(() =>
        {
            var results = new[] { garbage, longLine, longTorn, notUtf8, deep }.Select(AuditLog.Verify).ToList();
            var errors = new[] { garbage, longLine, longTorn, notUtf8, deep }.Select(f => Assert.Throws<AuditException>(() => AuditLog.Open(f)).Message).ToList();
            return (results, errors);
        });
        var (results, errors) = await work.WaitAsync(Deadline); // TimeoutException: a hang

        Assert.All(results, r => Assert.Equal(1, r.BrokenLine));
        Assert.StartsWith("line 1 is not an audit line", results[0].Problem, StringComparison.Ordinal);
        Assert.Equal($"line 1 is longer than {AuditLog.MaxLineBytes} bytes: not an audit line", results[1].Problem);
        Assert.Equal($"line 1 is longer than {AuditLog.MaxLineBytes} bytes: not an audit line", results[2].Problem);
        Assert.StartsWith("line 1 is not an audit line: '$.time' is not valid UTF-8 text", results[3].Problem, StringComparison.Ordinal);
        Assert.StartsWith("line 1 is not an audit line", results[4].Problem, StringComparison.Ordinal);
        Assert.All(errors, e => Assert.Contains("inceptionnet audit verify", e, StringComparison.Ordinal));
        Assert.Contains("longer than", errors[1], StringComparison.Ordinal);
        Assert.Contains("more than", errors[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Verifying_a_missing_file_or_a_directory_is_an_error_naming_it()
    {
        string missing = Path.Combine(_dir, "none.jsonl");
        Assert.Equal($"{missing}: audit log not found.", Assert.Throws<AuditException>(() => AuditLog.Verify(missing)).Message);
        Assert.Contains("is a directory", Assert.Throws<AuditException>(() => AuditLog.Verify(_dir)).Message, StringComparison.Ordinal);
        Assert.Contains("is a directory", Assert.Throws<AuditException>(() => AuditLog.Open(_dir)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_log_is_intact()
    {
        File.WriteAllBytes(LogPath, []);
        var result = AuditLog.Verify(LogPath);
        Assert.True(result.Intact);
        Assert.Equal((0L, new string('0', 64)), (result.LinesChecked, result.LastHash));
    }

    [Fact]
    public async Task A_second_writer_is_refused_while_the_first_holds_the_log()
    {
        await using (var log = AuditLog.Open(LogPath))
        {
            Assert.Contains("another process is writing this audit log", Assert.Throws<AuditException>(() => AuditLog.Open(LogPath)).Message, StringComparison.Ordinal);
            Assert.True(AuditLog.Verify(LogPath).Intact); // readers need no lock
        }

        await using var next = AuditLog.Open(LogPath);
    }

    [Fact]
    public async Task Dispose_writes_everything_queued_and_later_appends_are_refused()
    {
        var log = AuditLog.Open(LogPath);
        var appends = Enumerable.Range(0, 100).Select(i => log.AppendAsync(Entry(i)).AsTask()).ToList();
        await log.DisposeAsync();

        Assert.All(appends, a => Assert.True(a.IsCompletedSuccessfully));
        Assert.Equal(100, AuditLog.Verify(LogPath).LinesChecked);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.AppendAsync(Entry(100)));
        await log.DisposeAsync();
    }

    [Fact]
    public async Task A_cancelled_append_writes_nothing()
    {
        await using (var log = AuditLog.Open(LogPath))
        {
            using var cancelled = new CancellationTokenSource();
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => log.AppendAsync(Entry(0), cancelled.Token).AsTask());
            using var live = new CancellationTokenSource();
            await log.AppendAsync(Entry(1), live.Token);
        }

        Assert.Equal(1, AuditLog.Verify(LogPath).LinesChecked);
    }

    [Fact]
    public async Task Hostile_text_is_bounded_and_kept_valid_so_the_chain_holds()
    {
        string huge = new('x', 100_000);
        string loneSurrogate = "ab\uD800cd";
        string newlines = "evil\n{\"forged\":true}\n";
        await using (var log = AuditLog.Open(LogPath))
        {
            await log.AppendAsync(Entry(0, huge));
            await log.AppendAsync(Entry(1, loneSurrogate));
            await log.AppendAsync(Entry(2, newlines) with { Route = new string('\u00e9', 50_000) });
        }

        var result = AuditLog.Verify(LogPath);
        Assert.True(result.Intact, result.Problem);
        Assert.Equal(3, result.LinesChecked);
        var identities = Lines().Select(l => JsonDocument.Parse(l).RootElement.GetProperty("identity").GetString()!).ToList();
        Assert.Equal(new string('x', AuditLog.MaxFieldLength - 1) + "…", identities[0]);
        Assert.Equal("ab\uFFFDcd", identities[1]);
        Assert.Equal(newlines, identities[2]);
    }

    [Fact]
    public async Task Non_finite_numbers_and_missing_route_or_decision_are_refused_before_anything_is_queued()
    {
        await using (var log = AuditLog.Open(LogPath))
        {
            await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync(Entry(0) with { Distance = double.NaN }));
            await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync(Entry(0) with { LatencyMs = double.PositiveInfinity }));
            await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync(Entry(0) with { Route = "" }));
            await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync(Entry(0) with { Decision = "" }));
        }

        Assert.Equal(0, AuditLog.Verify(LogPath).LinesChecked);
    }

    [Fact]
    public async Task A_whole_key_given_as_key_id_is_cut_to_its_id()
    {
        const string Key = "inet_0123456789abcdef_nUDexAwq_1MoZ71A20iMaqW_FC2uQHw3IA2banSRuRQ";
        await using (var log = AuditLog.Open(LogPath))
        {
            await log.AppendAsync(Entry(0) with { KeyId = Key });
        }

        string text = File.ReadAllText(LogPath);
        Assert.DoesNotContain("nUDexAwq", text, StringComparison.Ordinal);
        Assert.Equal("0123456789abcdef", JsonDocument.Parse(Lines()[0]).RootElement.GetProperty("key_id").GetString());
    }
}
