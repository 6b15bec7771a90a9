using System.Collections.Concurrent;
using System.Data;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Server.Http;
using Npgsql;
using NpgsqlTypes;

namespace InceptionNet.Server.Collections.Postgres;

/// <summary>
/// Collections in PostgreSQL, shared by every <c>serve</c> instance pointed at the database, each searching its own
/// in-memory copy (the same <see cref="Gallery"/> and <see cref="GalleryIndex"/> as the file store: exact search).
/// </summary>
/// <remarks>
/// <para>Writes: each enroll, remove, rename, create or delete is one transaction that also appends a row to
/// <c>changes</c> (its sequence number) and notifies <see cref="PostgresLocation.Channel"/>. Writers take one advisory
/// lock for the transaction, so sequence numbers become visible in order and "everything after N" never skips one.
/// That lock is one for every collection on purpose: a lock per collection would let a change to one collection commit
/// before a change to another that took a smaller number, and a follower reading "everything after N" in between
/// would step over the smaller one for good. Per-collection writes need per-collection sequence numbers (and a
/// follower position per collection), which is the shard design of bench/results/postgres.md, not a lock key.</para>
/// <para>Reads never touch the database. Each instance loads every collection at start (one consistent snapshot and
/// its sequence number), then applies the changes after it, in order: when notified, every few seconds anyway, after
/// each of its own writes, and after a reconnect. An enroll appends rows to the gallery's index, a rename shares the
/// vectors, a remove marks the person's rows removed (see <see cref="GalleryIndex.Without"/>): nothing is rebuilt.</para>
/// <para>The change log is pruned as it is written (<see cref="ChangeRetention"/>), and the last pruned number is kept
/// in <c>changes_pruned</c>. An instance that comes back after changes it had not applied were pruned cannot catch up
/// change by change; it sees that and reloads every collection from one snapshot instead.</para>
/// <para>While the database is unreachable, identify and verify answer from memory, writes get 503 (retry after 1 s),
/// and the follower reconnects by itself and catches up from its sequence number.</para>
/// </remarks>
public sealed class PostgresGalleryStore : IGalleryStore
{
    private const long WriterLock = 0x1E_CE_97_10_17; // pg_advisory_xact_lock key shared by every writer
    private static readonly TimeSpan SafetyPoll = TimeSpan.FromSeconds(5);
    private readonly NpgsqlDataSource _source;
    private readonly NpgsqlDataSource _feed; // the follower's own connection, named "… follower" in pg_stat_activity
    private readonly IFaceEncoder _encoder;
    private readonly ModelStamp _stamp;
    private readonly string _faceInput;
    private readonly RecognitionOptions _options;
    private readonly TextWriter _log;
    private readonly string _where;
    private readonly ConcurrentDictionary<string, Live> _collections = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _apply = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _follower = Task.CompletedTask;
    private readonly ChangeRetention _retention;
    private long _applied;
    private long _writes;
    private int _notified;
    private volatile bool _connected;

    private PostgresGalleryStore(NpgsqlDataSource source, NpgsqlConnectionStringBuilder settings, IFaceEncoder encoder, string faceInput, RecognitionOptions? options, TextWriter log,
        ChangeRetention retention)
    {
        _retention = retention;
        _source = source;
        // The data source hides the password from its ConnectionString, so the follower's is made from the settings.
        _feed = new NpgsqlSlimDataSourceBuilder(new NpgsqlConnectionStringBuilder(settings.ConnectionString) { ApplicationName = settings.ApplicationName + " follower" }.ConnectionString).Build();
        _encoder = encoder;
        _stamp = ModelStamp.Of(encoder);
        _faceInput = faceInput;
        _options = options ?? new RecognitionOptions();
        _log = log;
        _where = PostgresSchema.Where(source);
    }

    /// <summary>The last change sequence number this instance has applied.</summary>
    public long AppliedSequence => Interlocked.Read(ref _applied);

    /// <summary>Whether the change follower is connected to the database now.</summary>
    public bool Connected => _connected;

    /// <inheritdoc />
    public IReadOnlyList<string> Names => [.. _collections.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Connects to <paramref name="store"/>, checks its schema, loads every collection and starts following changes.
    /// Searches run with <paramref name="encoder"/>'s model; collections of another model or face input are listed but
    /// refused (409) like gallery files. This instance's writes prune the change log as <paramref name="retention"/>
    /// says (default <see cref="ChangeRetention.Default"/>).
    /// </summary>
    /// <exception cref="GalleryStoreException">Bad address, unreachable, or a schema that is not this build's.</exception>
    public static async Task<PostgresGalleryStore> OpenAsync(string store, IFaceEncoder encoder, string faceInput, RecognitionOptions? options = null,
        TextWriter? log = null, ChangeRetention? retention = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentException.ThrowIfNullOrWhiteSpace(faceInput);
        retention ??= ChangeRetention.Default;
        var settings = PostgresLocation.Parse(store);
        var source = new NpgsqlSlimDataSourceBuilder(settings.ConnectionString).Build();
        try
        {
            await PostgresSchema.CheckAsync(source, cancellation).ConfigureAwait(false);
            var opened = new PostgresGalleryStore(source, settings, encoder, faceInput, options, log ?? TextWriter.Null, retention);
            await PostgresSchema.Guard(source, () => opened.LoadAsync(cancellation)).ConfigureAwait(false);
            opened._connected = true;
            opened._follower = Task.Run(() => opened.FollowAsync(opened._stop.Token), CancellationToken.None);
            return opened;
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public CollectionSnapshot Get(string name)
    {
        IGalleryStore.ValidateCollectionName(name);
        if (!_collections.TryGetValue(name, out var live))
        {
            throw ApiException.NotFound($"collection '{name}' does not exist");
        }

        return live.Snapshot ?? throw new ApiException(409, $"collection '{name}': {live.Refusal}");
    }

    /// <inheritdoc />
    public async Task<bool> CreateAsync(string name, CancellationToken cancellation)
    {
        IGalleryStore.ValidateCollectionName(name);
        bool created = await Write(async (connection, _) =>
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO collections (name, model_id, weights_sha256, preprocessing, embedding_size, face_input)
                VALUES (@name, @model, @digest, @pre, @size, @input) ON CONFLICT (name) DO NOTHING RETURNING id
                """, connection);
            insert.Parameters.AddWithValue("name", name);
            insert.Parameters.AddWithValue("model", _stamp.ModelId);
            insert.Parameters.AddWithValue("digest", _stamp.WeightsDigest);
            insert.Parameters.AddWithValue("pre", _stamp.PreprocessingId);
            insert.Parameters.AddWithValue("size", _stamp.EmbeddingSize);
            insert.Parameters.AddWithValue("input", _faceInput);
            if (await insert.ExecuteScalarAsync(cancellation).ConfigureAwait(false) is null)
            {
                return (false, 0L);
            }

            return (true, await Change(connection, name, "create", null, null, cancellation).ConfigureAwait(false));
        }, cancellation).ConfigureAwait(false);
        if (!created)
        {
            Get(name); // 409 when it was made with another model, as a gallery file
        }

        return created;
    }

    /// <inheritdoc />
    public Task DeleteAsync(string name, CancellationToken cancellation)
    {
        IGalleryStore.ValidateCollectionName(name);
        return Write(async (connection, _) =>
        {
            await using var delete = new NpgsqlCommand("DELETE FROM collections WHERE name = @name", connection);
            delete.Parameters.AddWithValue("name", name);
            if (await delete.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false) == 0)
            {
                throw ApiException.NotFound($"collection '{name}' does not exist");
            }

            return (true, await Change(connection, name, "delete", null, null, cancellation).ConfigureAwait(false));
        }, cancellation);
    }

    /// <inheritdoc />
    public Task<int> EnrollAsync(string name, string person, IReadOnlyList<(string Source, FaceEncoding Encoding)> photos, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(photos);
        IGalleryStore.ValidateCollectionName(name);
        IGalleryStore.ValidatePerson(person);
        Get(name); // 404, or 409 for another model, before anything is written
        if (photos.Any(p => p.Encoding.Embedding.Length != _stamp.EmbeddingSize || p.Encoding.Embedding.Any(v => !float.IsFinite(v))))
        {
            throw ApiException.BadRequest($"every embedding must have {_stamp.EmbeddingSize} finite values");
        }

        var added = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()); // as stored: whole milliseconds
        return Write(async (connection, _) =>
        {
            long collection = await CollectionId(connection, name, cancellation).ConfigureAwait(false);
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO people (collection_id, name) VALUES (@c, @p)
                ON CONFLICT (collection_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id
                """, connection);
            upsert.Parameters.AddWithValue("c", collection);
            upsert.Parameters.AddWithValue("p", person);
            long personId = (long)(await upsert.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
            long seq = await Change(connection, name, "enroll", person, null, cancellation).ConfigureAwait(false);
            foreach (var (photoSource, encoding) in photos)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO photos (person_id, change_seq, source, added, embedding) VALUES (@p, @s, @src, @at, @e)", connection);
                insert.Parameters.AddWithValue("p", personId);
                insert.Parameters.AddWithValue("s", seq);
                insert.Parameters.AddWithValue("src", photoSource);
                insert.Parameters.AddWithValue("at", added);
                insert.Parameters.AddWithValue("e", NpgsqlDbType.Bytea, MemoryMarshal.AsBytes(encoding.Embedding.AsSpan()).ToArray());
                await insert.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            await using var count = new NpgsqlCommand("SELECT count(*) FROM photos WHERE person_id = @p", connection);
            count.Parameters.AddWithValue("p", personId);
            return ((int)(long)(await count.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!, seq);
        }, cancellation);
    }

    /// <inheritdoc />
    public Task RemoveAsync(string name, string person, CancellationToken cancellation)
    {
        IGalleryStore.ValidateCollectionName(name);
        return Write(async (connection, _) =>
        {
            long collection = await CollectionId(connection, name, cancellation).ConfigureAwait(false);
            await using var delete = new NpgsqlCommand("DELETE FROM people WHERE collection_id = @c AND name = @p", connection);
            delete.Parameters.AddWithValue("c", collection);
            delete.Parameters.AddWithValue("p", person);
            if (await delete.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false) == 0)
            {
                throw ApiException.NotFound($"'{person}' is not enrolled in '{name}'");
            }

            return (true, await Change(connection, name, "remove", person, null, cancellation).ConfigureAwait(false));
        }, cancellation);
    }

    /// <inheritdoc />
    public Task RenameAsync(string name, string person, string newName, CancellationToken cancellation)
    {
        IGalleryStore.ValidateCollectionName(name);
        return Write(async (connection, _) =>
        {
            long collection = await CollectionId(connection, name, cancellation).ConfigureAwait(false);
            await using var find = new NpgsqlCommand("SELECT name FROM people WHERE collection_id = @c AND name IN (@p, @n)", connection);
            find.Parameters.AddWithValue("c", collection);
            find.Parameters.AddWithValue("p", person);
            find.Parameters.AddWithValue("n", newName);
            var found = new List<string>();
            await using (var reader = await find.ExecuteReaderAsync(cancellation).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
                {
                    found.Add(reader.GetString(0));
                }
            }

            if (!found.Contains(person))
            {
                throw ApiException.NotFound($"'{person}' is not enrolled in '{name}'");
            }

            IGalleryStore.ValidatePerson(newName);
            if (found.Contains(newName))
            {
                throw new ApiException(409, $"'{newName}' is already enrolled in '{name}'");
            }

            await using var update = new NpgsqlCommand("UPDATE people SET name = @n WHERE collection_id = @c AND name = @p", connection);
            update.Parameters.AddWithValue("c", collection);
            update.Parameters.AddWithValue("p", person);
            update.Parameters.AddWithValue("n", newName);
            await update.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            return (true, await Change(connection, name, "rename", person, newName, cancellation).ConfigureAwait(false));
        }, cancellation);
    }

    /// <inheritdoc />
    public Task SetThresholdAsync(string name, double? threshold, CancellationToken cancellation)
    {
        IGalleryStore.ValidateCollectionName(name);
        if (threshold is { } value && !(value > 0 && double.IsFinite(value)))
        {
            throw ApiException.BadRequest($"threshold {value} must be a positive number");
        }

        return Write(async (connection, _) =>
        {
            long collection = await CollectionId(connection, name, cancellation).ConfigureAwait(false);
            await using var command = threshold is null
                ? new NpgsqlCommand("DELETE FROM thresholds WHERE collection_id = @c", connection)
                : new NpgsqlCommand("INSERT INTO thresholds (collection_id, threshold) VALUES (@c, @t) ON CONFLICT (collection_id) DO UPDATE SET threshold = EXCLUDED.threshold, calibrated_at = now()", connection);
            command.Parameters.AddWithValue("c", collection);
            if (threshold is { } t)
            {
                command.Parameters.AddWithValue("t", t);
            }

            await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            return (true, await Change(connection, name, "threshold", null, null, cancellation).ConfigureAwait(false));
        }, cancellation);
    }

    /// <summary>
    /// Applies every change committed so far (tests and tools that need this instance current now, not within the
    /// notification's few milliseconds).
    /// </summary>
    public async Task CatchUpAsync(CancellationToken cancellation = default)
    {
        await PostgresSchema.Guard(_source, async () =>
        {
            await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await CatchUpAsync(connection, cancellation).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _follower.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _apply.Dispose();
        await _feed.DisposeAsync().ConfigureAwait(false);
        await _source.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="failure"/> means the database cannot be reached now (a 503, not a bug).</summary>
    public static bool IsUnavailable(Exception failure) => failure switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal)
            || pg.SqlState is "53300" or "53000",
        NpgsqlException => true, // not a server's answer: the connection failed or broke
        SocketException or TimeoutException or EndOfStreamException => true,
        IOException { InnerException: SocketException } => true,
        _ => false,
    };

    // One write: a transaction under the writers' lock; on success this instance applies everything up to its change.
    private async Task<T> Write<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<(T Result, long Seq)>> body, CancellationToken cancellation)
    {
        T result;
        long seq;
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellation).ConfigureAwait(false);
            await using (var locked = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({WriterLock})", connection))
            {
                await locked.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            (result, seq) = await body(connection, transaction).ConfigureAwait(false);
            if (seq > 0 && Interlocked.Increment(ref _writes) % _retention.Every == 0)
            {
                await PruneAsync(connection, _retention, cancellation).ConfigureAwait(false);
            }

            if (seq > 0)
            {
                await using var notify = new NpgsqlCommand($"SELECT pg_notify('{PostgresLocation.Channel}', @s)", connection);
                notify.Parameters.AddWithValue("s", seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
                await notify.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellation).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnavailable(ex) && !cancellation.IsCancellationRequested)
        {
            _source.Clear(); // pooled connections to a server that went away are dead; the next write opens fresh ones
            throw Unavailable(ex);
        }

        if (seq > 0)
        {
            try
            {
                await CatchUpAsync(cancellation).ConfigureAwait(false);
            }
            catch (GalleryStoreException ex)
            {
                // Committed, so the write stands; the follower applies it here as soon as the database is back.
                _log.WriteLine($"warning: {_where}: change {seq} is written but not yet applied here: {ex.Message}");
            }
        }

        return result;
    }

    private ApiException Unavailable(Exception ex) =>
        new(503, $"the collection database ({_where}) cannot be reached ({ex.Message}); identify and verify still answer from memory; retry the change shortly", ex)
        {
            RetryAfterSeconds = 1,
        };

    private static async Task<long> CollectionId(NpgsqlConnection connection, string name, CancellationToken cancellation)
    {
        await using var find = new NpgsqlCommand("SELECT id FROM collections WHERE name = @name", connection);
        find.Parameters.AddWithValue("name", name);
        return await find.ExecuteScalarAsync(cancellation).ConfigureAwait(false) is long id ? id : throw ApiException.NotFound($"collection '{name}' does not exist");
    }

    internal static async Task<long> Change(NpgsqlConnection connection, string collection, string kind, string? person, string? newName, CancellationToken cancellation)
    {
        await using var insert = new NpgsqlCommand("INSERT INTO changes (collection, kind, person, new_name) VALUES (@c, @k, @p, @n) RETURNING seq", connection);
        insert.Parameters.AddWithValue("c", collection);
        insert.Parameters.AddWithValue("k", kind);
        insert.Parameters.AddWithValue("p", (object?)person ?? DBNull.Value);
        insert.Parameters.AddWithValue("n", (object?)newName ?? DBNull.Value);
        return (long)(await insert.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
    }

    // Deletes the changes older than the retention keeps (in the writer's transaction, under the writers' lock) and
    // records the last number deleted, so an instance that had not applied them knows it must reload.
    internal static async Task PruneAsync(NpgsqlConnection connection, ChangeRetention retention, CancellationToken cancellation)
    {
        // now() is this transaction's start: the change it just wrote is never older than an age of zero.
        await using var prune = new NpgsqlCommand("""
            WITH cut AS (
                SELECT max(seq) AS through FROM changes
                WHERE at < now() - make_interval(secs => @age) AND seq <= (SELECT max(seq) FROM changes) - @rows),
            gone AS (DELETE FROM changes WHERE seq <= (SELECT through FROM cut))
            UPDATE changes_pruned SET through = (SELECT through FROM cut) WHERE (SELECT through FROM cut) > through
            """, connection);
        prune.Parameters.AddWithValue("age", retention.Age.TotalSeconds);
        prune.Parameters.AddWithValue("rows", (long)retention.Rows);
        await prune.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
    }

    // The change number a snapshot of the database stands at: its last change, or the last pruned one when every
    // change has been pruned since.
    private static async Task<(long Seq, long Pruned)> PositionAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        await using var read = new NpgsqlCommand("SELECT greatest(coalesce((SELECT max(seq) FROM changes), 0), through), through FROM changes_pruned", connection);
        await using var reader = await read.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
        await reader.ReadAsync(cancellation).ConfigureAwait(false);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    // Every collection as of one snapshot, and the sequence number of that snapshot.
    private async Task<bool> LoadAsync(CancellationToken cancellation)
    {
        await _apply.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellation).ConfigureAwait(false);
            await ReloadAsync(connection, cancellation).ConfigureAwait(false);
            await transaction.CommitAsync(cancellation).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _apply.Release();
        }
    }

    // Every collection afresh from the connection's snapshot (at start, or when the changes this instance had not
    // applied were pruned); collections gone from the database are dropped. Returns the snapshot's change number.
    private async Task<long> ReloadAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        var (seq, _) = await PositionAsync(connection, cancellation).ConfigureAwait(false);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var gallery in await PostgresGalleries.ReadAsync(connection, null, seq, roomToGrow: true, cancellation).ConfigureAwait(false))
        {
            names.Add(CollectionOf(gallery));
            _collections[CollectionOf(gallery)] = Make(gallery);
        }

        foreach (string gone in _collections.Keys.Where(n => !names.Contains(n)).ToList())
        {
            _collections.TryRemove(gone, out _);
        }

        Interlocked.Exchange(ref _applied, seq);
        return seq;
    }

    // LISTEN on one connection; every notification (and every few seconds anyway) applies the changes after _applied.
    // A lost connection is retried with a growing pause (0.1 s to 1 s); the first thing after a reconnect is a catch-up.
    private async Task FollowAsync(CancellationToken stop)
    {
        var pause = TimeSpan.FromMilliseconds(100);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _feed.OpenConnectionAsync(stop).ConfigureAwait(false);
                connection.Notification += (_, _) => Interlocked.Exchange(ref _notified, 1);
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresLocation.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                await CatchUpAsync(connection, stop).ConfigureAwait(false);
                if (!_connected)
                {
                    _log.WriteLine($"info: {_where}: reconnected; caught up to change {AppliedSequence}");
                }

                _connected = true;
                pause = TimeSpan.FromMilliseconds(100);
                while (!stop.IsCancellationRequested)
                {
                    // A notification that arrived while the last catch-up ran is not lost: the flag says to go again.
                    if (Interlocked.Exchange(ref _notified, 0) == 0)
                    {
                        await connection.WaitAsync(SafetyPoll, stop).ConfigureAwait(false);
                        Interlocked.Exchange(ref _notified, 0);
                    }

                    await CatchUpAsync(connection, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the follower must outlive any failure; it is logged and retried
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (_connected)
                {
                    _log.WriteLine($"warning: {_where}: lost the change feed ({ex.Message}); identify answers from memory, writes get 503, reconnecting");
                }

                _connected = false;
                _feed.Clear();
                try
                {
                    await Task.Delay(pause, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
            }
        }
    }

    // Applies the changes after _applied, in order, from one consistent snapshot, in batches.
    private async Task CatchUpAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        await _apply.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            while (true)
            {
                await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellation).ConfigureAwait(false);
                long after = AppliedSequence;
                var (_, pruned) = await PositionAsync(connection, cancellation).ConfigureAwait(false);
                if (pruned > after)
                {
                    // Changes after ours are gone from the log: applying what is left would silently miss them.
                    _log.WriteLine($"info: {_where}: changes up to {pruned} were pruned before this instance (at {after}) applied them; reloading every collection");
                    long reloaded = await ReloadAsync(connection, cancellation).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellation).ConfigureAwait(false);
                    _log.WriteLine($"info: {_where}: reloaded every collection at change {reloaded}");
                    continue;
                }

                var changes = new List<(long Seq, string Collection, string Kind, string? Person, string? NewName)>();
                await using (var read = new NpgsqlCommand("SELECT seq, collection, kind, person, new_name FROM changes WHERE seq > @after ORDER BY seq LIMIT 10000", connection))
                {
                    read.Parameters.AddWithValue("after", after);
                    await using var reader = await read.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
                    while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
                    {
                        changes.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
                    }
                }

                if (changes.Count == 0)
                {
                    await transaction.CommitAsync(cancellation).ConfigureAwait(false);
                    return;
                }

                var photos = changes.Any(c => c.Kind == "enroll")
                    ? await PhotosAsync(connection, after, changes[^1].Seq, cancellation).ConfigureAwait(false)
                    : [];
                foreach (var change in changes)
                {
                    await ApplyAsync(connection, change, photos, cancellation).ConfigureAwait(false);
                    Interlocked.Exchange(ref _applied, change.Seq);
                }

                await transaction.CommitAsync(cancellation).ConfigureAwait(false);
            }
        }
        finally
        {
            _apply.Release();
        }
    }

    private static async Task<Dictionary<long, List<GalleryEntry>>> PhotosAsync(NpgsqlConnection connection, long after, long until, CancellationToken cancellation)
    {
        var photos = new Dictionary<long, List<GalleryEntry>>();
        await using var read = new NpgsqlCommand("SELECT change_seq, source, added, embedding FROM photos WHERE change_seq > @a AND change_seq <= @u ORDER BY change_seq, id", connection);
        read.Parameters.AddWithValue("a", after);
        read.Parameters.AddWithValue("u", until);
        await using var reader = await read.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
        {
            long seq = reader.GetInt64(0);
            if (!photos.TryGetValue(seq, out var list))
            {
                photos[seq] = list = [];
            }

            list.Add(PostgresGalleries.Entry(reader, 1));
        }

        return photos;
    }

    // One change onto the in-memory copy. Tolerant by design: a person renamed or removed by a later change, or a
    // collection deleted later, is simply skipped here; the later change then finds it as it expects.
    private async Task ApplyAsync(NpgsqlConnection connection, (long Seq, string Collection, string Kind, string? Person, string? NewName) change,
        Dictionary<long, List<GalleryEntry>> photos, CancellationToken cancellation)
    {
        _collections.TryGetValue(change.Collection, out var live);
        switch (change.Kind)
        {
            case "create":
                var created = await PostgresGalleries.ReadAsync(connection, change.Collection, change.Seq, roomToGrow: true, cancellation).ConfigureAwait(false);
                if (created.Count == 1)
                {
                    _collections[change.Collection] = Make(created[0]);
                }

                break;
            case "delete":
                _collections.TryRemove(change.Collection, out _);
                break;
            case "enroll" when live is not null && photos.TryGetValue(change.Seq, out var entries) && change.Person is { } person:
                _collections[change.Collection] = Make(live.Gallery.WithPhotos(person, entries));
                break;
            case "remove" when live is not null && change.Person is { } person && live.Gallery.Contains(person):
                _collections[change.Collection] = Make(live.Gallery.Without(person));
                break;
            case "threshold" when live is not null:
                // The value as it is now: a later threshold change re-applies the same way, so instances converge.
                await using (var read = new NpgsqlCommand("SELECT t.threshold FROM thresholds t JOIN collections c ON c.id = t.collection_id WHERE c.name = @n", connection))
                {
                    read.Parameters.AddWithValue("n", change.Collection);
                    double? value = await read.ExecuteScalarAsync(cancellation).ConfigureAwait(false) is double d ? d : null;
                    _collections[change.Collection] = Make(live.Gallery.WithThreshold(value));
                }

                break;
            case "rename" when live is not null && change.Person is { } person && change.NewName is { } newName
                && live.Gallery.Contains(person) && !live.Gallery.Contains(newName):
                _collections[change.Collection] = Make(live.Gallery.WithRenamed(person, newName));
                break;
        }
    }

    // The recognizer searches a view of the gallery's own rows: a new version costs its change, not a copy.
    private Live Make(Gallery gallery)
    {
        try
        {
            gallery.EnsureCompatible(_stamp);
            gallery.EnsureFaceInput(_faceInput);
        }
        catch (GalleryException ex)
        {
            return new Live(gallery, null, ex.Message);
        }

        return new Live(gallery, new CollectionSnapshot(CollectionOf(gallery), gallery, new FaceRecognizer(_encoder, gallery, _options)), null);
    }

    private static string CollectionOf(Gallery gallery) => gallery.Path[(gallery.Path.LastIndexOf('/') + 1)..];

    private sealed record Live(Gallery Gallery, CollectionSnapshot? Snapshot, string? Refusal);
}
