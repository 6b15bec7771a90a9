using System.Diagnostics;
using InceptionNet.Models;
using InceptionNet.Server.Collections.Postgres;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Npgsql;
using Xunit;

namespace InceptionNet.Server.Tests.Postgres;

/// <summary>
/// A fresh database for one test on the PostgreSQL named by <c>INCEPTIONNET_TEST_PG</c> (tools/pg/throwaway.sh start
/// prints one; .ci/run exports it). Without it the test is skipped, with the reason named; under CI=true it fails.
/// </summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    public const string Variable = "INCEPTIONNET_TEST_PG";

    private readonly string _admin;

    private TestDatabase(string admin, string name, string store)
    {
        _admin = admin;
        Name = name;
        Store = store;
    }

    /// <summary>The database's name.</summary>
    public string Name { get; }

    /// <summary>The --store value for it (an Npgsql connection string).</summary>
    public string Store { get; }

    /// <summary>The server to use, or a skip (locally) / a failure (CI=true) when there is none.</summary>
    public static string Server()
    {
        string? server = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(server))
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail($"{Variable} is not set under CI=true: .ci/run must start PostgreSQL (tools/pg/throwaway.sh start) before the tests");
            }

            Skip.If(true, $"PostgreSQL tests need {Variable} (e.g. export {Variable}=$(tools/pg/throwaway.sh start)); it is not set");
        }

        return server!;
    }

    /// <summary>Creates an empty database (migrated unless told otherwise) on <paramref name="server"/> (default: <see cref="Server"/>).</summary>
    public static async Task<TestDatabase> CreateAsync(bool migrate = true, string? server = null)
    {
        var admin = PostgresLocation.Parse(server ?? Server());
        // The store's own 3 s connect timeout answers an outage quickly; here both cores run the whole suite beside the
        // throwaway cluster, and a first connection took longer than 3 s once (CI, 2026-12-05). A stopped server refuses
        // at once, so the outage tests do not wait on this; 20, not 15, because Parse reads 15 as "not given".
        admin.Timeout = 20;
        string name = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using (var source = NpgsqlDataSource.Create(admin.ConnectionString))
        await using (var create = source.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var settings = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = name };
        var database = new TestDatabase(admin.ConnectionString, name, settings.ConnectionString);
        if (migrate)
        {
            await using var source = PostgresLocation.Open(database.Store);
            await PostgresSchema.MigrateAsync(source);
        }

        return database;
    }

    /// <summary>Runs SQL against the test database.</summary>
    public async Task<object?> Sql(string sql)
    {
        await using var source = NpgsqlDataSource.Create(Store);
        await using var command = source.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var source = NpgsqlDataSource.Create(_admin);
            await using var drop = source.CreateCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // the server of an outage test may be gone already; its folder is deleted with it
        }
    }
}

/// <summary>A PostgreSQL cluster of one test's own (tools/pg/throwaway.sh), so it can be stopped without disturbing other tests.</summary>
internal sealed class OwnCluster : IAsyncDisposable
{
    private readonly string _folder;

    private OwnCluster(string folder, string url)
    {
        _folder = folder;
        Url = url;
    }

    public string Url { get; }

    public static async Task<OwnCluster> StartAsync()
    {
        TestDatabase.Server(); // skips (or fails under CI) the same way when PostgreSQL is not there
        string folder = Path.Combine(Path.GetTempPath(), "inet-pg-" + Guid.NewGuid().ToString("N")[..8]);
        string url = (await Script("start", folder)).Trim();
        return new OwnCluster(folder, url);
    }

    /// <summary>Stops the server, keeping its data (an outage).</summary>
    public Task StopAsync() => Script("pause", _folder);

    /// <summary>Starts it again on the same port.</summary>
    public Task ResumeAsync() => Script("resume", _folder);

    public async ValueTask DisposeAsync() => await Script("stop", _folder);

    private static async Task<string> Script(string action, string folder)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(SharedData.RepoRoot, "tools", "pg", "throwaway.sh"));
        start.ArgumentList.Add(action);
        start.ArgumentList.Add(folder);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(process.ExitCode == 0, $"throwaway.sh {action} failed: {await stderr}");
        return await stdout;
    }
}

/// <summary>An encoder that is never asked to encode: the store tests give it synthetic vectors.</summary>
internal sealed class SyntheticEncoder : IFaceEncoder
{
    public string ModelId => "synthetic";

    public int InputSize => 160;

    public int EmbeddingSize => 128;

    public string PreprocessingId => "none";

    public double DefaultThreshold => 0.6;

    public bool NormalizesEmbedding => true;

    public string WeightsDigest => "5y7h37ic0000000000000000";

    public FaceEncoding Encode(RgbImage image) => throw new NotSupportedException();

    public IReadOnlyList<FaceEncoding> Encode(IReadOnlyList<RgbImage> images, int batchSize = 16) => throw new NotSupportedException();

    /// <summary>A unit vector from <paramref name="seed"/> (the same seed, the same vector).</summary>
    public static FaceEncoding Vector(int seed)
    {
        var random = new Random(seed);
        var v = new float[128];
        double norm = 0;
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(random.NextDouble() * 2 - 1);
            norm += v[i] * v[i];
        }

        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(v[i] / Math.Sqrt(norm));
        }

        return new FaceEncoding(v, v);
    }
}

/// <summary>Waits for a condition with a bounded deadline (never a fixed sleep as the test's condition).</summary>
internal static class Eventually
{
    public static async Task<TimeSpan> Until(Func<bool> condition, TimeSpan deadline, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < deadline, $"not within {deadline.TotalSeconds:F1} s: {what}");
            await Task.Delay(5);
        }

        return clock.Elapsed;
    }

    public static async Task<(T Value, TimeSpan Took)> Until<T>(Func<Task<T?>> attempt, TimeSpan deadline, string what) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await attempt() is { } value)
            {
                return (value, clock.Elapsed);
            }

            Assert.True(clock.Elapsed < deadline, $"not within {deadline.TotalSeconds:F1} s: {what}");
            await Task.Delay(20);
        }
    }
}
