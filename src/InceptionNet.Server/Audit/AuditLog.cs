using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InceptionNet.Server.Storage;
using InceptionNet.Weights;

namespace InceptionNet.Server.Audit;

/// <summary>
/// A tamper-evident, append-only audit log: one JSON object per line (UTF-8, <c>\n</c>-terminated), whose last field,
/// <c>prev</c>, is the lowercase hex SHA-256 of the previous line's exact bytes (without its newline); the first line's is
/// 64 zeros. Editing, deleting or reordering a line breaks the chain at the line after the change, which
/// <see cref="Verify"/> reports. (Cutting lines off the end cannot show in the chain: anchor
/// <see cref="AuditVerification.LastHash"/> elsewhere for that.)
/// <para>
/// One process appends at a time: <see cref="Open"/> takes an exclusive lock on a hidden file beside the log
/// (<c>.FILE.lock</c>) for the log's lifetime. Readers (<see cref="Verify"/>, <c>tail</c>) need no lock.
/// </para>
/// <para>
/// <see cref="AppendAsync"/> uses group commit: callers queue their entries; one writer at a time takes everything
/// queued, writes it in one write, flushes it to disk once, then completes every caller of that batch. Callers that arrive
/// during a flush form the next batch, so the disk sees one flush per batch, not per request.
/// </para>
/// </summary>
public sealed class AuditLog : IAsyncDisposable
{
    /// <summary>Text fields longer than this (in UTF-16 characters) are cut to it, ending in <c>…</c>.</summary>
    public const int MaxFieldLength = 1024;

    /// <summary>
    /// Longest line <see cref="Verify"/> and <see cref="Open"/> accept, in bytes. Lines we write stay far below it (6
    /// bounded text fields, each at most 6 bytes per character when escaped); a longer line is not one of ours.
    /// </summary>
    public const int MaxLineBytes = 64 * 1024;

    private static readonly string Genesis = new('0', 64);
    private readonly FileStream _lock;
    private readonly FileStream _file;
    private readonly Lock _gate = new();
    private List<Pending> _queue = [];
    private Task _writer = Task.CompletedTask;
    private bool _writing;
    private bool _closed;
    private string? _fault;
    private string _prev;
    private long _length;
    private long _flushes;

    private AuditLog(string path, FileStream writerLock, FileStream file, string prev, long length, long tornBytes, string? tornFragmentPath)
    {
        Path = path;
        _lock = writerLock;
        _file = file;
        _prev = prev;
        _length = length;
        TornBytesRemoved = tornBytes;
        TornFragmentPath = tornFragmentPath;
    }

    /// <summary>The log file.</summary>
    public string Path { get; }

    /// <summary>
    /// SHA-256 (lowercase hex) of the last line durably written (64 zeros for an empty log): the <c>prev</c> of the next line.
    /// Print or send it elsewhere (at shutdown, say) to anchor the end of the chain.
    /// </summary>
    public string LastHash => Volatile.Read(ref _prev);

    /// <summary>Flushes to disk so far (one per batch): lets tests see group commit at work.</summary>
    internal long FlushCount => Interlocked.Read(ref _flushes);

    /// <summary>Runs on the writer between a batch's write and its flush to disk: lets tests hold a batch there.</summary>
    internal Action? BeforeFlushToDisk { get; set; }

    /// <summary>
    /// Bytes of a torn last line (no newline: a crash in the middle of a write) that <see cref="Open"/> cut off, 0 when the
    /// log ended cleanly. Those bytes belonged to entries whose <see cref="AppendAsync"/> never completed.
    /// </summary>
    public long TornBytesRemoved { get; }

    /// <summary>Where <see cref="Open"/> saved the torn bytes it cut off (<c>FILE.torn-TIME</c>), or null.</summary>
    public string? TornFragmentPath { get; }

    /// <summary>
    /// Opens <paramref name="path"/> for appending (creating it and its folder if needed) and takes its writer lock.
    /// The last line's hash becomes the next line's <c>prev</c>; only that line is read, so run <see cref="Verify"/> to
    /// check the whole file. If the file ends in a torn line (no newline) of at most <see cref="MaxLineBytes"/> bytes
    /// starting with <c>{</c> after a line that checks, the torn bytes are saved to <c>FILE.torn-TIME</c>, cut from the
    /// log, and reported in <see cref="TornBytesRemoved"/> and <see cref="TornFragmentPath"/>; anything else at the end
    /// is refused. <paramref name="lockTimeout"/> is how long to wait for another writer (a server still shutting down) to
    /// release the log; by default there is one try.
    /// </summary>
    /// <exception cref="AuditException">Another process holds the log; its last line is not an audit line; it cannot be read or written.</exception>
    public static AuditLog Open(string path, TimeSpan? lockTimeout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (Directory.Exists(path))
        {
            throw new AuditException($"{path}: is a directory, expected an audit log file.");
        }

        FileStream writerLock;
        try
        {
            writerLock = WriterLock.Acquire(path, lockTimeout ?? TimeSpan.Zero, (lockPath, ex) =>
                new AuditException($"{path}: another process is writing this audit log (its lock {lockPath} is held).", ex));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not a busy lock (that is an AuditException already): the folder or the lock file cannot be made.
            throw new AuditException($"{path}: cannot lock the audit log ({ex.Message}).", ex);
        }

        FileStream? file = null;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
            var (prev, tornBytes, tornPath) = RecoverTail(path, file);
            file.Position = file.Length;
            return new AuditLog(path, writerLock, file, prev, file.Length, tornBytes, tornPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            writerLock.Dispose();
            throw new AuditException($"{path}: cannot open the audit log ({ex.Message}).", ex);
        }
        catch
        {
            file?.Dispose();
            writerLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends <paramref name="entry"/>; completes once its line is written and flushed to disk. Lines are written in the
    /// order calls are made (as far as concurrent calls have an order). Cancelling before the line is taken for writing
    /// withdraws it (the task is cancelled and nothing is written); once taken, the call completes when it is durable.
    /// </summary>
    /// <exception cref="ArgumentException">A non-finite distance or latency, or an empty route or decision.</exception>
    /// <exception cref="ObjectDisposedException">The log is closed.</exception>
    /// <exception cref="AuditException">(From the task.) The line could not be written; nothing of it remains in the file.</exception>
    public ValueTask AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentException.ThrowIfNullOrEmpty(entry.Route, nameof(entry));
        ArgumentException.ThrowIfNullOrEmpty(entry.Decision, nameof(entry));
        if (entry.Distance is { } d && !double.IsFinite(d) || entry.LatencyMs is { } l && !double.IsFinite(l))
        {
            throw new ArgumentException("distance and latency must be finite numbers.", nameof(entry));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var pending = new Pending(ToLine(entry));
        if (cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (log, p) = ((AuditLog, Pending))state!;
                log.Withdraw(p, token);
            }, (this, pending));
        }

        lock (_gate)
        {
            if (_closed)
            {
                pending.Registration.Dispose();
                throw new ObjectDisposedException(nameof(AuditLog), $"{Path}: the audit log is closed.");
            }

            if (!pending.Withdrawn)
            {
                _queue.Add(pending);
                if (!_writing)
                {
                    _writing = true;
                    _writer = Task.Run(WriteQueued, CancellationToken.None);
                }
            }
        }

        return new ValueTask(pending.Done.Task);
    }

    /// <summary>Waits for every queued entry to be written, then closes the log and releases its lock.</summary>
    public async ValueTask DisposeAsync()
    {
        Task writer;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            writer = _writer;
        }

        await writer.ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
        await _lock.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Checks every line of the log at <paramref name="path"/>: each must be a JSON audit line of at most
    /// <see cref="MaxLineBytes"/> bytes whose <c>prev</c> is the hash of the line before, and the file must end with a
    /// newline. Reads the file once, front to back, in bounded memory. A log that a server is appending to may end in
    /// the line being written at that moment, reported as torn: verify a closed log, or verify again.
    /// </summary>
    /// <exception cref="AuditException">The file is missing or cannot be read (a broken log is a result, not an exception).</exception>
    public static AuditVerification Verify(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (Directory.Exists(path))
        {
            throw new AuditException($"{path}: is a directory, expected an audit log file.");
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            return VerifyStream(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new AuditException($"{path}: audit log not found.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AuditException($"{path}: cannot be read ({ex.Message}).", ex);
        }
    }

    private static AuditVerification VerifyStream(Stream stream)
    {
        byte[] chunk = new byte[64 * 1024];
        byte[] line = new byte[MaxLineBytes];
        int lineLength = 0;
        long number = 1;
        string prev = Genesis;
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            var rest = chunk.AsSpan(0, read);
            while (!rest.IsEmpty)
            {
                int newline = rest.IndexOf((byte)'\n');
                var piece = newline < 0 ? rest : rest[..newline];
                if (lineLength + piece.Length > MaxLineBytes)
                {
                    return new AuditVerification(number - 1, number, $"line {number} is longer than {MaxLineBytes} bytes: not an audit line", prev);
                }

                piece.CopyTo(line.AsSpan(lineLength));
                lineLength += piece.Length;
                if (newline < 0)
                {
                    break;
                }

                rest = rest[(newline + 1)..];
                var bytes = line.AsSpan(0, lineLength);
                if (Check(bytes, prev, number) is { } problem)
                {
                    return new AuditVerification(number - 1, number, problem, prev);
                }

                prev = HashOf(bytes);
                lineLength = 0;
                number++;
            }
        }

        return lineLength > 0
            ? new AuditVerification(number - 1, number, $"line {number} is torn: {lineLength} bytes without a final newline (a write cut short by a crash, or a cut file)", prev)
            : new AuditVerification(number - 1, null, null, prev);
    }

    // Null when line `number` is a well-formed audit line chained to `prev`; else why not.
    private static string? Check(ReadOnlySpan<byte> bytes, string prev, long number)
    {
        if (Parse(bytes, out var line) is { } problem)
        {
            return $"line {number} {problem}";
        }

        if (string.Equals(line!.Prev, prev, StringComparison.Ordinal))
        {
            return null;
        }

        return number == 1
            ? "line 1: its 'prev' is not 64 zeros, so it is not the first line written: lines were deleted from the start"
            : $"line {number}: its 'prev' is not the hash of line {number - 1}: line {number - 1} was edited, or lines before line {number} were deleted or reordered";
    }

    // Null when the bytes are one audit line (whatever its place in the chain); else why not, phrased after "line N".
    private static string? Parse(ReadOnlySpan<byte> bytes, out AuditLine? line)
    {
        line = null;
        try
        {
            line = JsonSerializer.Deserialize(bytes, AuditLineJsonContext.Default.AuditLine);
        }
        catch (JsonException ex)
        {
            return $"is not an audit line: {JsonProblems.Describe(ex)}";
        }
        catch (InvalidOperationException)
        {
            return "is not an audit line: not valid UTF-8 text";
        }

        if (line is null)
        {
            return "is not an audit line: null, not a JSON object";
        }

        if (line.Prev is not { Length: 64 } prev || !prev.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            return "is not an audit line: 'prev' is missing or not 64 lowercase hex digits";
        }

        if (line.Time is null || !DateTime.TryParseExact(line.Time, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out _))
        {
            return "is not an audit line: 'time' is missing or not a UTC time like 2026-01-31T23:59:59.0000000Z";
        }

        return string.IsNullOrEmpty(line.Route) ? "is not an audit line: 'route' is missing"
            : string.IsNullOrEmpty(line.Decision) ? "is not an audit line: 'decision' is missing"
            : null;
    }

    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    private static string HashOf(ReadOnlySpan<byte> line) => Convert.ToHexStringLower(Sha256.HashData(line));

    // A file that ends without a newline was cut mid-write: its last line is checked first, then the torn bytes are saved
    // beside the log and cut off. Returns the hash to chain to, the bytes cut and where they were saved.
    private static (string Prev, long TornBytes, string? SavedTo) RecoverTail(string path, FileStream file)
    {
        long length = file.Length;
        if (length == 0)
        {
            return (Genesis, 0, null);
        }

        long keep = length;
        byte[]? fragment = null;
        if (ReadTail(file, length, 1)[0] != (byte)'\n')
        {
            byte[] tail = ReadTail(file, length, MaxLineBytes + 1);
            int newline = Array.LastIndexOf(tail, (byte)'\n');
            if (newline < 0 && tail.Length < length)
            {
                throw new AuditException($"{path}: it ends with more than {MaxLineBytes} bytes without a newline: not an audit log, or a damaged one. {Advice(path)}");
            }

            fragment = tail[(newline + 1)..];
            if (fragment[0] != (byte)'{')
            {
                throw new AuditException($"{path}: its last {fragment.Length} bytes are neither a complete line nor the start of an audit line. {Advice(path)}");
            }

            keep = length - fragment.Length;
        }

        string prev = LastLineHash(path, file, keep);
        if (fragment is null)
        {
            return (prev, 0, null);
        }

        string saved = $"{path}.torn-{DateTime.UtcNow:yyyyMMdd'T'HHmmssfffffff'Z'}";
        using (var copy = new FileStream(saved, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            copy.Write(fragment);
            copy.Flush(flushToDisk: true);
        }

        file.SetLength(keep);
        file.Flush(flushToDisk: true);
        return (prev, fragment.Length, saved);
    }

    // The hash of the line that ends at `end` (just after its newline), refusing one that is not an audit line.
    private static string LastLineHash(string path, FileStream file, long end)
    {
        if (end == 0)
        {
            return Genesis;
        }

        byte[] tail = ReadTail(file, end, MaxLineBytes + 2);
        int start = Array.LastIndexOf(tail, (byte)'\n', tail.Length - 2) + 1;
        if (start == 0 && tail.Length < end)
        {
            throw new AuditException($"{path}: its last line is longer than {MaxLineBytes} bytes: not an audit log. {Advice(path)}");
        }

        var last = tail.AsSpan(start, tail.Length - 1 - start);
        if (Parse(last, out _) is { } problem)
        {
            // Appending after it would chain new lines to a line that is not ours.
            throw new AuditException($"{path}: its last line {problem}. {Advice(path)}");
        }

        return HashOf(last);
    }

    private static string Advice(string path) => $"Run 'inceptionnet audit verify {path}', and move the file aside to start a new log.";

    private static byte[] ReadTail(FileStream file, long end, int most)
    {
        int count = (int)Math.Min(end, most);
        byte[] tail = new byte[count];
        file.Position = end - count;
        file.ReadExactly(tail);
        return tail;
    }

    private static AuditLine ToLine(AuditEntry entry) => new()
    {
        Time = entry.Time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture),
        KeyId = Clean(KeyIdOf(entry.KeyId)),
        Client = Clean(entry.Client),
        Route = Clean(entry.Route),
        Collection = Clean(entry.Collection),
        Decision = Clean(entry.Decision),
        Identity = Clean(entry.Identity),
        Distance = entry.Distance,
        LatencyMs = entry.LatencyMs,
    };

    // A whole key passed by mistake (inet_<id>_<secret>) must not put its secret into a log that is kept for years.
    private static string? KeyIdOf(string? keyId) =>
        keyId is { Length: > 22 } && keyId.StartsWith("inet_", StringComparison.Ordinal) && keyId[21] == '_' ? keyId[5..21] : keyId;

    // Bounded length, and valid UTF-16 (a lone surrogate from a hostile request would make the JSON writer throw).
    private static string? Clean(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (text.Length > MaxFieldLength)
        {
            int cut = MaxFieldLength - 1;
            if (char.IsHighSurrogate(text[cut - 1]))
            {
                cut--;
            }

            text = string.Concat(text.AsSpan(0, cut), "…");
        }

        if (!text.Any(char.IsSurrogate))
        {
            return text;
        }

        var clean = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                clean.Append(text[i]).Append(text[++i]);
            }
            else
            {
                clean.Append(char.IsSurrogate(text[i]) ? '\uFFFD' : text[i]);
            }
        }

        return clean.ToString();
    }

    private void Withdraw(Pending pending, CancellationToken token)
    {
        lock (_gate)
        {
            if (pending.Taken)
            {
                return;
            }

            pending.Withdrawn = true;
            _queue.Remove(pending);
        }

        pending.Done.TrySetCanceled(token);
    }

    // The one writer: drains the queue a batch at a time until it is empty.
    private void WriteQueued()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _writing = false;
                    return;
                }

                batch = _queue;
                _queue = [];
                foreach (var pending in batch)
                {
                    pending.Taken = true;
                }
            }

            foreach (var pending in batch)
            {
                pending.Registration.Dispose();
            }

            try
            {
                WriteBatch(batch);
            }
            catch (Exception ex)
            {
                // Whatever went wrong, no caller may be left waiting, and no later line may chain to a state we do not know.
                _fault = $"{Path}: the audit writer failed ({ex.GetType().Name}: {ex.Message}); the log is closed to appends. Run 'inceptionnet audit verify {Path}'.";
                Fail(batch, new AuditException(_fault, ex));
            }
        }
    }

    private void WriteBatch(List<Pending> batch)
    {
        if (_fault is not null)
        {
            Fail(batch, new AuditException(_fault));
            return;
        }

        using var buffer = new MemoryStream();
        string prev = _prev;
        try
        {
            foreach (var pending in batch)
            {
                pending.Line.Prev = prev;
                byte[] line = JsonSerializer.SerializeToUtf8Bytes(pending.Line, AuditLineJsonContext.Default.AuditLine);
                buffer.Write(line);
                buffer.WriteByte((byte)'\n');
                prev = HashOf(line);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException or JsonException)
        {
            // Entries are cleaned before they are queued, so this is a bug of ours; the writer must outlive it.
            Fail(batch, new AuditException($"{Path}: internal error writing audit entries ({ex.GetType().Name}: {ex.Message}).", ex));
            return;
        }

        try
        {
            _file.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            BeforeFlushToDisk?.Invoke();
            _file.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // Part of the batch may have reached the file: cut it back so the chain stays whole, and fail the batch.
            try
            {
                _file.SetLength(_length);
                _file.Position = _length;
                _file.Flush(flushToDisk: true);
            }
            catch (Exception undo) when (undo is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                _fault = $"{Path}: a failed write could not be undone ({undo.Message}); the log is closed to appends. Run 'inceptionnet audit verify {Path}'.";
            }

            Fail(batch, new AuditException($"{Path}: the audit entries could not be written ({ex.Message}).", ex));
            return;
        }

        _length += buffer.Length;
        _prev = prev;
        Interlocked.Increment(ref _flushes);
        foreach (var pending in batch)
        {
            pending.Done.TrySetResult();
        }
    }

    private static void Fail(List<Pending> batch, Exception failure)
    {
        foreach (var pending in batch)
        {
            pending.Done.TrySetException(failure);
        }
    }

    /// <summary>An entry waiting for the writer. <see cref="Taken"/> and <see cref="Withdrawn"/> change under the log's gate.</summary>
    private sealed class Pending(AuditLine line)
    {
        public AuditLine Line { get; } = line;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }

        public bool Taken { get; set; }

        public bool Withdrawn { get; set; }
    }
}
