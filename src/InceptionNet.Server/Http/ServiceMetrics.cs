using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace InceptionNet.Server.Http;

/// <summary>
/// Counters and histograms for <c>GET /metrics</c>, in Prometheus' text format: requests by route and status, latency
/// by route, encoder batch sizes, and the gauges the caller supplies at scrape time (queue depth, people per collection).
/// Lock-free on the request path.
/// </summary>
public sealed class ServiceMetrics
{
    private static readonly double[] LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64];
    private readonly ConcurrentDictionary<(string Route, int Status), long[]> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new(StringComparer.Ordinal);
    private readonly Histogram _batches = new(BatchBuckets);

    /// <summary>Records one answered request.</summary>
    public void Request(string route, int status, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _requests.GetOrAdd((route, status), _ => new long[1])[0]);
        _latency.GetOrAdd(route, _ => new Histogram(LatencyBuckets)).Observe(elapsed.TotalSeconds);
    }

    /// <summary>Records one encoder forward pass of <paramref name="size"/> faces.</summary>
    public void Batch(int size) => _batches.Observe(size);

    /// <summary>Requests answered so far with <paramref name="status"/> on <paramref name="route"/>.</summary>
    public long Count(string route, int status) => _requests.TryGetValue((route, status), out var c) ? Interlocked.Read(ref c[0]) : 0;

    /// <summary>The text exposition, with the gauges given.</summary>
    public string Render(int queueDepth, IEnumerable<(string Collection, int People)> people)
    {
        var text = new StringBuilder();
        text.AppendLine("# HELP inceptionnet_requests_total Requests answered, by route and status.");
        text.AppendLine("# TYPE inceptionnet_requests_total counter");
        foreach (var ((route, status), count) in _requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            text.Append(CultureInfo.InvariantCulture, $"inceptionnet_requests_total{{route=\"{Escape(route)}\",status=\"{status}\"}} {Interlocked.Read(ref count[0])}\n");
        }

        text.AppendLine("# HELP inceptionnet_request_duration_seconds Time from request to answer, by route.");
        text.AppendLine("# TYPE inceptionnet_request_duration_seconds histogram");
        foreach (var (route, histogram) in _latency.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            histogram.Render(text, "inceptionnet_request_duration_seconds", $"route=\"{Escape(route)}\",");
        }

        text.AppendLine("# HELP inceptionnet_batch_size Faces per encoder forward pass.");
        text.AppendLine("# TYPE inceptionnet_batch_size histogram");
        _batches.Render(text, "inceptionnet_batch_size", "");
        text.AppendLine("# HELP inceptionnet_queue_depth Faces waiting for the encoder.");
        text.AppendLine("# TYPE inceptionnet_queue_depth gauge");
        text.Append(CultureInfo.InvariantCulture, $"inceptionnet_queue_depth {queueDepth}\n");
        text.AppendLine("# HELP inceptionnet_collection_people People enrolled, by collection.");
        text.AppendLine("# TYPE inceptionnet_collection_people gauge");
        foreach (var (collection, count) in people)
        {
            text.Append(CultureInfo.InvariantCulture, $"inceptionnet_collection_people{{collection=\"{Escape(collection)}\"}} {count}\n");
        }

        return text.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private long _sumMicros;

        public void Observe(double value)
        {
            int i = 0;
            while (i < bounds.Length && value > bounds[i])
            {
                i++;
            }

            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)Math.Round(value * 1e6));
        }

        public void Render(StringBuilder text, string name, string labels)
        {
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _counts[i]);
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"{bounds[i]}\"}} {cumulative}\n");
            }

            cumulative += Interlocked.Read(ref _counts[^1]);
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"+Inf\"}} {cumulative}\n");
            string bare = labels.TrimEnd(',');
            string braces = bare.Length == 0 ? "" : $"{{{bare}}}";
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{braces} {Interlocked.Read(ref _sumMicros) / 1e6}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count{braces} {cumulative}\n");
        }
    }
}
