using Npgsql;

namespace InceptionNet.Server.Collections.Postgres;

/// <summary>
/// The collections' tables, as numbered migrations applied in order by <c>inceptionnet db migrate</c> (each in the one
/// transaction that records it in <c>inceptionnet_schema</c>). <c>serve</c> checks the version at start and refuses a
/// database that is not exactly this build's: an older schema needs <c>db migrate</c>, a newer one a newer build.
/// </summary>
public static class PostgresSchema
{
    /// <summary>
    /// The migrations, version 1 first. Vectors are <c>bytea</c>: the float32 values' little-endian bytes, exactly as
    /// the gallery file's base64 holds them, so a round trip is bit-identical. <c>changes.seq</c> orders every write;
    /// a photo records the change that added it, which is how instances catch up. <c>changes_pruned</c> (one row)
    /// holds the last change number deleted from <c>changes</c>.
    /// </summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE collections (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
            model_id text NOT NULL,
            weights_sha256 text NOT NULL CHECK (length(weights_sha256) >= 12),
            preprocessing text NOT NULL,
            embedding_size integer NOT NULL CHECK (embedding_size BETWEEN 1 AND 4096),
            face_input text,
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE thresholds (
            collection_id bigint PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
            threshold double precision NOT NULL CHECK (threshold > 0 AND threshold < 'Infinity'),
            calibrated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE people (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            UNIQUE (collection_id, name));
        CREATE TABLE changes (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            collection text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('create', 'delete', 'enroll', 'remove', 'rename', 'threshold')),
            person text,
            new_name text,
            at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE photos (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            person_id bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            change_seq bigint NOT NULL,
            source text NOT NULL,
            added timestamptz NOT NULL,
            embedding bytea NOT NULL);
        CREATE INDEX photos_person ON photos (person_id);
        CREATE INDEX photos_change ON photos (change_seq);
        """,
        // 2: the change log is pruned (ChangeRetention); the last number pruned tells a returning instance to reload.
        """
        CREATE TABLE changes_pruned (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            through bigint NOT NULL CHECK (through >= 0));
        INSERT INTO changes_pruned (through) VALUES (0);
        """,
    ];

    /// <summary>The schema version this build reads and writes.</summary>
    public static int Version => Migrations.Length;

    /// <summary>
    /// Applies the migrations the database lacks, in one transaction (concurrent runs wait for each other). Returns the
    /// versions before and after.
    /// </summary>
    /// <exception cref="GalleryStoreException">Unreachable, or the schema is newer than this build's.</exception>
    public static async Task<(int Before, int After)> MigrateAsync(NpgsqlDataSource source, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        return await Guard(source, async () =>
        {
            await using var connection = await source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
            await Execute(connection, "SELECT pg_advisory_xact_lock(hashtext('inceptionnet-migrate'))", cancellation).ConfigureAwait(false);
            await Execute(connection, """
                CREATE TABLE IF NOT EXISTS inceptionnet_schema (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    applied_by text NOT NULL)
                """, cancellation).ConfigureAwait(false);
            int before = await CurrentAsync(connection, cancellation).ConfigureAwait(false);
            RefuseNewer(source, before);
            for (int version = before + 1; version <= Version; version++)
            {
                await Execute(connection, Migrations[version - 1], cancellation).ConfigureAwait(false);
                await using var record = new NpgsqlCommand("INSERT INTO inceptionnet_schema (version, applied_by) VALUES (@v, @by)", connection);
                record.Parameters.AddWithValue("v", version);
                record.Parameters.AddWithValue("by", $"inceptionnet {typeof(PostgresSchema).Assembly.GetName().Version}");
                await record.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellation).ConfigureAwait(false);
            return (before, Version);
        }).ConfigureAwait(false);
    }

    /// <summary>Refuses a database whose schema is not exactly <see cref="Version"/>, naming the fix.</summary>
    /// <exception cref="GalleryStoreException">Unreachable, not migrated, older or newer.</exception>
    public static async Task CheckAsync(NpgsqlDataSource source, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        int current = await Guard(source, async () =>
        {
            await using var connection = await source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await using var exists = new NpgsqlCommand("SELECT to_regclass('inceptionnet_schema') IS NOT NULL", connection);
            if (!(bool)(await exists.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!)
            {
                return 0;
            }

            return await CurrentAsync(connection, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        RefuseNewer(source, current);
        if (current < Version)
        {
            string where = Where(source);
            throw new GalleryStoreException(current == 0
                ? $"{where}: the database has no InceptionNet schema; create it with 'inceptionnet db migrate --store …' first"
                : $"{where}: the database's schema is version {current}, this build needs {Version}; upgrade it with 'inceptionnet db migrate --store …'");
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/>, turning "cannot connect" and friends into a <see cref="GalleryStoreException"/>
    /// that names the server and the cause (no stack trace reaches the operator).
    /// </summary>
    internal static async Task<T> Guard<T>(NpgsqlDataSource source, Func<Task<T>> work)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState is "3D000" or "28000" or "28P01" or "42501")
        {
            throw new GalleryStoreException($"{Where(source)}: {ex.MessageText} (SQLSTATE {ex.SqlState})", ex);
        }
        catch (Exception ex) when (PostgresGalleryStore.IsUnavailable(ex))
        {
            throw new GalleryStoreException($"{Where(source)} cannot be reached: {Innermost(ex).Message}", ex);
        }
    }

    internal static string Where(NpgsqlDataSource source) => PostgresLocation.Describe(source);

    private static Exception Innermost(Exception ex) => ex.InnerException is { } inner && ex is not PostgresException ? Innermost(inner) : ex;

    private static void RefuseNewer(NpgsqlDataSource source, int current)
    {
        if (current > Version)
        {
            throw new GalleryStoreException($"{Where(source)}: the database's schema is version {current}, newer than this build's {Version}; "
                + "it was migrated by a newer InceptionNet: run that version (an older binary never writes a newer schema)");
        }
    }

    private static async Task<int> CurrentAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM inceptionnet_schema", connection);
        return (int)(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
    }
}
