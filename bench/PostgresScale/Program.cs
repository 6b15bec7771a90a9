using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using InceptionNet.Models;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.Server.Collections.Postgres;
using InceptionNet.Server.Security;
using Npgsql;

// Collections on PostgreSQL at scale: ROWS synthetic unit 128-d embeddings (PER people's worth each) in one collection
// pinned to face-api's model, then the four figures of issue 17: load time into an instance, identify latency (in
// memory, exact), RSS per serve instance, enrolls/s (store alone and through the HTTP API).
// Usage (from the repository root, ../shared beside it):
//   dotnet run -c Release --project bench/PostgresScale -- --store "$(tools/pg/throwaway.sh start)" [--rows 1000000] [--per 10]
// A plain timed program, not BenchmarkDotNet: every figure is one long operation or a distribution of requests.
string? store = null;
int rows = 1_000_000, per = 10, seconds = 10;
bool fill = true, serve = true;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--store": store = args[++i]; break;
        case "--rows": rows = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--per": per = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--no-fill": fill = false; break;   // measure again over the collection the last run filled
        case "--no-serve": serve = false; break; // the in-process figures only
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

if (store is null)
{
    Console.Error.WriteLine("--store is required (tools/pg/throwaway.sh start prints one)");
    return 2;
}

void Say(string line) => Console.WriteLine(FormattableString.Invariant($"{line}"));
var model = ModelRegistry.Get("faceapi");
string weights = ModelRegistry.FindWeights(model, null);
string mtcnn = ModelRegistry.FindMtcnn(null);
var encoder = ModelRegistry.LoadEncoder(model, weights);
string faceInput = FaceInput.Choose(model, FaceInputMode.Auto, null, null).Id;
var stamp = ModelStamp.Of(encoder);
const string Collection = "scale";

await using (var source = PostgresLocation.Open(store))
{
    await PostgresSchema.MigrateAsync(source);
    if (fill)
    {
        await Fill(source);
    }
}

async Task Fill(NpgsqlDataSource source)
{
    await using var clear = source.CreateCommand("DELETE FROM collections WHERE name LIKE 'scale%'");
    await clear.ExecuteNonQueryAsync();

    // 1. Fill by binary COPY, one transaction (the import path).
    var gallery = Synthetic(rows, per, stamp, faceInput);
    var clock = Stopwatch.StartNew();
    long written = await PostgresGalleries.ImportAsync(source, gallery, Collection);
    Say($"fill: {written:N0} photos of {gallery.IdentityCount:N0} people by binary COPY in {clock.Elapsed.TotalSeconds:F1} s ({written / clock.Elapsed.TotalSeconds:N0} rows/s)");
    await using var size = source.CreateCommand("SELECT pg_total_relation_size('photos'), pg_total_relation_size('people')");
    await using var reader = await size.ExecuteReaderAsync();
    await reader.ReadAsync();
    Say($"table sizes: photos {reader.GetInt64(0) / 1048576.0:F0} MB, people {reader.GetInt64(1) / 1048576.0:F0} MB");
}

GC.Collect();
GC.WaitForPendingFinalizers();
GC.Collect();

// 2. Load into an instance (in process, the store alone), exact in-memory search, store-level enroll rate.
{
    long before = Rss();
    var clock = Stopwatch.StartNew();
    await using var loaded = await PostgresGalleryStore.OpenAsync(store, encoder, faceInput);
    double load = clock.Elapsed.TotalSeconds;
    GC.Collect();
    Say($"load into an instance (PostgresGalleryStore.OpenAsync, in process): {load:F1} s; RSS +{(Rss() - before) / 1048576.0:F0} MB (managed heap {GC.GetTotalMemory(false) / 1048576.0:F0} MB)");
    var snapshot = loaded.Get(Collection);
    var random = new Random(7);
    var search = new List<double>();
    for (int i = 0; i < 60; i++)
    {
        var probe = Unit(random, 128);
        var t = Stopwatch.StartNew();
        snapshot.Recognizer.Identify(new FaceEncoding(probe, probe));
        search.Add(t.Elapsed.TotalMilliseconds);
    }

    search = search.Skip(10).Order().ToList();
    Say($"identify search alone over {snapshot.Recognizer.Index.Count:N0} vectors (exact, all cores): p50 {search[search.Count / 2]:F1} ms, p95 {search[search.Count * 95 / 100]:F1} ms");

    int gen2 = GC.CollectionCount(2);
    var paused = GC.GetTotalPauseDuration();
    var enrolls = Stopwatch.StartNew();
    int done = 0;
    while (enrolls.Elapsed.TotalSeconds < seconds)
    {
        var v = Unit(random, 128);
        await loaded.EnrollAsync(Collection, $"store {done}", [("synthetic", new FaceEncoding(v, v))], CancellationToken.None);
        done++;
    }

    Say($"enroll through the store (one transaction + in-memory append, sequential): {done / enrolls.Elapsed.TotalSeconds:F1}/s ({enrolls.Elapsed.TotalMilliseconds / done:F1} ms each; "
        + $"{GC.CollectionCount(2) - gen2} gen2 GCs, {(GC.GetTotalPauseDuration() - paused).TotalMilliseconds:F0} ms paused in GC)");

    // Removes of the people just enrolled: a transaction + catch-up + the index's next version (no rebuild).
    var removes = Stopwatch.StartNew();
    for (int i = 0; i < done; i++)
    {
        await loaded.RemoveAsync(Collection, $"store {i}", CancellationToken.None);
    }

    Say($"remove through the store (one transaction + in-memory removal, sequential): {done / removes.Elapsed.TotalSeconds:F1}/s ({removes.Elapsed.TotalMilliseconds / done:F1} ms each); "
        + $"{loaded.Get(Collection).Recognizer.Index.Count:N0} vectors after; RSS {Rss() / 1048576.0:F0} MB");
}

GC.Collect();
if (!serve)
{
    return 0;
}

// 3. Real serve instances: time to Ready, RSS, identify latency and enrolls/s through the API.
string folder = Directory.CreateTempSubdirectory("inet-pgscale-").FullName;
try
{
    string keys = Path.Combine(folder, "keys.json");
    string admin = ApiKeyStore.Open(keys).Add("admin", ApiScope.Admin).Key;
    using (var files = await Serve(folder, keys, "files", null))
    {
        Say($"serve with the file store (no collections): ready in {files.Ready.TotalSeconds:F1} s, RSS {Rss(files.Process.Id) / 1048576.0:F0} MB");
    }

    using var pg = await Serve(folder, keys, "pg", store);
    Say($"serve --store with {rows:N0} embeddings: ready in {pg.Ready.TotalSeconds:F1} s (weights and collections), RSS {Rss(pg.Process.Id) / 1048576.0:F0} MB");
    using var client = new HttpClient { BaseAddress = pg.Address, Timeout = TimeSpan.FromSeconds(60) };
    client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", admin);
    byte[] probe = File.ReadAllBytes(Path.Combine("..", "shared", "images", "faces", "test", "obama1.jpg"));
    var latencies = new List<double>();
    for (int i = 0; i < 40; i++)
    {
        var t = Stopwatch.StartNew();
        using var response = await client.PostAsync($"/v1/collections/{Collection}/identify", Jpeg(probe));
        response.EnsureSuccessStatusCode();
        latencies.Add(t.Elapsed.TotalMilliseconds);
    }

    latencies = latencies.Skip(5).Order().ToList();
    Say($"identify through the API (decode, detect, encode, search; one client): p50 {latencies[latencies.Count / 2]:F0} ms, p95 {latencies[latencies.Count * 95 / 100]:F0} ms");

    byte[] face = File.ReadAllBytes(Path.Combine("..", "shared", "images", "faces", "train", "obama", "obama.jpg"));
    int enrolled = 0;
    var api = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, 4).Select(async c =>
    {
        int k = 0;
        while (api.Elapsed.TotalSeconds < seconds)
        {
            using var response = await client.PostAsync($"/v1/collections/{Collection}/people/api-{c}-{k++}/photos?largest=true", Jpeg(face));
            if ((int)response.StatusCode == 201)
            {
                Interlocked.Increment(ref enrolled);
            }
        }
    }));
    Say($"enroll through the API (4 clients, real photo: decode, detect, encode, write, append): {enrolled / api.Elapsed.TotalSeconds:F1}/s; RSS after {Rss(pg.Process.Id) / 1048576.0:F0} MB, peak {Peak(pg.Process.Id) / 1048576.0:F0} MB");
}
finally
{
    Directory.Delete(folder, recursive: true);
}

return 0;

static Gallery Synthetic(int rows, int per, ModelStamp stamp, string faceInput)
{
    var random = new Random(17);
    var added = new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);
    var people = new List<Identity>();
    for (int r = 0; r < rows; r += per)
    {
        var entries = new List<GalleryEntry>();
        for (int j = 0; j < per && r + j < rows; j++)
        {
            entries.Add(new GalleryEntry(Unit(random, stamp.EmbeddingSize), "synthetic", added));
        }

        people.Add(new Identity($"person {r / per}", entries));
    }

    return Gallery.FromIdentities("synthetic", stamp, faceInput, null, people);
}

static float[] Unit(Random random, int dim)
{
    var v = new float[dim];
    double norm = 0;
    for (int i = 0; i < dim; i++)
    {
        v[i] = (float)(random.NextDouble() * 2 - 1);
        norm += v[i] * v[i];
    }

    for (int i = 0; i < dim; i++)
    {
        v[i] = (float)(v[i] / Math.Sqrt(norm));
    }

    return v;
}

static ByteArrayContent Jpeg(byte[] bytes)
{
    var content = new ByteArrayContent(bytes);
    content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
    return content;
}

static long Rss(int? pid = null) => Status(pid, "VmRSS");

static long Peak(int pid) => Status(pid, "VmHWM");

static long Status(int? pid, string field)
{
    foreach (string line in File.ReadLines($"/proc/{(pid is { } p ? p.ToString(CultureInfo.InvariantCulture) : "self")}/status"))
    {
        if (line.StartsWith(field + ":", StringComparison.Ordinal))
        {
            return long.Parse(Regex.Match(line, "[0-9]+").Value, CultureInfo.InvariantCulture) * 1024;
        }
    }

    return 0;
}

async Task<Server> Serve(string folder, string keys, string name, string? with)
{
    var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    foreach (string arg in (string[])[Path.Combine(AppContext.BaseDirectory, "inceptionnet.dll"), "serve", "--listen", "127.0.0.1:0", "--data", Path.Combine(folder, name),
        "--keys", keys, "--model", "faceapi", "--weights", weights, "--mtcnn", mtcnn, .. with is null ? Array.Empty<string>() : ["--store", with]])
    {
        start.ArgumentList.Add(arg);
    }

    var clock = Stopwatch.StartNew();
    var process = Process.Start(start)!;
    _ = process.StandardError.ReadToEndAsync();
    Uri? address = null;
    while (await process.StandardOutput.ReadLineAsync() is { } line)
    {
        if (Regex.Match(line, @"^Listening on (http://[^;\s]+);") is { Success: true } m)
        {
            address = new Uri(m.Groups[1].Value);
        }

        if (line.StartsWith("Ready: ", StringComparison.Ordinal))
        {
            _ = process.StandardOutput.ReadToEndAsync();
            return new Server(process, address!, clock.Elapsed);
        }
    }

    throw new InvalidOperationException($"serve ({name}) exited before it was ready");
}

internal sealed record Server(Process Process, Uri Address, TimeSpan Ready) : IDisposable
{
    public void Dispose()
    {
        Process.Kill(entireProcessTree: true);
        Process.WaitForExit(30_000);
        Process.Dispose();
    }
}
