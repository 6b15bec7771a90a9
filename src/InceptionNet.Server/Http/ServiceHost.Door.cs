using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using InceptionNet.Pipeline;
using InceptionNet.Server.Door;
using InceptionNet.Server.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InceptionNet.Server.Http;

/// <summary>The door: <c>POST /v1/collections/{c}/door</c>, its per-collection settings, and the kiosk and admin pages.</summary>
public sealed partial class ServiceHost
{
    /// <summary>Largest frame <c>/door</c> takes: a kiosk sends downscaled JPEGs of a few tens of kilobytes.</summary>
    public const int MaxDoorFrameBytes = 2 << 20;

    private readonly DoorSessions _doorSessions = new();
    private DoorSettingsStore? _doorSettings;

    private DoorWebhook? _webhook;

    private DoorSettingsStore DoorSettings => _doorSettings ??= new DoorSettingsStore(_options.DataDirectory);

    /// <summary>The webhook sender, when <see cref="ServeOptions.Webhook"/> is set (tests read its counters).</summary>
    public DoorWebhook? Webhook => _webhook;

    // Called from MapRoutes, before the catch-all /v1 route.
    private void MapDoorRoutes(WebApplication app)
    {
        if (_options.Webhook is { } url)
        {
            _ = _keys.WebhookSecret() ?? throw new ApiKeyException($"{_keys.Path}: --webhook needs a webhook secret in the keys file: run 'inceptionnet keys webhook-secret --keys {_keys.Path}'");
            _webhook = new DoorWebhook(url, () => _keys.WebhookSecret(), _log);
        }

        const string C = "/v1/collections/{collection}";
        app.MapPost(C + "/door", ctx => Handle(ctx, "POST /v1/collections/{c}/door", ApiScope.Kiosk, Collection(ctx), clock => DoorAsync(ctx, clock)));
        app.MapGet(C + "/door/settings", ctx => Handle(ctx, "GET /v1/collections/{c}/door/settings", ApiScope.Kiosk, Collection(ctx), _ =>
        {
            Service().Collections.Get(Collection(ctx)); // 404 for no such collection
            var rule = DoorSettings.Get(Collection(ctx));
            return ValueTask.FromResult(new Outcome(200, new DoorSettingsResponse(Collection(ctx), DoorSettingsJson.From(rule)), "ok"));
        }));
        app.MapPut(C + "/door/settings", ctx => Handle(ctx, "PUT /v1/collections/{c}/door/settings", ApiScope.Admin, Collection(ctx), async _ =>
        {
            Service().Collections.Get(Collection(ctx));
            string type = ctx.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant() ?? "";
            if (type != "application/json")
            {
                throw new ApiException(415, "send the door settings as application/json");
            }

            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
            var rule = DoorSettings.Set(Collection(ctx), buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            return new Outcome(200, new DoorSettingsResponse(Collection(ctx), DoorSettingsJson.From(rule)), "door settings");
        }));
    }

    // The enrollment page shows the threshold and runs calibrate (on the collection's own photos, as `calibrate` does by default).
    private void MapThresholdRoutes(WebApplication app)
    {
        const string C = "/v1/collections/{collection}";
        app.MapGet(C + "/threshold", ctx => Handle(ctx, "GET /v1/collections/{c}/threshold", ApiScope.Enroll, Collection(ctx), _ =>
        {
            var snapshot = Service().Collections.Get(Collection(ctx));
            return ValueTask.FromResult(new Outcome(200, new ThresholdResponse(snapshot.Name, snapshot.Recognizer.Threshold, snapshot.Gallery.Threshold is not null,
                Service().Pipeline.Encoder.DefaultThreshold), "ok"));
        }));
        app.MapPost(C + "/calibrate", ctx => Handle(ctx, "POST /v1/collections/{c}/calibrate", ApiScope.Enroll, Collection(ctx), async _ =>
        {
            string text = ctx.Request.Query["far"].FirstOrDefault() ?? "0.001";
            if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double far) || !(far is > 0 and < 1))
            {
                throw ApiException.BadRequest($"query parameter 'far' must be a number between 0 and 1, not '{text}'");
            }

            var service = Service();
            var snapshot = service.Collections.Get(Collection(ctx));
            var pairs = PairDataset.GalleryPairs(snapshot.Gallery, 10);
            if (!pairs.Any(p => p.Same) || pairs.All(p => p.Same))
            {
                throw ApiException.Unprocessable("calibrating needs at least two people and one person with two or more photos");
            }

            var evaluation = new Recognition.VerificationEvaluation(pairs);
            double current = snapshot.Recognizer.Threshold;
            var result = Calibration.Calibrate(evaluation, far, current);
            bool stored = result.Refusal is null;
            if (stored)
            {
                await service.Collections.SetThresholdAsync(snapshot.Name, result.Point.Threshold, ctx.RequestAborted).ConfigureAwait(false);
            }

            return new Outcome(200, new CalibrateResponse(stored, stored ? result.Point.Threshold : current, result.Point.Threshold, far, evaluation.Genuine.Count,
                evaluation.Impostor.Count, result.Refusal), stored ? "calibrated" : "calibration refused");
        }));
    }

    // Called from MapRoutes: the pages are plain files embedded in this assembly (no build step, no CDN).
    private static void MapPages(WebApplication app)
    {
        app.MapGet("/kiosk", ctx => Page(ctx, "kiosk.html"));
        app.MapGet("/admin", ctx => Page(ctx, "admin.html"));
        app.MapGet("/ui/{file}", ctx => Page(ctx, (string)ctx.Request.RouteValues["file"]!));
    }

    private async ValueTask<Outcome> DoorAsync(HttpContext ctx, Stopwatch clock)
    {
        var arrived = DateTimeOffset.UtcNow;
        string session = DoorSession(ctx);
        string collection = Collection(ctx);
        var service = Service();
        var snapshot = service.Collections.Get(collection);
        var rule = DoorSettings.Get(collection);
        if (ctx.Request.ContentLength > MaxDoorFrameBytes)
        {
            await DrainOversizedAsync(ctx, MaxDoorFrameBytes).ConfigureAwait(false);
            throw new ApiException(413, $"a door frame is at most {MaxDoorFrameBytes} bytes ({ctx.Request.ContentLength} sent); send a downscaled JPEG");
        }

        byte[] body = await ReadImageAsync(ctx).ConfigureAwait(false);
        if (body.Length > MaxDoorFrameBytes)
        {
            throw new ApiException(413, $"a door frame is at most {MaxDoorFrameBytes} bytes ({body.Length} sent); send a downscaled JPEG");
        }

        var faces = service.Faces(service.Decode(body), largestOnly: false);
        double side = faces.Count > 0 ? FaceQuality.Side(faces[0]) : 0, sharpness = 0;
        string? identity = null;
        double? distance = null;
        if (rule.Screen(faces.Count, side, () => sharpness = FaceQuality.Sharpness(faces[0].Chip)) is null)
        {
            var encodings = await service.EncodeAsync([faces[0]], ctx.RequestAborted).ConfigureAwait(false);
            var result = snapshot.Recognizer.Identify(encodings[0]);
            identity = result.Identity;
            distance = result.Nearest is null ? null : Math.Round(result.Distance, 4);
        }

        var decision = _doorSessions.Observe(collection, session, rule, new DoorFrame(arrived, faces.Count, side, sharpness, identity, distance));
        var boxes = faces.Where(f => f.Detection is not null).Select(f => f.Detection!.Box.Take(4).Select(v => Math.Round(v, 1)).ToArray()).ToList();
        string audited = decision.Announce
            ? decision.Verdict == DoorVerdict.Welcome ? "door_open" : "unknown_face"
            : decision.Code;
        if (decision.Announce)
        {
            OnDoorEvent(audited, collection, decision.Identity, decision.Distance, arrived);
        }

        return new Outcome(200, new DoorResponse(decision.Code, decision.Message, decision.Identity, decision.Distance, decision.Votes, decision.Announce, boxes,
            clock.Elapsed.TotalMilliseconds), audited, decision.Identity, decision.Distance);
    }

    // The camera's session: the X-Door-Session header (the kiosk page) or ?session= (curl).
    private static string DoorSession(HttpContext ctx)
    {
        string? session = ctx.Request.Headers["X-Door-Session"].FirstOrDefault() ?? ctx.Request.Query["session"].FirstOrDefault();
        if (string.IsNullOrEmpty(session))
        {
            throw ApiException.BadRequest("a door session is required: the X-Door-Session header (or ?session=), 1–64 letters, digits, '_' or '-', one per camera");
        }

        return SessionPattern().IsMatch(session)
            ? session
            : throw ApiException.BadRequest("the door session must be 1–64 letters, digits, '_' or '-'");
    }

    private static async Task Page(HttpContext ctx, string file)
    {
        string? type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => null,
        };
        using var stream = type is null ? null : typeof(ServiceHost).Assembly.GetManifestResourceStream("ui/" + file);
        if (stream is null)
        {
            ctx.Response.StatusCode = 404;
            return;
        }

        var headers = ctx.Response.Headers;
        headers.ContentType = type;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        await stream.CopyToAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }

    private async ValueTask DisposeDoorAsync()
    {
        if (_webhook is not null)
        {
            await _webhook.DisposeAsync().ConfigureAwait(false);
        }
    }

    // A door_open or unknown_face event (already in the audit line of its request).
    private void OnDoorEvent(string kind, string collection, string? identity, double? distance, DateTimeOffset time) =>
        _webhook?.Post(kind, collection, identity, distance, time);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex SessionPattern();
}
