using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using InceptionNet.Server.Security;
using InceptionNet.Server.Tests.Http;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Server.Tests.Postgres;

/// <summary>
/// Two real <c>inceptionnet serve --store</c> processes on 127.0.0.1 over one PostgreSQL (a cluster of the test's own,
/// so it can be stopped), face-api's real weights: the service path end to end.
/// </summary>
public sealed class PostgresServiceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Start = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task Two_serve_instances_share_collections_enroll_on_A_is_identifiable_on_B_within_1_s_a_killed_instance_reloads_and_an_outage_is_survived()
    {
        await using var cluster = await OwnCluster.StartAsync();
        await using var db = await TestDatabase.CreateAsync(server: cluster.Url);
        string folder = Directory.CreateTempSubdirectory("inet-pgsvc-").FullName;
        try
        {
            string keys = Path.Combine(folder, "keys.json");
            string admin = ApiKeyStore.Open(keys).Add("admin", ApiScope.Admin).Key;
            // Each instance has its own data folder (its audit log); the collections are in the database.
            var a = await ServerProcess.StartAsync(Path.Combine(folder, "a"), keys, Start, "--store", db.Store);
            var b = await ServerProcess.StartAsync(Path.Combine(folder, "b"), keys, Start, "--store", db.Store);
            try
            {
                using var toA = Client(a, admin);
                using var toB = Client(b, admin);
                Assert.Equal(201, (int)(await toA.PutAsync("/v1/collections/door", null)).StatusCode);
                await Eventually.Until<object>(async () => (await toB.GetAsync("/v1/collections/door/people")).IsSuccessStatusCode ? new object() : null,
                    TimeSpan.FromSeconds(1), "B sees the collection A created");

                // Enroll on A; B must know obama within 1 s of A's answer.
                Assert.Equal(201, (int)(await toA.PostAsync("/v1/collections/door/people/obama/photos?largest=true", Photo("train", "obama", "obama.jpg"))).StatusCode);
                var clock = Stopwatch.StartNew();
                await Eventually.Until<object>(async () => (await People(toB)).ContainsKey("obama") ? new object() : null, TimeSpan.FromSeconds(1), "obama on B");
                output.WriteLine($"enroll answered on A → obama listed on B: {clock.Elapsed.TotalMilliseconds:F0} ms");
                Assert.Equal("obama", await Identify(toB, "test", "obama1.jpg"));

                // kill -9 B, enroll on A meanwhile, start B again: it loads everything.
                await b.KillAsync();
                b.Dispose();
                Assert.Equal(201, (int)(await toA.PostAsync("/v1/collections/door/people/biden/photos?largest=true", Photo("train", "biden", "biden.jpg"))).StatusCode);
                b = await ServerProcess.StartAsync(Path.Combine(folder, "b"), keys, Start, "--store", db.Store);
                using var toB2 = Client(b, admin);
                var people = await People(toB2);
                Assert.Equal(1, people["obama"]);
                Assert.Equal(1, people["biden"]);
                Assert.Equal("biden", await Identify(toB2, "train", "biden", "biden2.jpg"));

                // PostgreSQL goes away: identify answers from memory, writes get 503 with Retry-After.
                await cluster.StopAsync();
                Assert.Equal("obama", await Identify(toA, "test", "obama1.jpg"));
                Assert.Equal("biden", await Identify(toB2, "train", "biden", "biden2.jpg"));
                var refused = await toA.PostAsync("/v1/collections/door/people/obama/photos?largest=true", Photo("train", "obama", "obama2.jpg"));
                Assert.Equal(503, (int)refused.StatusCode);
                Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
                Assert.Contains("cannot be reached", (await Json(refused)).GetProperty("error").GetString(), StringComparison.Ordinal);
                Assert.Equal(503, (int)(await toB2.DeleteAsync("/v1/collections/door/people/biden")).StatusCode);

                // It comes back: the retried write succeeds and B catches up by itself.
                await cluster.ResumeAsync();
                await Eventually.Until<object>(async () =>
                    (int)(await toA.PostAsync("/v1/collections/door/people/obama/photos?largest=true", Photo("train", "obama", "obama2.jpg"))).StatusCode == 201 ? new object() : null,
                    Deadline, "an enroll on A succeeds after the restart");
                await Eventually.Until<object>(async () => (await People(toB2)).GetValueOrDefault("obama") == 2 ? new object() : null, Deadline, "B has obama's second photo");
            }
            finally
            {
                a.Dispose();
                b.Dispose();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static HttpClient Client(ServerProcess server, string key)
    {
        var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static ByteArrayContent Photo(params string[] parts) => ServiceFixture.Image(ServiceFixture.Photo(parts));

    private static async Task<Dictionary<string, int>> People(HttpClient client)
    {
        var response = await client.GetAsync("/v1/collections/door/people");
        Assert.Equal(200, (int)response.StatusCode);
        return (await Json(response)).GetProperty("people").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("photos").GetInt32());
    }

    private static async Task<string?> Identify(HttpClient client, params string[] photo)
    {
        var response = await client.PostAsync("/v1/collections/door/identify", Photo(photo));
        Assert.Equal(200, (int)response.StatusCode);
        return (await Json(response)).GetProperty("faces")[0].GetProperty("identity").GetString();
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
