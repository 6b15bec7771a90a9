using System.Diagnostics;
using System.Net;
using System.Text.Json;
using InceptionNet.Pipeline;
using InceptionNet.Server.Audit;
using InceptionNet.Server.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InceptionNet.Server.Http;

/// <summary>
/// <c>inceptionnet serve</c>: Kestrel with the v1 routes over a <see cref="FaceService"/>. Every /v1 request is
/// authenticated (API key, scope, collection binding), audited (one chained line, on disk before the answer is sent),
/// counted in the metrics, and answered with JSON; a refused request gets <c>{"error": …}</c> and its documented status.
/// </summary>
public sealed partial class ServiceHost : IAsyncDisposable
{
    private readonly ServeOptions _options;
    private readonly TextWriter _log;
    private readonly ServiceMetrics _metrics = new();
    private readonly ApiKeyStore _keys;
    private readonly AuditLog _audit;
    private readonly WebApplication _app;
    private readonly TaskCompletionSource<FaceService> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FaceService? _service;
    private string? _loadError;

    private ServiceHost(ServeOptions options, TextWriter log)
    {
        _options = options;
        _log = log;
        _keys = ApiKeyStore.Open(options.KeysPath, problem => log.WriteLine($"warning: {problem}"));
        Directory.CreateDirectory(options.DataDirectory);
        _audit = AuditLog.Open(options.AuditPath ?? Path.Combine(options.DataDirectory, "audit.jsonl"));
        if (_audit.TornBytesRemoved > 0)
        {
            log.WriteLine($"warning: {_audit.Path}: removed a torn last line of {_audit.TornBytesRemoved} bytes (an append that never completed), kept in {_audit.TornFragmentPath}");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
            var endpoint = ParseListen(options.Listen);
            k.Listen(endpoint);
        });
        _app = builder.Build();
        MapRoutes(_app);
    }

    /// <summary>The address the service listens on (known once started; port 0 becomes the port chosen).</summary>
    public Uri? Address { get; private set; }

    /// <summary>The metrics (tests read counters).</summary>
    public ServiceMetrics Metrics => _metrics;

    /// <summary>Completes when the model is loaded; faults when loading failed.</summary>
    public Task Ready => _ready.Task;

    /// <summary>
    /// Opens the keys file and audit log, binds the address and starts serving; the model loads in the background
    /// (<c>/readyz</c> says when). <paramref name="pipelineFactory"/> loads the pipeline (the CLI resolves weights).
    /// </summary>
    /// <exception cref="ApiKeyException">The keys file is unreadable.</exception>
    /// <exception cref="AuditException">The audit log is damaged or locked by another server.</exception>
    public static async Task<ServiceHost> StartAsync(ServeOptions options, Func<FacePipeline> pipelineFactory, TextWriter log, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(pipelineFactory);
        ArgumentNullException.ThrowIfNull(log);
        var host = new ServiceHost(options, log);
        try
        {
            await host._app.StartAsync(cancellation).ConfigureAwait(false);
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var addresses = host._app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>();
        host.Address = new Uri(addresses!.Addresses.First());
        _ = Task.Run(() =>
        {
            try
            {
                var service = new FaceService(pipelineFactory(), options, host._metrics);
                host._service = service;
                host._ready.TrySetResult(service);
            }
#pragma warning disable CA1031 // reported through /readyz and the Ready task; the caller decides to stop
            catch (Exception ex)
#pragma warning restore CA1031
            {
                host._loadError = ex.Message;
                host._ready.TrySetException(ex);
            }
        }, CancellationToken.None);
        return host;
    }

    /// <summary>Waits until the host is stopped (Ctrl+C / SIGTERM, or <paramref name="cancellation"/>).</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellation = default) => await _app.WaitForShutdownAsync(cancellation).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (_service is not null)
        {
            await _service.DisposeAsync().ConfigureAwait(false);
        }

        await _audit.DisposeAsync().ConfigureAwait(false);
        await DisposeDoorAsync().ConfigureAwait(false);
    }

    /// <summary>Parses <c>HOST:PORT</c> (IPv4, <c>[IPv6]</c> or <c>localhost</c>).</summary>
    public static IPEndPoint ParseListen(string listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        int colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen.AsSpan(colon + 1), out int port) || port is < 0 or > 65535)
        {
            throw new ArgumentException($"--listen '{listen}': expected HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free one)");
        }

        string host = listen[..colon].Trim('[', ']');
        if (host == "localhost")
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        return IPAddress.TryParse(host, out var address)
            ? new IPEndPoint(address, port)
            : throw new ArgumentException($"--listen '{listen}': '{host}' is not an IP address (use 127.0.0.1, 0.0.0.0, [::1] or localhost)");
    }

    private void MapRoutes(WebApplication app)
    {
        app.MapGet("/healthz", ctx => Write(ctx, 200, new HealthResponse("ok", _service?.Pipeline.Model.Id, null)));
        app.MapGet("/readyz", ctx => _service is { } s
            ? Write(ctx, 200, new HealthResponse("ok", s.Pipeline.Model.Id, null))
            : Write(ctx, 503, new HealthResponse(_loadError is null ? "loading" : "failed", null, _loadError)));
        app.MapGet("/metrics", ctx => Handle(ctx, "GET /metrics", ApiScope.Admin, null, _ =>
        {
            var service = Service();
            var people = service.Collections.Names.Select(n =>
            {
                try
                {
                    return (n, service.Collections.Get(n).Gallery.IdentityCount);
                }
                catch (ApiException)
                {
                    return (n, -1);
                }
            }).Where(p => p.Item2 >= 0);
            return ValueTask.FromResult(new Outcome(200, _metrics.Render(service.Batcher.Depth, people), "ok"));
        }));

        const string C = "/v1/collections/{collection}";
        app.MapPost(C + "/identify", ctx => Handle(ctx, "POST /v1/collections/{c}/identify", ApiScope.Kiosk, Collection(ctx), async clock =>
            await Service().IdentifyAsync(Collection(ctx), await ReadImageAsync(ctx).ConfigureAwait(false), clock, ctx.RequestAborted).ConfigureAwait(false)));
        app.MapPost(C + "/verify", ctx => Handle(ctx, "POST /v1/collections/{c}/verify", ApiScope.Kiosk, Collection(ctx), async clock =>
            await Service().VerifyAsync(Collection(ctx), ctx.Request.Query["name"].FirstOrDefault(), await ReadImageAsync(ctx).ConfigureAwait(false), clock, ctx.RequestAborted).ConfigureAwait(false)));
        app.MapPost(C + "/people/{person}/photos", ctx => Handle(ctx, "POST /v1/collections/{c}/people/{name}/photos", ApiScope.Enroll, Collection(ctx), async _ =>
        {
            bool largest = Flag(ctx, "largest");
            byte[] body = await ReadImageAsync(ctx).ConfigureAwait(false);
            string source = FormattableString.Invariant($"upload {DateTimeOffset.UtcNow:O}");
            return await Service().EnrollAsync(Collection(ctx), Person(ctx), largest, body, source, ctx.RequestAborted).ConfigureAwait(false);
        }));
        app.MapGet(C + "/people", ctx => Handle(ctx, "GET /v1/collections/{c}/people", ApiScope.Enroll, Collection(ctx), _ =>
        {
            var snapshot = Service().Collections.Get(Collection(ctx));
            var people = snapshot.Gallery.Identities.Select(i => new PersonJson(i.Name, i.Entries.Count)).ToList();
            return ValueTask.FromResult(new Outcome(200, new PeopleResponse(snapshot.Name, people), "ok"));
        }));
        app.MapDelete(C + "/people/{person}", ctx => Handle(ctx, "DELETE /v1/collections/{c}/people/{name}", ApiScope.Enroll, Collection(ctx), async _ =>
        {
            await Service().Collections.RemoveAsync(Collection(ctx), Person(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return new Outcome(200, new OkResponse(true, Person(ctx)), "removed", Person(ctx));
        }));
        app.MapMethods(C + "/people/{person}", ["PATCH"], ctx => Handle(ctx, "PATCH /v1/collections/{c}/people/{name}", ApiScope.Enroll, Collection(ctx), async _ =>
        {
            string newName = await ReadRenameAsync(ctx).ConfigureAwait(false);
            await Service().Collections.RenameAsync(Collection(ctx), Person(ctx), newName, ctx.RequestAborted).ConfigureAwait(false);
            return new Outcome(200, new OkResponse(true, newName), "renamed", newName);
        }));
        app.MapPut(C, ctx => Handle(ctx, "PUT /v1/collections/{c}", ApiScope.Admin, Collection(ctx), async _ =>
        {
            var service = Service();
            bool created = await service.Collections.CreateAsync(Collection(ctx), ctx.RequestAborted).ConfigureAwait(false);
            var snapshot = service.Collections.Get(Collection(ctx));
            return new Outcome(created ? 201 : 200, new CollectionResponse(snapshot.Name, service.Pipeline.Model.Id, service.Pipeline.Input.Id,
                snapshot.Gallery.IdentityCount, created), created ? "created" : "exists");
        }));
        app.MapDelete(C, ctx => Handle(ctx, "DELETE /v1/collections/{c}", ApiScope.Admin, Collection(ctx), async _ =>
        {
            await Service().Collections.DeleteAsync(Collection(ctx), ctx.RequestAborted).ConfigureAwait(false);
            DoorSettings.Delete(Collection(ctx)); // ServiceHost.Door.cs
            return new Outcome(200, new OkResponse(true, null), "deleted");
        }));
        app.MapPost("/v1/detect", ctx => Handle(ctx, "POST /v1/detect", ApiScope.Kiosk, null, async clock =>
            Service().Detect(await ReadImageAsync(ctx).ConfigureAwait(false), clock)));
        app.MapPost("/v1/embed", ctx => Handle(ctx, "POST /v1/embed", ApiScope.Kiosk, null, async clock =>
            await Service().EmbedAsync(await ReadImageAsync(ctx).ConfigureAwait(false), Flag(ctx, "largest"), clock, ctx.RequestAborted).ConfigureAwait(false)));

        MapDoorRoutes(app); // ServiceHost.Door.cs: the door, its settings, the threshold, and the kiosk/admin pages
        MapThresholdRoutes(app);
        MapPages(app);

        // Anything else under /v1: a JSON 404 (audited like every /v1 request), not an empty one.
        app.Map("/v1/{**rest}", ctx => Handle(ctx, "unknown", ApiScope.Kiosk, null, _ =>
            throw ApiException.NotFound($"no such endpoint: {ctx.Request.Method} {ctx.Request.Path}")));
    }

    private delegate ValueTask<Outcome> Work(Stopwatch clock);

    private FaceService Service() => _service ?? throw new ApiException(503, _loadError is null ? "the model is still loading; retry shortly" : $"the model failed to load: {_loadError}") { RetryAfterSeconds = 1 };

    private static string Collection(HttpContext ctx) => (string)ctx.Request.RouteValues["collection"]!;

    // Routing leaves an encoded '/' (%2F) encoded in a segment; a person's name is data, so it is decoded in full.
    private static string Person(HttpContext ctx) => Uri.UnescapeDataString((string)ctx.Request.RouteValues["person"]!);

    private static bool Flag(HttpContext ctx, string name)
    {
        string? value = ctx.Request.Query[name].FirstOrDefault();
        return value switch
        {
            null => false,
            "true" or "1" or "" => true,
            "false" or "0" => false,
            _ => throw ApiException.BadRequest($"query parameter '{name}' must be true or false, not '{value}'"),
        };
    }

    // Auth, timing, error mapping, audit (before the answer is written), metrics: the same for every /v1 route.
    private async Task Handle(HttpContext ctx, string route, ApiScope scope, string? collection, Work work)
    {
        var arrived = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        ApiKeyRecord? key = null;
        Outcome outcome;
        try
        {
            key = Authorize(ctx, scope, collection);
            outcome = await work(clock).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            outcome = new Outcome(ex.Status, new ErrorResponse(ex.Message), "error " + ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (ex.RetryAfterSeconds is { } seconds)
            {
                ctx.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is ClientGoneException || (ex is OperationCanceledException or IOException or Microsoft.AspNetCore.Http.BadHttpRequestException
            && ctx.RequestAborted.IsCancellationRequested))
        {
            // Before the bad-request case: a client that leaves mid-body makes Kestrel report an unexpected end of content.
            outcome = new Outcome(499, new ErrorResponse("the client closed the connection"), "aborted");
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex)
        {
            int status = ex.StatusCode == 413 ? 413 : 400;
            string message = status == 413 ? $"the request body is over the limit of {_options.MaxBodyBytes} bytes" : $"bad request: {ex.Message}";
            outcome = new Outcome(status, new ErrorResponse(message), $"error {status}");
        }
#pragma warning disable CA1031 // a bug must still get a JSON answer and an audit line; it is logged for the operator
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _log.WriteLine($"error: {route}: {ex.GetType().Name}: {ex.Message}");
            outcome = new Outcome(500, new ErrorResponse("internal error; the operator's log has the details"), "error 500");
        }

        double latency = clock.Elapsed.TotalMilliseconds;
        await _audit.AppendAsync(new AuditEntry(arrived, key?.Id, ctx.Connection.RemoteIpAddress?.ToString(), route, collection,
            outcome.Decision, outcome.Identity, outcome.Distance, Math.Round(latency, 3)), CancellationToken.None).ConfigureAwait(false);
        _metrics.Request(route, outcome.Status, clock.Elapsed);
        if (outcome.Status == 499 || ctx.RequestAborted.IsCancellationRequested)
        {
            return; // no one to answer
        }

        if (outcome.Body is string text)
        {
            ctx.Response.StatusCode = outcome.Status;
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await ctx.Response.WriteAsync(text, ctx.RequestAborted).ConfigureAwait(false);
            return;
        }

        await Write(ctx, outcome.Status, outcome.Body).ConfigureAwait(false);
    }

    private ApiKeyRecord Authorize(HttpContext ctx, ApiScope scope, string? collection)
    {
        string? presented = null;
        if (ctx.Request.Headers.Authorization.FirstOrDefault() is { } authorization)
        {
            presented = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;
            if (presented is null)
            {
                throw new ApiException(401, "the Authorization header must be 'Bearer KEY'");
            }
        }
        else if (ctx.Request.Headers["X-Api-Key"].FirstOrDefault() is { } header)
        {
            presented = header.Trim();
        }

        if (string.IsNullOrEmpty(presented))
        {
            throw new ApiException(401, "an API key is required (Authorization: Bearer KEY, or X-Api-Key: KEY)");
        }

        var key = _keys.Authenticate(presented) ?? throw new ApiException(401, "the API key is unknown or revoked");
        if (!ApiKeyAuthorization.Allows(key, scope, collection))
        {
            string why = key.Scope < scope
                ? $"this key's scope '{ApiKeyStore.ScopeName(key.Scope)}' does not allow this call (it needs '{ApiKeyStore.ScopeName(scope)}')"
                : $"this key is bound to collection '{key.Collection}'";
            throw new ApiException(403, why);
        }

        return key;
    }

    /// <summary>How many times its route's limit an oversized body may be before it is refused unread.</summary>
    internal const int DrainFactor = 4;

    /// <summary>The longest an oversized body is read for before the 413 goes out anyway, with the rest unread.</summary>
    internal static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(30);

    // A client that did not send "Expect: 100-continue" (a browser's fetch never does) is already writing its body when the
    // 413 is ready. Answering and closing with most of the body unread resets the connection, and the client's next write
    // fails before it reads the answer: it sees a broken pipe instead of the 413. So a body of up to DrainFactor times the
    // route's limit is read and thrown away first (for at most DrainBound: Kestrel's minimum data rate alone would let a
    // slow client hold the request for hours), the client gets the answer and the connection stays open. A larger body, or
    // a client that asked with Expect (it waits for the answer before sending), is refused unread, as before. Nothing read
    // here is kept. A client that goes away meanwhile is an aborted request, as anywhere else.
    private static async Task DrainOversizedAsync(HttpContext ctx, long routeLimit)
    {
        var request = ctx.Request;
        var feature = ctx.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (request.Headers.Expect.Count > 0 || request.ContentLength > DrainFactor * routeLimit || feature is null || feature.IsReadOnly)
        {
            return;
        }

        feature.MaxRequestBodySize = request.ContentLength;
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        bound.CancelAfter(DrainBound);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (await request.Body.ReadAsync(buffer, bound.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested && !ctx.RequestAborted.IsCancellationRequested)
        {
            // Over the bound: the 413 goes out with the rest of the body unread, as for a larger body.
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Under Kestrel's minimum data rate: as over the bound.
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or Microsoft.AspNetCore.Http.BadHttpRequestException)
        {
            // The body ended short or the connection went: Kestrel may say so (an unexpected end of content) before it
            // cancels RequestAborted, so the request is marked here as one nobody is left to answer.
            throw new ClientGoneException(ex);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // The client left while its body was being read (see DrainOversizedAsync): audited as aborted, not answered.
    private sealed class ClientGoneException(Exception inner) : IOException("the client closed the connection", inner);

    // The image from the raw body (image/jpeg, image/png, application/octet-stream) or a multipart form's 'image' part.
    private async Task<byte[]> ReadImageAsync(HttpContext ctx)
    {
        var request = ctx.Request;
        if (request.ContentLength > _options.MaxBodyBytes)
        {
            await DrainOversizedAsync(ctx, _options.MaxBodyBytes).ConfigureAwait(false);
            throw new ApiException(413, $"the request body ({request.ContentLength} bytes) is over the limit of {_options.MaxBodyBytes} bytes");
        }

        string type = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant() ?? "";
        byte[] bytes;
        if (type is "image/jpeg" or "image/png" or "application/octet-stream")
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
            bytes = buffer.ToArray();
        }
        else if (type == "multipart/form-data")
        {
            var form = await request.ReadFormAsync(ctx.RequestAborted).ConfigureAwait(false);
            var file = form.Files.GetFile("image") ?? throw ApiException.BadRequest("the multipart form has no file part named 'image'");
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
            bytes = buffer.ToArray();
        }
        else
        {
            throw new ApiException(415, type.Length == 0
                ? "no Content-Type: send the image as image/jpeg or image/png, or as a multipart form part named 'image'"
                : $"Content-Type '{type}' is not accepted: send image/jpeg, image/png or a multipart form part named 'image'");
        }

        if (bytes.Length == 0)
        {
            throw ApiException.BadRequest("the request body is empty; send an image");
        }

        if (_options.KeepCaptures is { } folder)
        {
            Directory.CreateDirectory(folder);
            await File.WriteAllBytesAsync(Path.Combine(folder, FormattableString.Invariant($"{DateTime.UtcNow:yyyyMMddTHHmmssfff}-{Guid.NewGuid():N}.img")), bytes, ctx.RequestAborted).ConfigureAwait(false);
        }

        return bytes;
    }

    private static async Task<string> ReadRenameAsync(HttpContext ctx)
    {
        RenameRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, ApiJsonContext.Service.RenameRequest, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body must be JSON like {{\"name\": \"new name\"}} ({ex.Message})");
        }

        return body?.Name is { Length: > 0 } name ? name : throw ApiException.BadRequest("the body must be JSON like {\"name\": \"new name\"}");
    }

    private static async Task Write(HttpContext ctx, int status, object body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(ctx.Response.Body, body, ApiJsonContext.Service.GetTypeInfo(body.GetType())!, ctx.RequestAborted).ConfigureAwait(false);
    }
}
