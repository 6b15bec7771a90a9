using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Server.Collections.Postgres;
using Npgsql;
using Xunit;

namespace InceptionNet.Server.Tests.Postgres;

/// <summary>
/// The change log is pruned as it is written (<see cref="ChangeRetention"/>), and an instance whose unapplied changes
/// were pruned reloads its collections instead of silently missing them.
/// </summary>
public sealed class PostgresRetentionTests
{
    private static readonly SyntheticEncoder Encoder = new();
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static (string, FaceEncoding)[] Photos(params int[] seeds) => [.. seeds.Select(s => ($"synthetic {s}", SyntheticEncoder.Vector(s)))];

    [SkippableFact]
    public async Task Writes_prune_the_change_log_to_the_newest_rows_keep_young_changes_and_a_new_instance_loads_from_a_pruned_log()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using (var young = await PostgresGalleryStore.OpenAsync(db.Store, Encoder, "whole", retention: new ChangeRetention(TimeSpan.FromHours(1), 0, 1)))
        {
            await young.CreateAsync("door", CancellationToken.None);
            for (int i = 0; i < 4; i++)
            {
                await young.EnrollAsync("door", $"p{i}", Photos(i), CancellationToken.None);
            }
        }

        Assert.Equal(5L, await db.Sql("SELECT count(*) FROM changes")); // all younger than an hour: none pruned
        Assert.Equal(0L, await db.Sql("SELECT through FROM changes_pruned"));

        await using var a = await PostgresGalleryStore.OpenAsync(db.Store, Encoder, "whole", retention: new ChangeRetention(TimeSpan.Zero, 3, 1));
        for (int i = 0; i < 10; i++)
        {
            await a.EnrollAsync("door", $"q{i % 4}", Photos(10 + i), CancellationToken.None);
        }

        long last = (long)(await db.Sql("SELECT max(seq) FROM changes"))!;
        Assert.Equal(3L, await db.Sql("SELECT count(*) FROM changes")); // the newest three, as written in order
        Assert.Equal(last - 3, await db.Sql("SELECT through FROM changes_pruned"));
        Assert.Equal(last, a.AppliedSequence);

        await using var b = await PostgresGalleryStore.OpenAsync(db.Store, Encoder, "whole");
        Assert.Equal(last, b.AppliedSequence);
        Assert.Equal(14, b.Get("door").Gallery.EntryCount);
        Assert.Equal(a.Get("door").Gallery.Identities.Select(i => i.Name), b.Get("door").Gallery.Identities.Select(i => i.Name));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChangeRetention(TimeSpan.Zero, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChangeRetention(TimeSpan.FromSeconds(-1), 0, 1));
    }

    [SkippableFact]
    public async Task An_instance_whose_unapplied_changes_were_pruned_reloads_every_collection_instead_of_missing_them()
    {
        await using var db = await TestDatabase.CreateAsync();
        // B connects as a role of its own, so the test can stop it reading the change log while A writes.
        string role = "r_" + db.Name;
        await db.Sql($"CREATE ROLE {role} LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}");
        try
        {
            using var written = new StringWriter();
            var log = TextWriter.Synchronized(written);
            await using var a = await PostgresGalleryStore.OpenAsync(db.Store, Encoder, "whole", retention: new ChangeRetention(TimeSpan.Zero, 1, 1));
            await a.CreateAsync("door", CancellationToken.None);
            await a.CreateAsync("hall", CancellationToken.None);
            await a.EnrollAsync("door", "ada", Photos(1), CancellationToken.None);
            await a.EnrollAsync("hall", "hal", Photos(2), CancellationToken.None);
            string readOnly = new NpgsqlConnectionStringBuilder(db.Store) { Username = role }.ConnectionString;
            await using var b = await PostgresGalleryStore.OpenAsync(readOnly, Encoder, "whole", log: log);
            long before = b.AppliedSequence;
            Assert.True(b.Get("door").Gallery.Contains("ada"));

            await db.Sql($"REVOKE SELECT ON changes FROM {role}");
            await a.EnrollAsync("door", "bob", Photos(3), CancellationToken.None);
            await a.RemoveAsync("door", "ada", CancellationToken.None);
            await a.RenameAsync("door", "bob", "bea", CancellationToken.None);
            await a.DeleteAsync("hall", CancellationToken.None);
            await a.EnrollAsync("door", "cy", Photos(4), CancellationToken.None);
            long last = (long)(await db.Sql("SELECT max(seq) FROM changes"))!;
            Assert.Equal(last - 1, await db.Sql("SELECT through FROM changes_pruned")); // only the last enroll is left to apply
            Assert.Equal(before, b.AppliedSequence); // B could not follow

            await db.Sql($"GRANT SELECT ON changes TO {role}");
            await Eventually.Until(() => b.AppliedSequence == last, Deadline, "B comes back up to the last change");
            var door = b.Get("door").Gallery;
            Assert.Equal(["bea", "cy"], door.Identities.Select(i => i.Name));
            Assert.Equal(SyntheticEncoder.Vector(3).Embedding, door.Get("bea").Entries[0].Embedding);
            Assert.DoesNotContain("hall", b.Names);
            Assert.Equal("cy", b.Get("door").Recognizer.Identify(SyntheticEncoder.Vector(4)).Identity);
            Assert.Contains("were pruned before this instance", written.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await db.Sql($"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }
}
