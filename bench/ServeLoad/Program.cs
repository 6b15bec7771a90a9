using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using InceptionNet.Pipeline;
using InceptionNet.Server;
using InceptionNet.Server.Http;
using InceptionNet.Server.Security;

// Latency and throughput of POST /v1/collections/{c}/identify at concurrency 1, 4 and 16, with micro-batching
// (--max-batch 16 --max-wait-ms 5) and without (--max-batch 1 --max-wait-ms 0), against the service on a loopback port.
// Usage: dotnet run -c Release --project bench/ServeLoad -- [--seconds 20] [--photo PATH] [--out FILE] [--unbatched-first]
//
// BenchmarkDotNet measures one call in isolation; this measures a server under concurrent clients (the quantity is the
// distribution of request latencies and the rate of answers), so it is a plain timed load loop.
int seconds = 20;
string? photoArg = null;
string? outPath = null;
bool unbatchedFirst = false; // on a shared machine the load drifts: run both orders to see how much that moves the ratio
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--photo": photoArg = args[++i]; break;
        case "--out": outPath = args[++i]; break;
        case "--unbatched-first": unbatchedFirst = true; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

string shared = SharedFolder();
string photoPath = photoArg ?? Path.Combine(shared, "images", "faces", "test", "obama1.jpg");
byte[] photo = File.ReadAllBytes(photoPath);
int[] concurrencies = [1, 4, 16];
var modes = new (string Name, int MaxBatch, double MaxWaitMs)[] { ("batched", 16, 5), ("unbatched", 1, 0) };
if (unbatchedFirst)
{
    Array.Reverse(modes);
}
var results = new Dictionary<(string Mode, int Concurrency), Cell>();
var total = Stopwatch.StartNew();

foreach (var (name, maxBatch, maxWaitMs) in modes)
{
    string folder = Directory.CreateTempSubdirectory("inet-serveload-").FullName;
    try
    {
        string keysPath = Path.Combine(folder, "keys.json");
        var store = ApiKeyStore.Open(keysPath);
        string admin = store.Add("admin", ApiScope.Admin).Key;
        string kiosk = store.Add("kiosk", ApiScope.Kiosk).Key;
        var options = new ServeOptions
        {
            Listen = "127.0.0.1:0",
            DataDirectory = Path.Combine(folder, "data"),
            KeysPath = keysPath,
            MaxBatch = maxBatch,
            MaxWait = TimeSpan.FromMilliseconds(maxWaitMs),
        };
        var model = ModelRegistry.Get("faceapi");
        string weights = ModelRegistry.FindWeights(model, Path.Combine(shared, "weights", "faceapi"));
        string mtcnn = Path.Combine(shared, "weights", "mtcnn");
        await using var host = await ServiceHost.StartAsync(options,
            () => new FacePipeline(model, ModelRegistry.LoadEncoder(model, weights), FaceInput.Choose(model, FaceInputMode.Auto, null, null), mtcnn), TextWriter.Null);
        await host.Ready.WaitAsync(TimeSpan.FromMinutes(3));
        using var client = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromMinutes(2) };
        await Expect(client, HttpMethod.Put, "/v1/collections/bench", admin, null, 201);
        foreach (string person in Directory.GetDirectories(Path.Combine(shared, "images", "faces", "train")).Order(StringComparer.Ordinal))
        {
            foreach (string file in Directory.GetFiles(person).Order(StringComparer.Ordinal))
            {
                await Expect(client, HttpMethod.Post, $"/v1/collections/bench/people/{Path.GetFileName(person)}/photos?largest=true", admin, File.ReadAllBytes(file), 201, 422); // 422: a face too small or blurred to enroll
            }
        }

        await Run(client, kiosk, photo, 4, TimeSpan.FromSeconds(5), host.Metrics); // warm-up: JIT, pools, page cache
        foreach (int concurrency in concurrencies)
        {
            var cell = await Run(client, kiosk, photo, concurrency, TimeSpan.FromSeconds(seconds), host.Metrics);
            results[(name, concurrency)] = cell;
            Console.Error.WriteLine($"{name} c={concurrency}: {cell.Count} ok, {cell.Errors} errors, p50 {cell.P50:F1} ms, p99 {cell.P99:F1} ms, {cell.Rate:F2}/s, mean batch {cell.MeanBatch:F2}");
        }
    }
    finally
    {
        Directory.Delete(folder, recursive: true);
    }
}

var table = new StringBuilder();
table.AppendLine(CultureInfo.InvariantCulture, $"identify of {Path.GetFileName(photoPath)}, {seconds} s per row after a 5 s warm-up, {modes[0].Name} first; total run {total.Elapsed.TotalMinutes:F1} min.");
table.AppendLine();
table.AppendLine("| concurrency | batching | p50 ms | p99 ms | requests/s | mean faces per encoder pass | errors | requests/s batched ÷ unbatched | p50 batched ÷ unbatched |");
table.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
foreach (int concurrency in concurrencies)
{
    var on = results[("batched", concurrency)];
    var off = results[("unbatched", concurrency)];
    foreach (var (mode, cell) in new[] { ("16 / 5 ms", on), ("off (1 / 0 ms)", off) })
    {
        bool first = cell == on;
        table.AppendLine(CultureInfo.InvariantCulture,
            $"| {concurrency} | {mode} | {cell.P50:F1} | {cell.P99:F1} | {cell.Rate:F2} | {cell.MeanBatch:F2} | {cell.Errors} | {(first ? (on.Rate / off.Rate).ToString("F2", CultureInfo.InvariantCulture) : "")} | {(first ? (on.P50 / off.P50).ToString("F2", CultureInfo.InvariantCulture) : "")} |");
    }
}

Console.Write(table);
if (outPath is not null)
{
    File.WriteAllText(outPath, table.ToString());
}

return 0;

// `concurrency` clients each send identify back to back for `duration`; latency is send to last byte read.
static async Task<Cell> Run(HttpClient client, string key, byte[] photo, int concurrency, TimeSpan duration, ServiceMetrics metrics)
{
    var (passesBefore, facesBefore) = Batches(metrics);
    var latencies = new List<double>[concurrency];
    int errors = 0;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(c => Task.Run(async () =>
    {
        var mine = latencies[c] = [];
        while (clock.Elapsed < duration)
        {
            var started = Stopwatch.GetTimestamp();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/collections/bench/identify") { Content = new ByteArrayContent(photo) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await client.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            if ((int)response.StatusCode == 200)
            {
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            else
            {
                Interlocked.Increment(ref errors);
            }
        }
    })));
    double elapsed = clock.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    var (passesAfter, facesAfter) = Batches(metrics);
    double meanBatch = passesAfter > passesBefore ? (facesAfter - facesBefore) / (passesAfter - passesBefore) : 0;
    return new Cell(all.Length, errors, Percentile(all, 0.50), Percentile(all, 0.99), all.Length / elapsed, meanBatch);
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

// Encoder passes and faces so far, from the service's own batch-size histogram.
static (double Passes, double Faces) Batches(ServiceMetrics metrics)
{
    string text = metrics.Render(0, []);
    double Value(string name) => double.Parse(text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal))[(name.Length + 1)..], CultureInfo.InvariantCulture);
    return (Value("inceptionnet_batch_size_count"), Value("inceptionnet_batch_size_sum"));
}

static async Task Expect(HttpClient client, HttpMethod method, string path, string key, byte[]? body, params int[] statuses)
{
    using var request = new HttpRequestMessage(method, path);
    if (body is not null)
    {
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
    }

    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
    using var response = await client.SendAsync(request);
    if (!statuses.Contains((int)response.StatusCode))
    {
        throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}

static string SharedFolder()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InceptionNet.sln")))
    {
        dir = dir.Parent;
    }

    return dir is null
        ? throw new InvalidOperationException($"InceptionNet.sln not found above {AppContext.BaseDirectory}")
        : Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
}

internal sealed record Cell(int Count, int Errors, double P50, double P99, double Rate, double MeanBatch);
