using InceptionNet.Cli;
using InceptionNet.Models;
using InceptionNet.Recognition;
using InceptionNet.Server.Collections;
using InceptionNet.Server.Collections.Postgres;
using InceptionNet.Server.Http;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Server.Tests.Postgres;

/// <summary>
/// <see cref="PostgresGalleryStore"/> on a real PostgreSQL with synthetic 128-d vectors (the model is not the point
/// here): migrations, all-or-nothing writes, two instances kept in sync, an outage, export/import.
/// </summary>
public sealed class PostgresStoreTests(ITestOutputHelper output)
{
    private static readonly SyntheticEncoder Encoder = new();
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static Task<PostgresGalleryStore> Open(string store) => PostgresGalleryStore.OpenAsync(store, Encoder, "whole");

    private static (string, FaceEncoding)[] Photos(params int[] seeds) => [.. seeds.Select(s => ($"synthetic {s}", SyntheticEncoder.Vector(s)))];

    [SkippableFact]
    public async Task Migrations_apply_to_a_fresh_database_are_idempotent_and_an_older_binary_refuses_a_newer_schema()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        await using var source = PostgresLocation.Open(db.Store);

        var missing = await Assert.ThrowsAsync<GalleryStoreException>(() => PostgresSchema.CheckAsync(source));
        Assert.Contains("db migrate", missing.Message, StringComparison.Ordinal);

        Assert.Equal((0, PostgresSchema.Version), await PostgresSchema.MigrateAsync(source));
        Assert.Equal((PostgresSchema.Version, PostgresSchema.Version), await PostgresSchema.MigrateAsync(source));
        await PostgresSchema.CheckAsync(source);
        Assert.Equal(5L, await db.Sql("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('collections', 'people', 'photos', 'thresholds', 'changes')"));

        await db.Sql($"INSERT INTO inceptionnet_schema (version, applied_by) VALUES ({PostgresSchema.Version + 1}, 'a newer build')");
        var newer = await Assert.ThrowsAsync<GalleryStoreException>(() => PostgresSchema.CheckAsync(source));
        Assert.Contains("newer than this build's", newer.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<GalleryStoreException>(() => PostgresSchema.MigrateAsync(source));

        // The command line: exit 2 and one clear line, no stack trace, for a newer schema and for a server that is not there,
        // serve included (it refuses before binding its port).
        var faceapi = InceptionNet.Pipeline.ModelRegistry.Get("faceapi");
        string[] serve = ["serve", "--listen", "127.0.0.1:0", "--data", Path.Combine(Path.GetTempPath(), "inet-never-made"), "--keys", "keys.json", "--model", "faceapi",
            "--weights", InceptionNet.Pipeline.ModelRegistry.FindWeights(faceapi, InceptionNet.TestSupport.SharedData.PathOf("weights", "faceapi")),
            "--mtcnn", InceptionNet.TestSupport.SharedData.PathOf("weights", "mtcnn")];
        foreach (var (args, expected) in new[]
        {
            (new[] { "db", "status", "--store", db.Store }, "newer than this build's"),
            ([.. serve, "--store", db.Store], "newer than this build's"),
            ([.. serve, "--store", "postgres://127.0.0.1:1/nothing"], "cannot be reached"),
            ([.. serve, "--store", "Host=127.0.0.1;Database"], "not a postgres:// URL nor an Npgsql connection string"),
            (new[] { "db", "migrate", "--store", "postgres://127.0.0.1:1/nothing" }, "cannot be reached"),
            (new[] { "db", "migrate", "--store", "mysql://x@y/z" }, "not a postgres:// URL"),
        })
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            Assert.Equal(CliApp.Error, CliApp.Run(args, stdout, stderr));
            Assert.Contains(expected, stderr.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr.ToString(), StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task Each_write_is_all_or_nothing_a_failure_mid_transaction_leaves_nothing_anywhere()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var store = await Open(db.Store);
        Assert.True(await store.CreateAsync("door", CancellationToken.None));
        Assert.Equal(1, await store.EnrollAsync("door", "ada", Photos(1), CancellationToken.None));
        long before = store.AppliedSequence;

        // The database refuses the second photo after the person, the change and the first photo are written.
        await db.Sql("""
            CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.source = 'poison' THEN RAISE EXCEPTION 'poisoned photo'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER poison BEFORE INSERT ON photos FOR EACH ROW EXECUTE FUNCTION poison();
            """);
        var failure = await Assert.ThrowsAsync<PostgresException>(() =>
            store.EnrollAsync("door", "bob", [("good", SyntheticEncoder.Vector(2)), ("poison", SyntheticEncoder.Vector(3))], CancellationToken.None));
        Assert.Contains("poisoned photo", failure.MessageText, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PostgresException>(() => store.EnrollAsync("door", "ada", [("poison", SyntheticEncoder.Vector(4))], CancellationToken.None));

        Assert.Equal(0L, await db.Sql("SELECT count(*) FROM people WHERE name = 'bob'"));
        Assert.Equal(1L, await db.Sql("SELECT count(*) FROM photos"));
        Assert.Equal(before, (long)(await db.Sql("SELECT max(seq) FROM changes"))!);
        Assert.False(store.Get("door").Gallery.Contains("bob"));
        Assert.Equal(1, store.Get("door").Gallery.EntryCount);

        // Refused changes write nothing either.
        Assert.Equal(409, (await Assert.ThrowsAsync<ApiException>(() => store.RenameAsync("door", "ada", "ada", CancellationToken.None))).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<ApiException>(() => store.RemoveAsync("door", "nobody", CancellationToken.None))).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<ApiException>(() => store.EnrollAsync("nowhere", "ada", Photos(5), CancellationToken.None))).Status);
        Assert.Equal(before, (long)(await db.Sql("SELECT max(seq) FROM changes"))!);

        // A fresh instance loads exactly what was committed.
        await using var fresh = await Open(db.Store);
        var gallery = fresh.Get("door").Gallery;
        Assert.Equal(["ada"], gallery.Identities.Select(i => i.Name));
        Assert.Equal(SyntheticEncoder.Vector(1).Embedding, gallery.Get("ada").Entries[0].Embedding);
    }

    [SkippableFact]
    public async Task Two_instances_an_enrollment_on_A_is_identifiable_on_B_within_one_second_and_every_change_follows()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var a = await Open(db.Store);
        await using var b = await Open(db.Store);
        Assert.True(await a.CreateAsync("door", CancellationToken.None));
        await Eventually.Until(() => b.Names.Contains("door"), TimeSpan.FromSeconds(1), "B sees the collection A created");

        var worst = TimeSpan.Zero;
        for (int i = 0; i < 20; i++)
        {
            var probe = SyntheticEncoder.Vector(100 + i);
            await a.EnrollAsync("door", $"person {i}", [($"p{i}", probe)], CancellationToken.None);
            var took = await Eventually.Until(() => b.Get("door").Recognizer.Identify(probe).Identity == $"person {i}", TimeSpan.FromSeconds(1),
                $"person {i} enrolled on A identifiable on B");
            worst = took > worst ? took : worst;
        }

        output.WriteLine($"enroll on A → identifiable on B: worst of 20 = {worst.TotalMilliseconds:F1} ms");

        // Rename, remove, a second photo, and writes from B: both converge on the same gallery, vectors and order.
        await a.RenameAsync("door", "person 0", "zoe", CancellationToken.None);
        await b.RemoveAsync("door", "person 1", CancellationToken.None);
        await b.EnrollAsync("door", "zoe", Photos(7), CancellationToken.None);
        long last = Math.Max(a.AppliedSequence, b.AppliedSequence);
        await Eventually.Until(() => a.AppliedSequence >= last && b.AppliedSequence >= last, TimeSpan.FromSeconds(1), "both applied every change");
        AssertSame(a.Get("door").Gallery, b.Get("door").Gallery);
        Assert.Equal(2, b.Get("door").Gallery.Get("zoe").Entries.Count);
        Assert.False(a.Get("door").Gallery.Contains("person 1"));
        Assert.Equal("zoe", a.Get("door").Recognizer.Identify(SyntheticEncoder.Vector(7)).Identity);

        // A calibrated threshold set on A (the admin page's calibrate) is the one B decides with, and clearing it too.
        await a.SetThresholdAsync("door", 0.42, CancellationToken.None);
        await Eventually.Until(() => b.Get("door").Gallery.Threshold == 0.42, TimeSpan.FromSeconds(1), "B takes the threshold set on A");
        await a.SetThresholdAsync("door", null, CancellationToken.None);
        await Eventually.Until(() => b.Get("door").Gallery.Threshold is null, TimeSpan.FromSeconds(1), "B drops the threshold cleared on A");

        await b.DeleteAsync("door", CancellationToken.None);
        await Eventually.Until(() => !a.Names.Contains("door"), TimeSpan.FromSeconds(1), "A drops the collection B deleted");
    }

    [SkippableFact]
    public async Task Postgres_stopped_identify_still_answers_writes_get_503_and_after_a_restart_everything_catches_up_by_itself()
    {
        await using var cluster = await OwnCluster.StartAsync();
        await using var db = await TestDatabase.CreateAsync(server: cluster.Url);
        await using var a = await Open(db.Store);
        await using var b = await Open(db.Store);
        await a.CreateAsync("door", CancellationToken.None);
        await a.EnrollAsync("door", "ada", Photos(1), CancellationToken.None);
        await Eventually.Until(() => b.Names.Contains("door") && b.Get("door").Gallery.Contains("ada"), TimeSpan.FromSeconds(1), "B has ada");

        await cluster.StopAsync();
        await Eventually.Until(() => !a.Connected && !b.Connected, Deadline, "both notice the outage");
        Assert.Equal("ada", a.Get("door").Recognizer.Identify(SyntheticEncoder.Vector(1)).Identity);
        Assert.Equal("ada", b.Get("door").Recognizer.Identify(SyntheticEncoder.Vector(1)).Identity);
        var refused = await Assert.ThrowsAsync<ApiException>(() => a.EnrollAsync("door", "bob", Photos(2), CancellationToken.None));
        Assert.Equal(503, refused.Status);
        Assert.Equal(1, refused.RetryAfterSeconds);
        Assert.Equal(503, (await Assert.ThrowsAsync<ApiException>(() => b.RenameAsync("door", "ada", "eve", CancellationToken.None))).Status);

        await cluster.ResumeAsync();
        // The client retries as told (Retry-After); the first write after the restart must succeed within the deadline.
        var (_, retried) = await Eventually.Until<object>(async () =>
        {
            try
            {
                return await a.EnrollAsync("door", "bob", Photos(2), CancellationToken.None);
            }
            catch (ApiException ex) when (ex.Status == 503)
            {
                return null;
            }
        }, Deadline, "an enroll succeeds after the restart");
        output.WriteLine($"first successful enroll {retried.TotalMilliseconds:F0} ms after the restart began");
        await Eventually.Until(() => b.Connected && b.Get("door").Gallery.Contains("bob"), Deadline, "B reconnects and catches up");
        Assert.Equal("bob", b.Get("door").Recognizer.Identify(SyntheticEncoder.Vector(2)).Identity);
        AssertSame(a.Get("door").Gallery, b.Get("door").Gallery);
    }

    [SkippableFact]
    public async Task A_follower_whose_connection_is_cut_catches_up_from_its_sequence_number()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var a = await Open(db.Store);
        await using var b = await Open(db.Store);
        await a.CreateAsync("door", CancellationToken.None);
        await Eventually.Until(() => b.Names.Contains("door"), TimeSpan.FromSeconds(1), "B sees door");

        // Cut every follower's connection (both instances) and write at once: the notifications go to no one.
        Assert.Equal(2L, await db.Sql($"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db.Name}' AND application_name LIKE '% follower'"));
        for (int i = 0; i < 30; i++)
        {
            await a.EnrollAsync("door", $"p{i % 7}", Photos(200 + i), CancellationToken.None);
        }

        long last = (long)(await db.Sql("SELECT max(seq) FROM changes"))!;
        await Eventually.Until(() => b.AppliedSequence == last, Deadline, "B catches up to the last change");
        AssertSame(a.Get("door").Gallery, b.Get("door").Gallery);
        Assert.Equal(30, b.Get("door").Gallery.EntryCount);
    }

    [SkippableFact]
    public async Task Export_and_import_move_a_collection_between_a_file_and_postgres_with_vectors_bit_identical()
    {
        await using var db = await TestDatabase.CreateAsync();
        string folder = Directory.CreateTempSubdirectory("inet-pgx-").FullName;
        try
        {
            // A gallery file with awkward values: negative zero, subnormals, the extremes of float32, a calibrated threshold.
            string original = Path.Combine(folder, "door.gallery.json");
            using (var writer = Gallery.OpenForWrite(original, ModelStamp.Of(Encoder), faceInput: "whole"))
            {
                var odd = SyntheticEncoder.Vector(9).Embedding;
                odd[0] = -0f;
                odd[1] = float.Epsilon;
                odd[2] = float.MaxValue;
                odd[3] = float.MinValue;
                odd[4] = 1.17549435E-38f;
                writer.Enroll("ada", [("a.jpg", new FaceEncoding(odd, odd)), ("b.jpg", SyntheticEncoder.Vector(10))], 0);
                writer.Enroll("bob", Photos(11), 0);
                writer.SetThreshold(0.4321);
                writer.Commit();
            }

            string exported = Path.Combine(folder, "back.gallery.json");
            foreach (var args in new[]
            {
                new[] { "gallery", "import", "--store", db.Store, "--collection", "door", "--gallery", original },
                ["gallery", "export", "--store", db.Store, "--collection", "door", "--gallery", exported],
            })
            {
                using var stdout = new StringWriter();
                using var stderr = new StringWriter();
                Assert.True(CliApp.Run(args, stdout, stderr) == CliApp.Success, stderr.ToString());
            }

            var before = Gallery.Open(original);
            var after = Gallery.Open(exported);
            AssertSame(before, after);
            Assert.Equal(0.4321, after.Threshold);
            Assert.Equal("whole", after.FaceInput);
            Assert.Equal(before.Model, after.Model);

            // A running instance loads an imported collection as one change; a second import under the name is refused.
            await using var store = await Open(db.Store);
            AssertSame(before, store.Get("door").Gallery);
            using var err = new StringWriter();
            Assert.Equal(CliApp.Error, CliApp.Run(["gallery", "import", "--store", db.Store, "--collection", "door", "--gallery", original], TextWriter.Null, err));
            Assert.Contains("already exists", err.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Same identities in the same order, same sources, and every vector's bits.
    private static void AssertSame(Gallery expected, Gallery actual)
    {
        Assert.Equal(expected.Identities.Select(i => i.Name), actual.Identities.Select(i => i.Name));
        foreach (var identity in expected.Identities)
        {
            var other = actual.Get(identity.Name).Entries;
            Assert.Equal(identity.Entries.Count, other.Count);
            for (int i = 0; i < other.Count; i++)
            {
                Assert.Equal(identity.Entries[i].Source, other[i].Source);
                Assert.Equal(identity.Entries[i].Embedding.Select(BitConverter.SingleToInt32Bits), other[i].Embedding.Select(BitConverter.SingleToInt32Bits));
            }
        }
    }
}
