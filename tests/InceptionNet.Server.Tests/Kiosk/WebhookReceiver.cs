using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>A webhook receiver on a loopback port: records every delivery attempt; <c>answer</c> decides each attempt's status.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<Delivery> _deliveries = Channel.CreateUnbounded<Delivery>();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _attempts;

    private WebhookReceiver(Func<int, Task<int>> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapPost("/hook", async ctx =>
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer);
            int attempt = Interlocked.Increment(ref _attempts);
            var delivery = new Delivery(attempt, _clock.Elapsed, buffer.ToArray(), ctx.Request.Headers["X-InceptionNet-Signature"].ToString(), ctx.Request.ContentType);
            int status = await answer(attempt);
            _deliveries.Writer.TryWrite(delivery with { Status = status });
            ctx.Response.StatusCode = status;
        });
    }

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(Func<int, Task<int>> answer)
    {
        var receiver = new WebhookReceiver(answer);
        await receiver._app.StartAsync();
        receiver.Url = new Uri(receiver._app.Urls.First() + "/hook");
        return receiver;
    }

    /// <summary>The next delivery attempt, waiting at most <paramref name="deadline"/>.</summary>
    public async Task<Delivery> NextAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        return await _deliveries.Reader.ReadAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public sealed record Delivery(int Attempt, TimeSpan At, byte[] Body, string Signature, string? ContentType, int Status = 0);
}
