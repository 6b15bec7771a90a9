using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using InceptionNet.Server.Audit;
using Xunit;

namespace InceptionNet.Server.Tests.Http;

/// <summary>
/// Concurrent clients against a real service: identify mixed with enrolls, then the invariants that must hold after
/// any amount of load (no 500s, every acknowledged enroll visible, one intact audit line per request); and micro-batching
/// seen at work.
/// </summary>
public sealed class LoadTests
{
    private const int Clients = 8;
    private const int RequestCap = 400; // all clients together; on 2 cores the time limit ends the run first
    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(25);

    [Fact]
    public async Task Eight_clients_identifying_and_enrolling_get_no_5xx_see_every_enroll_and_leave_one_audit_line_per_request()
    {
        await using var service = await LoopbackService.StartAsync();
        using (var created = await service.Send(HttpMethod.Put, "/v1/collections/site", "admin"))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        // Some people to be recognised, so identify answers carry real decisions, not only "unknown".
        foreach (string person in new[] { "obama", "biden" })
        {
            foreach (string photo in Directory.GetFiles(ServiceFixture.Photo("train", person)).Order(StringComparer.Ordinal))
            {
                using var enrolled = await service.Send(HttpMethod.Post, $"/v1/collections/site/people/{person}/photos?largest=true", "enroll", ServiceFixture.Image(photo));
                Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
            }
        }

        long linesBefore = ShippedPhotos.AuditLines(service.AuditPath);
        var photos = ShippedPhotos.All;
        var statuses = new ConcurrentDictionary<(string Kind, int Status), int>();
        var enrolled201 = new ConcurrentBag<string>();
        var failures = new ConcurrentQueue<string>();
        int sent = 0;
        var clock = Stopwatch.StartNew();

        async Task Client(int client)
        {
            // Every client sends at least an identify and an enroll, however slow the machine; then it goes on until the time is up.
            for (int k = 0; k < 2 || clock.Elapsed < RunFor; k++)
            {
                if (Interlocked.Increment(ref sent) > RequestCap)
                {
                    Interlocked.Decrement(ref sent);
                    return;
                }

                var (name, bytes) = photos[(client * 5 + k) % photos.Count];
                bool enroll = k % 3 == 1;
                string person = string.Create(CultureInfo.InvariantCulture, $"load-{client}-{k}");
                string path = enroll ? $"/v1/collections/site/people/{person}/photos?largest=true" : "/v1/collections/site/identify";
                using var response = await service.Send(HttpMethod.Post, path, enroll ? "enroll" : "kiosk", ShippedPhotos.Content(bytes));
                int status = (int)response.StatusCode;
                statuses.AddOrUpdate((enroll ? "enroll" : "identify", status), 1, (_, n) => n + 1);
                string body = await response.Content.ReadAsStringAsync();
                if (status >= 500 && !(status == 503 && response.Headers.RetryAfter is not null))
                {
                    failures.Enqueue($"{path} with {name}: {status} {body}");
                }
                else if (status >= 400 && status != 422 && status != 503)
                {
                    failures.Enqueue($"{path} with {name}: unexpected {status} {body}"); // keys, names and photos are all valid
                }

                if (enroll && status == 201)
                {
                    enrolled201.Add(person);
                }

            }
        }

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(() => Client(c)))).WaitAsync(RunFor + TimeSpan.FromSeconds(60));
        Assert.True(failures.IsEmpty, string.Join("\n", failures));
        Assert.True(statuses.Where(s => s.Key is ("identify", 200)).Sum(s => s.Value) >= Clients, Describe(statuses));
        Assert.True(enrolled201.Count >= Clients / 2, Describe(statuses)); // enroll can refuse a face (422), not most of them

        using var people = await service.Send(HttpMethod.Get, "/v1/collections/site/people", "enroll");
        var listed = JsonDocument.Parse(await people.Content.ReadAsStringAsync()).RootElement.GetProperty("people")
            .EnumerateArray().Select(p => p.GetProperty("name").GetString()!).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(enrolled201, p => !listed.Contains(p));

        // The requests of the run, plus the GET people just sent.
        Assert.Equal(linesBefore + sent + 1, ShippedPhotos.AuditLines(service.AuditPath));
        var verification = AuditLog.Verify(service.AuditPath);
        Assert.True(verification.Intact, verification.Problem);
    }

    [Fact]
    public async Task Concurrent_identify_requests_share_an_encoder_pass()
    {
        const int Requests = 6;
        // A batch closes when it holds Requests faces (each photo has one), or after a wait far longer than the
        // detection of six photos takes, so the requests meet in the encoder's queue unless something is wrong.
        // Captures on here (off by default), to check --keep-captures keeps exactly the images received.
        string captures = "";
        await using var service = await LoopbackService.StartAsync(o => o with
        {
            MaxBatch = Requests,
            MaxWait = TimeSpan.FromSeconds(10),
            KeepCaptures = captures = Path.Combine(Path.GetDirectoryName(o.DataDirectory)!, "captures"),
        });
        using (var created = await service.Send(HttpMethod.Put, "/v1/collections/site", "admin"))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        byte[] photo = File.ReadAllBytes(ServiceFixture.Photo("test", "obama1.jpg"));
        var answers = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => Task.Run(async () =>
        {
            using var response = await service.Send(HttpMethod.Post, "/v1/collections/site/identify", "kiosk", ShippedPhotos.Content(photo));
            return (int)response.StatusCode;
        }))).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.All(answers, status => Assert.Equal(200, status));

        using var metrics = await service.Send(HttpMethod.Get, "/metrics", "admin");
        string text = await metrics.Content.ReadAsStringAsync();
        long passes = Metric(text, "inceptionnet_batch_size_count");
        long singles = Metric(text, "inceptionnet_batch_size_bucket{le=\"1\"}");
        Assert.True(passes - singles >= 1, $"no encoder pass took more than one face: {passes} passes, {singles} of one face\n{text}");
        Assert.True(passes < Requests, $"{Requests} requests took {passes} passes");

        var kept = Directory.GetFiles(captures);
        Assert.Equal(Requests, kept.Length);
        Assert.All(kept, f => Assert.Equal(photo, File.ReadAllBytes(f)));
    }

    private static long Metric(string text, string name) =>
        long.Parse(text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal))[(name.Length + 1)..], CultureInfo.InvariantCulture);

    private static string Describe(ConcurrentDictionary<(string Kind, int Status), int> statuses) =>
        string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key.Kind} {s.Key.Status}: {s.Value}"));
}
