using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using InceptionNet.Recognition;
using InceptionNet.Server.Audit;
using InceptionNet.Server.Security;
using Xunit;

namespace InceptionNet.Server.Tests.Http;

/// <summary>
/// Faults the service must survive: the server killed (SIGKILL) in the middle of enrolls, and a client that goes away
/// in the middle of an upload.
/// </summary>
public sealed class FaultTests
{
    private const int Clients = 4;
    private const int EnrollsBeforeKill = 6;

    [Fact]
    public async Task A_server_killed_during_enrolls_restarts_with_whole_people_an_intact_log_and_every_answered_decision_in_it()
    {
        string folder = Directory.CreateTempSubdirectory("inet-kill-").FullName;
        try
        {
            string data = Path.Combine(folder, "data");
            string keysPath = Path.Combine(folder, "keys.json");
            var store = ApiKeyStore.Open(keysPath);
            string admin = store.Add("admin", ApiScope.Admin).Key;
            string enroll = store.Add("enroll", ApiScope.Enroll).Key;
            var answered = new ConcurrentQueue<(string Person, int Status)>(); // every answer a client received
            int unanswered = 0;

            using (var server = await ServerProcess.StartAsync(data, keysPath, TimeSpan.FromMinutes(2)))
            using (var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) })
            {
                using (var created = await Send(client, HttpMethod.Put, "/v1/collections/site", admin))
                {
                    Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                    answered.Enqueue(("", 201));
                }

                // Single-face photos, so every enroll should succeed and the kill lands among writes.
                var photos = ShippedPhotos.All.Where(p => p.Name.StartsWith("train", StringComparison.Ordinal)).ToList();
                var enoughEnrolled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                int accepted = 0;
                var clock = Stopwatch.StartNew();

                async Task Enroller(int c)
                {
                    for (int k = 0; k < 200 && clock.Elapsed < TimeSpan.FromSeconds(90); k++)
                    {
                        string person = string.Create(CultureInfo.InvariantCulture, $"p{c}-{k}");
                        try
                        {
                            using var response = await Send(client, HttpMethod.Post, $"/v1/collections/site/people/{person}/photos?largest=true", enroll,
                                ShippedPhotos.Content(photos[(c + k) % photos.Count].Bytes));
                            await response.Content.ReadAsByteArrayAsync();
                            answered.Enqueue((person, (int)response.StatusCode));
                            if (response.StatusCode == HttpStatusCode.Created && Interlocked.Increment(ref accepted) >= EnrollsBeforeKill)
                            {
                                enoughEnrolled.TrySetResult();
                            }
                        }
                        catch (HttpRequestException)
                        {
                            Interlocked.Increment(ref unanswered); // the server died under this request: no decision reached the client
                            return;
                        }
                    }
                }

                var enrollers = Enumerable.Range(0, Clients).Select(c => Task.Run(() => Enroller(c))).ToList();
                await enoughEnrolled.Task.WaitAsync(TimeSpan.FromSeconds(90));
                await server.KillAsync(); // the other clients' requests are in flight now
                await Task.WhenAll(enrollers).WaitAsync(TimeSpan.FromSeconds(90));
            }

            Assert.True(unanswered > 0, "the kill should have cut some enrolls off");
            string galleryPath = Path.Combine(data, "site.gallery.json");
            using var restarted = await ServerProcess.StartAsync(data, keysPath, TimeSpan.FromMinutes(2));
            using var again = new HttpClient { BaseAddress = restarted.Address, Timeout = TimeSpan.FromSeconds(60) };

            // The gallery file opens, and each person in it is whole: one photo (each was enrolled once) with a full vector.
            var gallery = Gallery.Open(galleryPath);
            var people = gallery.Identities.ToDictionary(i => i.Name, StringComparer.Ordinal);
            Assert.All(people.Values, p =>
            {
                var entry = Assert.Single(p.Entries);
                Assert.Equal(gallery.Model.EmbeddingSize, entry.Embedding.Length);
                Assert.All(entry.Embedding, v => Assert.True(float.IsFinite(v)));
            });
            var acknowledged = answered.Where(a => a.Status == 201 && a.Person.Length > 0).Select(a => a.Person).ToList();
            Assert.DoesNotContain(acknowledged, p => !people.ContainsKey(p));

            // The restarted service serves the same people.
            using (var listed = await Send(again, HttpMethod.Get, "/v1/collections/site/people", enroll))
            {
                var names = JsonDocument.Parse(await listed.Content.ReadAsStringAsync()).RootElement.GetProperty("people").EnumerateArray()
                    .Select(p => p.GetProperty("name").GetString()!).Order(StringComparer.Ordinal);
                Assert.Equal(people.Keys.Order(StringComparer.Ordinal), names);
            }

            // The log verifies (a torn last line, if the kill cut one, was trimmed at restart), every decision a client
            // received has its line, and every enrollment the log records is in the gallery (the line follows the write).
            string auditPath = Path.Combine(data, "audit.jsonl");
            var verification = AuditLog.Verify(auditPath);
            Assert.True(verification.Intact, verification.Problem);
            var lines = File.ReadLines(auditPath).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            var enrolledLines = lines.Where(l => l.GetProperty("decision").GetString() == "enrolled").Select(l => l.GetProperty("identity").GetString()!).ToHashSet(StringComparer.Ordinal);
            Assert.DoesNotContain(acknowledged, p => !enrolledLines.Contains(p));
            Assert.DoesNotContain(enrolledLines, p => !people.ContainsKey(p));
            foreach (var group in answered.Where(a => a.Status != 201).GroupBy(a => a.Status))
            {
                string decision = string.Create(CultureInfo.InvariantCulture, $"error {group.Key}");
                Assert.True(lines.Count(l => l.GetProperty("decision").GetString() == decision) >= group.Count(), $"{group.Count()} answers of {group.Key}, fewer lines");
            }

            Assert.Contains(lines, l => l.GetProperty("route").GetString() == "PUT /v1/collections/{c}" && l.GetProperty("decision").GetString() == "created");

            // The next write goes through and leaves no temporary file behind, even one a killed save left.
            using (var next = await Send(again, HttpMethod.Post, "/v1/collections/site/people/after-restart/photos?largest=true", enroll, ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg"))))
            {
                Assert.Equal(HttpStatusCode.Created, next.StatusCode);
            }

            Assert.Empty(Directory.GetFiles(data, "*.tmp"));
            Assert.True(AuditLog.Verify(auditPath).Intact);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_client_gone_mid_upload_leaves_the_gallery_and_the_data_folder_as_they_were()
    {
        await using var service = await LoopbackService.StartAsync();
        using (var created = await service.Send(HttpMethod.Put, "/v1/collections/site", "admin"))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var enrolled = await service.Send(HttpMethod.Post, "/v1/collections/site/people/obama/photos?largest=true", "enroll", ServiceFixture.Image(ServiceFixture.Photo("train", "obama", "obama.jpg"))))
        {
            Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
        }

        // The client closes its socket (FIN), then its connection is reset (RST), as when its process dies.
        foreach (bool reset in new[] { false, true })
        {
            await UploadHalfAndGo(service, reset);
        }
    }

    private static async Task UploadHalfAndGo(LoopbackService service, bool reset)
    {
        string galleryPath = Path.Combine(service.DataPath, "site.gallery.json");
        byte[] galleryBefore = File.ReadAllBytes(galleryPath);
        string[] filesBefore = Files(service.DataPath);
        long linesBefore = ShippedPhotos.AuditLines(service.AuditPath);

        byte[] photo = File.ReadAllBytes(ServiceFixture.Photo("two_people.jpg"));
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, service.Host.Address!.Port));
            string headers = "POST /v1/collections/site/people/torn/photos?largest=true HTTP/1.1\r\n" +
                $"Host: 127.0.0.1:{service.Host.Address.Port}\r\n" +
                $"Authorization: Bearer {service.Keys["enroll"]}\r\n" +
                "Content-Type: image/jpeg\r\n" +
                "Content-Length: 500000\r\n" +
                "Expect: 100-continue\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(headers));

            // Kestrel sends 100 Continue when the handler first reads the body: from then on the request is in the
            // server's hands. (Without this a reset could arrive before the headers were read, and Linux drops unread
            // bytes on a reset: the server would never see a request at all.)
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                byte[] answer = new byte[256];
                int read = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token);
                Assert.StartsWith("HTTP/1.1 100 Continue", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
            }

            await socket.SendAsync(photo.AsMemory(0, 200_000));
            if (reset)
            {
                socket.LingerState = new LingerOption(true, 0);
            }

            socket.Close();
        }

        // The server has finished with the request once its audit line is written (the last thing it does).
        var deadline = Stopwatch.StartNew();
        while (ShippedPhotos.AuditLines(service.AuditPath) <= linesBefore && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }

        long lines = ShippedPhotos.AuditLines(service.AuditPath);
        Assert.True(lines == linesBefore + 1, $"{(reset ? "reset" : "closed")} mid-upload: {lines - linesBefore} audit lines, expected 1");
        var last = JsonDocument.Parse(File.ReadLines(service.AuditPath).Last()).RootElement;
        Assert.Equal("POST /v1/collections/{c}/people/{name}/photos", last.GetProperty("route").GetString());
        Assert.NotEqual("enrolled", last.GetProperty("decision").GetString());

        Assert.Equal(galleryBefore, File.ReadAllBytes(galleryPath));
        Assert.Equal(filesBefore, Files(service.DataPath));
        using (var health = await service.Client.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        using (var identify = await service.Send(HttpMethod.Post, "/v1/collections/site/identify", "kiosk", ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg"))))
        {
            Assert.Equal(HttpStatusCode.OK, identify.StatusCode);
            Assert.Equal("obama", JsonDocument.Parse(await identify.Content.ReadAsStringAsync()).RootElement.GetProperty("faces")[0].GetProperty("identity").GetString());
        }

        Assert.True(AuditLog.Verify(service.AuditPath).Intact);
    }

    private static string[] Files(string folder) =>
        [.. Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f)).Order(StringComparer.Ordinal)];

    private static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string path, string key, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }
}
