using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using InceptionNet.Weights;

namespace InceptionNet.Server.Door;

/// <summary>A door event as the webhook sends it.</summary>
/// <param name="Event"><c>door_open</c> or <c>unknown_face</c>.</param>
/// <param name="Collection">The collection.</param>
/// <param name="Identity">Who was let in (null for unknown_face).</param>
/// <param name="Distance">The deciding frame's distance to the nearest person.</param>
/// <param name="Time">When the deciding frame arrived, UTC ISO-8601.</param>
public sealed record DoorEventJson(string Event, string Collection, string? Identity, double? Distance, string Time);

/// <summary>
/// <c>serve --webhook URL</c>: POSTs each door event as JSON, signed with HMAC-SHA256 over the exact body bytes
/// (<see cref="SignatureHeader"/>: <c>sha256=</c> and 64 lowercase hex digits), from a background queue so a decision
/// never waits for it. A failed delivery (network error, timeout, non-2xx) is retried with doubling delays; after the
/// last attempt, or when the queue is full, the event is dropped and the drop is logged (the audit log has it anyway).
/// </summary>
public sealed class DoorWebhook : IAsyncDisposable
{
    /// <summary>The signature header.</summary>
    public const string SignatureHeader = "X-InceptionNet-Signature";

    private readonly Uri _url;
    private readonly Func<string?> _secret;
    private readonly TextWriter _log;
    private readonly TimeSpan _firstDelay;
    private readonly int _attempts;
    private readonly HttpClient _http;
    private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sender;

    /// <summary>Starts the sender.</summary>
    /// <param name="url">Where events go (http or https).</param>
    /// <param name="secret">The HMAC key (the keys file's webhook secret, as UTF-8), read at each delivery so a rotation takes effect at once.</param>
    /// <param name="log">Where failures are reported.</param>
    /// <param name="firstDelay">Wait before the first retry (default 1 s); each retry doubles it.</param>
    /// <param name="attempts">Deliveries tried per event (default 5).</param>
    /// <param name="timeout">Per attempt (default 5 s).</param>
    public DoorWebhook(Uri url, Func<string?> secret, TextWriter log, TimeSpan? firstDelay = null, int attempts = 5, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"--webhook '{url}': expected an http or https URL", nameof(url));
        }

        _url = url;
        _secret = secret ?? throw new ArgumentNullException(nameof(secret));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _firstDelay = firstDelay ?? TimeSpan.FromSeconds(1);
        _attempts = Math.Max(1, attempts);
        _http = new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(5) };
        _sender = Task.Run(SendAllAsync);
    }

    /// <summary>Events delivered (a 2xx answer).</summary>
    public int Delivered => _delivered;

    private int _delivered;

    /// <summary>The signature header's value for <paramref name="body"/>: <c>sha256=</c> and the lowercase hex HMAC-SHA256.</summary>
    public static string Sign(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> body) => "sha256=" + Convert.ToHexStringLower(Sha256.HmacData(secret, body));

    /// <summary>Queues an event; returns at once (false when the queue is full and the event was dropped).</summary>
    public bool Post(string kind, string collection, string? identity, double? distance, DateTimeOffset time)
    {
        var e = new DoorEventJson(kind, collection, identity, distance, time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        bool queued = _queue.Writer.TryWrite(JsonSerializer.SerializeToUtf8Bytes(e, DoorEventJsonContext.Default.DoorEventJson));
        if (!queued)
        {
            _log.WriteLine($"warning: webhook queue full; dropped {kind} for {collection}");
        }

        return queued;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _sender.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping mid-retry
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private async Task SendAllAsync()
    {
        await foreach (byte[] body in _queue.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
        {
            var delay = _firstDelay;
            for (int attempt = 1; ; attempt++)
            {
                string? failure = await TrySendAsync(body).ConfigureAwait(false);
                if (failure is null)
                {
                    Interlocked.Increment(ref _delivered);
                    break;
                }

                if (attempt >= _attempts)
                {
                    _log.WriteLine($"warning: webhook {_url}: event dropped after {attempt} attempts ({failure})");
                    break;
                }

                await WaitAtLeastAsync(delay, _stop.Token).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    // Task.Delay counts on a coarse timer and can end a little before the interval a stopwatch measures (a retry 0.9 ms
    // early was seen in CI); the wait is at least `delay` by the stopwatch, so "doubling delays" holds as stated.
    private static async Task WaitAtLeastAsync(TimeSpan delay, CancellationToken cancel)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var left = delay; left > TimeSpan.Zero; left = delay - System.Diagnostics.Stopwatch.GetElapsedTime(started))
        {
            await Task.Delay(left < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : left, cancel).ConfigureAwait(false);
        }
    }

    private async Task<string?> TrySendAsync(byte[] body)
    {
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = content };
            string secret = _secret() ?? throw new InvalidOperationException("the keys file has no webhook secret any more");
            request.Headers.Add(SignatureHeader, Sign(System.Text.Encoding.UTF8.GetBytes(secret), body));
            using var response = await _http.SendAsync(request, _stop.Token).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or Security.ApiKeyException)
        {
            return ex.Message;
        }
        catch (TaskCanceledException) when (!_stop.IsCancellationRequested)
        {
            return "timed out";
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(DoorEventJson))]
internal sealed partial class DoorEventJsonContext : JsonSerializerContext;
