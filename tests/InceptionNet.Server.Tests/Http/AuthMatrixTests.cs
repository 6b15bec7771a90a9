using System.Text;
using InceptionNet.Server.Audit;
using Xunit;

namespace InceptionNet.Server.Tests.Http;

/// <summary>
/// Every endpoint with no key, an unknown key, a revoked key, the wrong scope, a kiosk key bound to another
/// collection, and the right key: each gets its documented status, as JSON, and each leaves one audit line.
/// </summary>
public sealed class AuthMatrixTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    // method, path, scope it needs, whether it names a collection (then "door"), body, status with the right key.
    public static TheoryData<string, string, string, string, int> Endpoints => new()
    {
        { "POST", "/v1/collections/door/identify", "kiosk", "image", 200 },
        { "POST", "/v1/collections/door/verify?name=obama", "kiosk", "image", 200 },
        { "POST", "/v1/detect", "kiosk", "image", 200 },
        { "POST", "/v1/embed", "kiosk", "image", 200 },
        { "POST", "/v1/collections/door/people/matrix/photos?largest=true", "enroll", "image", 201 },
        { "GET", "/v1/collections/door/people", "enroll", "", 200 },
        { "PATCH", "/v1/collections/door/people/nobody", "enroll", "rename", 404 },
        { "DELETE", "/v1/collections/door/people/nobody", "enroll", "", 404 },
        { "PUT", "/v1/collections/door", "admin", "", 200 },
        { "DELETE", "/v1/collections/never-made", "admin", "", 404 },
        { "GET", "/metrics", "admin", "", 200 },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Each_key_gets_its_documented_status(string method, string path, string scope, string body, int expected)
    {
        var cases = new List<(string Role, int Status)>
        {
            ("none", 401),
            ("inet_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401), // well-formed, unknown
            ("not a key at all", 401),
            ("revoked", 401),
        };
        if (scope != "kiosk")
        {
            cases.Add(("kiosk", 403)); // too small a scope
        }

        if (scope == "admin")
        {
            cases.Add(("enroll", 403));
        }

        if (scope == "kiosk" && path.StartsWith("/v1/collections/door", StringComparison.Ordinal))
        {
            cases.Add(("kiosk-door", expected)); // bound to this collection: allowed
        }

        cases.Add((scope, expected));
        foreach (var (role, status) in cases)
        {
            long linesBefore = AuditLines();
            using var response = await service.Send(new HttpMethod(method), path, role == "none" ? null : role, Body(body));
            Assert.True(status == (int)response.StatusCode, $"{method} {path} with {role}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (path != "/metrics" || status != 200)
            {
                var json = await ServiceFixture.Json(response);
                if (status >= 400)
                {
                    Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("error").GetString()));
                }
            }

            Assert.Equal(linesBefore + 1, AuditLines());
        }

        Assert.True(AuditLog.Verify(service.AuditPath).Intact);
    }

    [Theory]
    [InlineData("POST", "/v1/collections/other/identify", "image")]
    [InlineData("POST", "/v1/collections/other/verify?name=obama", "image")]
    [InlineData("GET", "/v1/collections/other/people", "")]
    [InlineData("POST", "/v1/collections/other/people/x/photos", "image")]
    public async Task A_kiosk_key_bound_to_one_collection_cannot_touch_another(string method, string path, string body)
    {
        using var response = await service.Send(new HttpMethod(method), path, "kiosk-door", Body(body));
        Assert.Equal(403, (int)response.StatusCode);
        Assert.Contains("error", (await ServiceFixture.Json(response)).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_revoked_while_the_server_runs_is_refused_without_a_restart()
    {
        var store = InceptionNet.Server.Security.ApiKeyStore.Open(service.KeysPath);
        var (record, key) = store.Add("temporary", InceptionNet.Server.Security.ApiScope.Kiosk);
        using (var before = await service.Send(HttpMethod.Post, "/v1/detect", key, ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg"))))
        {
            Assert.Equal(200, (int)before.StatusCode);
        }

        store.Revoke(record.Id);
        using var after = await service.Send(HttpMethod.Post, "/v1/detect", key, ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg")));
        Assert.Equal(401, (int)after.StatusCode);
    }

    [Fact]
    public async Task Health_needs_no_key_and_metrics_count_requests_by_route_and_status()
    {
        using var health = await service.Send(HttpMethod.Get, "/healthz", null);
        using var ready = await service.Send(HttpMethod.Get, "/readyz", null);
        Assert.Equal(200, (int)health.StatusCode);
        Assert.Equal(200, (int)ready.StatusCode);
        using var denied = await service.Send(HttpMethod.Post, "/v1/collections/door/identify", null, Body("image"));
        using var metrics = await service.Send(HttpMethod.Get, "/metrics", "admin");
        string text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("inceptionnet_requests_total{route=\"POST /v1/collections/{c}/identify\",status=\"401\"}", text, StringComparison.Ordinal);
        Assert.Contains("inceptionnet_collection_people{collection=\"door\"}", text, StringComparison.Ordinal);
        Assert.Contains("inceptionnet_batch_size_count", text, StringComparison.Ordinal);
        Assert.Contains("inceptionnet_queue_depth 0", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_audit_log_holds_no_key_and_no_face_vector()
    {
        using (var embed = await service.Send(HttpMethod.Post, "/v1/embed", "kiosk", Body("image")))
        {
            var first = (await ServiceFixture.Json(embed)).GetProperty("faces")[0].GetProperty("embedding")[0].GetSingle();
            string log = File.ReadAllText(service.AuditPath);
            foreach (var key in service.Keys.Values)
            {
                // The secret is everything after "inet_" + 16 hex digits + "_": 43 base64url characters, which may
                // themselves hold '_' (so splitting on '_' could leave a one-letter tail that any log line contains).
                string secret = key["inet_0123456789abcdef_".Length..];
                Assert.Equal(43, secret.Length);
                Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
            }

            Assert.DoesNotContain(first.ToString("R", System.Globalization.CultureInfo.InvariantCulture), log, StringComparison.Ordinal);
            Assert.DoesNotContain("embedding", log, StringComparison.Ordinal);
        }
    }

    private long AuditLines() => File.ReadLines(service.AuditPath).LongCount();

    private static HttpContent? Body(string kind) => kind switch
    {
        "image" => ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg")),
        "rename" => new StringContent("{\"name\":\"renamed\"}", Encoding.UTF8, "application/json"),
        _ => null,
    };
}
