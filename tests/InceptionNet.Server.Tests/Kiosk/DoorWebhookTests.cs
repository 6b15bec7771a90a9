using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InceptionNet.Server.Door;
using InceptionNet.Server.Security;
using InceptionNet.Server.Tests.Http;
using Xunit;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>serve --webhook: signed door events, retried with backoff, never in the way of a decision.</summary>
public sealed class DoorWebhookTests
{
    private const string Secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I";

    [Fact]
    public async Task An_event_is_signed_with_hmac_sha256_over_the_exact_body()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_ => Task.FromResult(204));
        await using var webhook = new DoorWebhook(receiver.Url, () => Secret, TextWriter.Null);
        Assert.True(webhook.Post("door_open", "door", "obama", 0.41, new DateTimeOffset(2026, 12, 2, 14, 30, 0, 123, TimeSpan.Zero)));
        var delivery = await receiver.NextAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("application/json", delivery.ContentType);
        // What a receiver does: HMAC-SHA256 of the raw body with the shared secret, hex, compared with the header.
        string expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), delivery.Body));
        Assert.Equal(expected, delivery.Signature);
        Assert.Equal("{\"event\":\"door_open\",\"collection\":\"door\",\"identity\":\"obama\",\"distance\":0.41,\"time\":\"2026-12-02T14:30:00.123Z\"}", Encoding.UTF8.GetString(delivery.Body));
    }

    [Fact]
    public async Task A_failed_delivery_is_retried_with_doubling_delays_until_it_is_taken()
    {
        await using var receiver = await WebhookReceiver.StartAsync(attempt => Task.FromResult(attempt <= 2 ? 503 : 200));
        var first = TimeSpan.FromMilliseconds(200);
        await using var webhook = new DoorWebhook(receiver.Url, () => Secret, TextWriter.Null, firstDelay: first, attempts: 5);
        webhook.Post("unknown_face", "door", null, 0.93, DateTimeOffset.UtcNow);
        var a = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        var b = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        var c = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([503, 503, 200], new[] { a.Status, b.Status, c.Status });
        Assert.True(b.At - a.At >= first, $"first retry after {(b.At - a.At).TotalMilliseconds} ms");
        Assert.True(c.At - b.At >= 2 * first, $"second retry after {(c.At - b.At).TotalMilliseconds} ms");
        Assert.Equal(a.Body, c.Body);
        Assert.Equal(a.Signature, c.Signature);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(c.Body).RootElement.GetProperty("identity").ValueKind);
    }

    [Fact]
    public async Task The_door_answers_while_the_webhook_hangs_and_the_event_arrives_signed_with_the_keys_file_secret()
    {
        using var release = new SemaphoreSlim(0);
        await using var receiver = await WebhookReceiver.StartAsync(async _ =>
        {
            await release.WaitAsync(TimeSpan.FromSeconds(60)); // hangs until the door has answered
            return 200;
        });
        string? secret = null;
        await using var service = await LoopbackService.StartAsync(o =>
        {
            secret = ApiKeyStore.Open(o.KeysPath).WebhookSecret(create: true);
            return o with { Webhook = receiver.Url };
        });
        Assert.Equal(43, secret!.Length);
        await service.Send(HttpMethod.Put, "/v1/collections/door", "admin");
        foreach (string photo in Directory.GetFiles(ServiceFixture.Photo("train", "obama")))
        {
            using var enrolled = await service.Send(HttpMethod.Post, "/v1/collections/door/people/obama/photos?largest=true", "admin", ServiceFixture.Image(photo));
            Assert.Equal(201, (int)enrolled.StatusCode);
        }

        using (var set = await service.Send(HttpMethod.Put, "/v1/collections/door/door/settings", "admin", new StringContent("{\"window_seconds\": 60}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(200, (int)set.StatusCode);
        }

        var opened = new List<bool>();
        for (int i = 0; i < 4; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/collections/door/door?session=tablet") { Content = ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg")) };
            request.Headers.Authorization = new("Bearer", service.Keys["kiosk"]);
            using var response = await service.Client.SendAsync(request);
            Assert.Equal(200, (int)response.StatusCode);
            opened.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("opened").GetBoolean());
        }

        Assert.Equal([false, false, true, false], opened); // the 4th frame was answered while the webhook still hung
        release.Release();
        var delivery = await receiver.NextAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(DoorWebhook.Sign(Encoding.UTF8.GetBytes(secret), delivery.Body), delivery.Signature);
        var body = JsonDocument.Parse(delivery.Body).RootElement;
        Assert.Equal("door_open", body.GetProperty("event").GetString());
        Assert.Equal("door", body.GetProperty("collection").GetString());
        Assert.Equal("obama", body.GetProperty("identity").GetString());
        Assert.True(body.GetProperty("distance").GetDouble() < 0.6);
        Assert.True(DateTimeOffset.TryParse(body.GetProperty("time").GetString(), out _));
        Assert.Single(File.ReadLines(service.AuditPath), l => l.Contains("\"door_open\"", StringComparison.Ordinal));
    }

    [Fact]
    public void The_webhook_secret_lives_in_the_keys_file_survives_key_changes_and_rotates()
    {
        string folder = Directory.CreateTempSubdirectory("inet-hook-").FullName;
        try
        {
            string path = Path.Combine(folder, "keys.json");
            var store = ApiKeyStore.Open(path);
            Assert.Null(store.WebhookSecret());
            string secret = store.WebhookSecret(create: true)!;
            store.Add("kiosk", ApiScope.Kiosk);
            Assert.Equal(secret, ApiKeyStore.Open(path).WebhookSecret());
            Assert.Equal(secret, ApiKeyStore.Open(path).WebhookSecret(create: true));
            string rotated = ApiKeyStore.Open(path).WebhookSecret(rotate: true)!;
            Assert.NotEqual(secret, rotated);
            Assert.Equal(rotated, store.WebhookSecret()); // a running server sees the rotation
            Assert.Single(ApiKeyStore.Open(path).List());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
