using System.Runtime.InteropServices;
using InceptionNet.Recognition;
using Npgsql;
using NpgsqlTypes;

namespace InceptionNet.Server.Collections.Postgres;

/// <summary>
/// Collections as whole <see cref="Gallery"/> values: read at a change sequence number (an instance's load and
/// catch-up), and moved between a gallery file and the database (<c>inceptionnet gallery export|import</c>). Vectors
/// travel as their float32 bytes both ways, so they arrive bit-identical.
/// </summary>
public static class PostgresGalleries
{
    /// <summary>Writes collection <paramref name="collection"/> to a new gallery file at <paramref name="path"/>. Returns it.</summary>
    /// <exception cref="GalleryStoreException">Unreachable, or no such collection.</exception>
    /// <exception cref="GalleryException">The file exists already or cannot be written.</exception>
    public static async Task<Gallery> ExportAsync(NpgsqlDataSource source, string collection, string path, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        await PostgresSchema.CheckAsync(source, cancellation).ConfigureAwait(false);
        var read = await PostgresSchema.Guard(source, async () =>
        {
            await using var connection = await source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellation).ConfigureAwait(false);
            return await ReadAsync(connection, collection, long.MaxValue, roomToGrow: false, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        if (read.Count == 0)
        {
            throw new GalleryStoreException($"{PostgresSchema.Where(source)}: collection '{collection}' does not exist");
        }

        var gallery = read[0].WithPath(path);
        gallery.SaveAsNewFile();
        return gallery;
    }

    /// <summary>
    /// Creates collection <paramref name="collection"/> from <paramref name="gallery"/> in one transaction (binary COPY
    /// of the photos); instances following the database load it as one change. Returns the photos written.
    /// </summary>
    /// <exception cref="GalleryStoreException">Unreachable, or the collection exists already.</exception>
    public static async Task<long> ImportAsync(NpgsqlDataSource source, Gallery gallery, string collection, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(gallery);
        if (!IGalleryStore.IsValidName(collection))
        {
            throw new GalleryStoreException($"'{collection}' is not a valid collection name (1–64 letters, digits, '.', '_' or '-', starting with a letter or digit)");
        }

        await PostgresSchema.CheckAsync(source, cancellation).ConfigureAwait(false);
        return await PostgresSchema.Guard(source, async () =>
        {
            await using var connection = await source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
            await using (var locked = new NpgsqlCommand("SELECT pg_advisory_xact_lock(" + 0x1E_CE_97_10_17L.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", connection))
            {
                await locked.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            await using var insert = new NpgsqlCommand("""
                INSERT INTO collections (name, model_id, weights_sha256, preprocessing, embedding_size, face_input)
                VALUES (@name, @model, @digest, @pre, @size, @input) ON CONFLICT (name) DO NOTHING RETURNING id
                """, connection);
            insert.Parameters.AddWithValue("name", collection);
            insert.Parameters.AddWithValue("model", gallery.Model.ModelId);
            insert.Parameters.AddWithValue("digest", gallery.Model.WeightsDigest);
            insert.Parameters.AddWithValue("pre", gallery.Model.PreprocessingId);
            insert.Parameters.AddWithValue("size", gallery.Model.EmbeddingSize);
            insert.Parameters.Add(new NpgsqlParameter("input", NpgsqlDbType.Text) { Value = (object?)gallery.FaceInput ?? DBNull.Value });
            long id = await insert.ExecuteScalarAsync(cancellation).ConfigureAwait(false) is long created ? created
                : throw new GalleryStoreException($"{PostgresSchema.Where(source)}: collection '{collection}' already exists; delete it first or import under another name");
            if (gallery.Threshold is { } threshold)
            {
                await using var calibrated = new NpgsqlCommand("INSERT INTO thresholds (collection_id, threshold) VALUES (@c, @t)", connection);
                calibrated.Parameters.AddWithValue("c", id);
                calibrated.Parameters.AddWithValue("t", threshold);
                await calibrated.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            long seq = await PostgresGalleryStore.Change(connection, collection, "create", null, null, cancellation).ConfigureAwait(false);
            var identities = gallery.Identities;
            var personIds = new long[identities.Count];
            await using (var people = await connection.BeginBinaryImportAsync("COPY people (collection_id, name) FROM STDIN (FORMAT BINARY)", cancellation).ConfigureAwait(false))
            {
                foreach (var identity in identities)
                {
                    await people.StartRowAsync(cancellation).ConfigureAwait(false);
                    await people.WriteAsync(id, NpgsqlDbType.Bigint, cancellation).ConfigureAwait(false);
                    await people.WriteAsync(identity.Name, NpgsqlDbType.Text, cancellation).ConfigureAwait(false);
                }

                await people.CompleteAsync(cancellation).ConfigureAwait(false);
            }

            await using (var ids = new NpgsqlCommand("SELECT id, name FROM people WHERE collection_id = @c", connection))
            {
                ids.Parameters.AddWithValue("c", id);
                var byName = new Dictionary<string, long>(StringComparer.Ordinal);
                await using var reader = await ids.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
                {
                    byName[reader.GetString(1)] = reader.GetInt64(0);
                }

                for (int i = 0; i < identities.Count; i++)
                {
                    personIds[i] = byName[identities[i].Name];
                }
            }

            long written = 0;
            await using (var photos = await connection.BeginBinaryImportAsync("COPY photos (person_id, change_seq, source, added, embedding) FROM STDIN (FORMAT BINARY)", cancellation).ConfigureAwait(false))
            {
                for (int i = 0; i < identities.Count; i++)
                {
                    foreach (var entry in identities[i].Entries)
                    {
                        await photos.StartRowAsync(cancellation).ConfigureAwait(false);
                        await photos.WriteAsync(personIds[i], NpgsqlDbType.Bigint, cancellation).ConfigureAwait(false);
                        await photos.WriteAsync(seq, NpgsqlDbType.Bigint, cancellation).ConfigureAwait(false);
                        await photos.WriteAsync(entry.Source, NpgsqlDbType.Text, cancellation).ConfigureAwait(false);
                        await photos.WriteAsync(entry.AddedUtc.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellation).ConfigureAwait(false);
                        await photos.WriteAsync(MemoryMarshal.AsBytes(entry.Embedding.AsSpan()).ToArray(), NpgsqlDbType.Bytea, cancellation).ConfigureAwait(false);
                        written++;
                    }
                }

                await photos.CompleteAsync(cancellation).ConfigureAwait(false);
            }

            await using (var notify = new NpgsqlCommand($"SELECT pg_notify('{PostgresLocation.Channel}', @s)", connection))
            {
                notify.Parameters.AddWithValue("s", seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
                await notify.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellation).ConfigureAwait(false);

            // Fresh statistics after a bulk load: without them the planner may scan every photo for one change's photos.
            await using (var analyze = new NpgsqlCommand("ANALYZE people; ANALYZE photos", connection))
            {
                await analyze.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            return written;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Collection <paramref name="collection"/> (null: every collection) with the photos added by changes up to
    /// <paramref name="until"/>, in enrollment order, as seen by the connection's current transaction. Each vector is
    /// read straight into its gallery's rows, allocated once from the photo count; <paramref name="roomToGrow"/> adds a
    /// quarter of spare rows, so the enrolls after a load append in place instead of copying every row first.
    /// </summary>
    internal static async Task<List<Gallery>> ReadAsync(NpgsqlConnection connection, string? collection, long until, bool roomToGrow, CancellationToken cancellation)
    {
        var where = PostgresLocation.Describe(new NpgsqlConnectionStringBuilder(connection.ConnectionString));
        var heads = new Dictionary<long, (string Name, ModelStamp Model, string? FaceInput, double? Threshold)>();
        await using (var read = new NpgsqlCommand("""
            SELECT c.id, c.name, c.model_id, c.weights_sha256, c.preprocessing, c.embedding_size, c.face_input, t.threshold
            FROM collections c LEFT JOIN thresholds t ON t.collection_id = c.id WHERE @name::text IS NULL OR c.name = @name ORDER BY c.name
            """, connection))
        {
            read.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = (object?)collection ?? DBNull.Value });
            await using var reader = await read.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
            {
                heads[reader.GetInt64(0)] = (reader.GetString(1), new ModelStamp(reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5)),
                    reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetDouble(7));
            }
        }

        var counts = new Dictionary<long, int>();
        await using (var count = new NpgsqlCommand("""
            SELECT p.collection_id, count(*)
            FROM photos ph JOIN people p ON p.id = ph.person_id JOIN collections c ON c.id = p.collection_id
            WHERE (@name::text IS NULL OR c.name = @name) AND ph.change_seq <= @until
            GROUP BY p.collection_id
            """, connection))
        {
            count.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = (object?)collection ?? DBNull.Value });
            count.Parameters.AddWithValue("until", until);
            await using var reader = await count.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
            {
                counts[reader.GetInt64(0)] = checked((int)reader.GetInt64(1));
            }
        }

        var builders = heads.ToDictionary(h => h.Key, h =>
        {
            int photos = counts.GetValueOrDefault(h.Key);
            return new GalleryBuilder($"{where}/{h.Value.Name}", h.Value.Model, h.Value.FaceInput, h.Value.Threshold, photos, roomToGrow ? Math.Max(64, photos / 4) : 0);
        });
        await using (var read = new NpgsqlCommand("""
            SELECT p.collection_id, p.name, ph.source, ph.added, ph.embedding
            FROM photos ph JOIN people p ON p.id = ph.person_id JOIN collections c ON c.id = p.collection_id
            WHERE (@name::text IS NULL OR c.name = @name) AND ph.change_seq <= @until
            ORDER BY p.collection_id, p.id, ph.id
            """, connection))
        {
            read.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = (object?)collection ?? DBNull.Value });
            read.Parameters.AddWithValue("until", until);
            await using var reader = await read.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
            {
                if (!builders.TryGetValue(reader.GetInt64(0), out var builder))
                {
                    continue; // created after the collections were read
                }

                // A person's photos arrive together (ordered by person), as the builder takes them.
                builder.Add(reader.GetString(1), Vector(reader.GetFieldValue<byte[]>(4)), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3));
            }
        }

        return [.. heads.Select(h => builders[h.Key].Build())];
    }

    /// <summary>A photo from columns source, added, embedding starting at <paramref name="first"/>.</summary>
    internal static GalleryEntry Entry(NpgsqlDataReader reader, int first) =>
        new(Vector(reader.GetFieldValue<byte[]>(first + 2)).ToArray(), reader.GetString(first), reader.GetFieldValue<DateTimeOffset>(first + 1));

    // A stored embedding's float32 values (the gallery then checks their count and that they are finite).
    private static ReadOnlySpan<float> Vector(byte[] raw) => raw.Length % sizeof(float) == 0
        ? MemoryMarshal.Cast<byte, float>(raw)
        : throw new GalleryException($"a stored embedding has {raw.Length} bytes, not a whole number of float32 values");
}
