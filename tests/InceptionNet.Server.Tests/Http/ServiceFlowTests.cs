using System.Text;
using InceptionNet.Server.Audit;
using Xunit;

namespace InceptionNet.Server.Tests.Http;

/// <summary>The door's day through the API: identify, verify, enroll, rename, remove, collections.</summary>
public sealed class ServiceFlowTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task Identify_names_an_enrolled_person_and_never_names_anyone_over_the_threshold()
    {
        using var known = await service.Send(HttpMethod.Post, "/v1/collections/door/identify", "kiosk-door", ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg")));
        var face = (await ServiceFixture.Json(known)).GetProperty("faces")[0];
        Assert.Equal("accepted", face.GetProperty("decision").GetString());
        Assert.Equal("obama", face.GetProperty("identity").GetString());
        Assert.True(face.GetProperty("distance").GetDouble() < face.GetProperty("threshold").GetDouble());
        Assert.Equal(4, face.GetProperty("box").GetArrayLength());

        // Everyone in the shared photos who is not obama: their faces must come back unknown (identity null), whatever
        // the nearest person's distance, and a face that is named must be under the threshold.
        foreach (string photo in Directory.GetFiles(ServiceFixture.Photo("train")).Concat(Directory.GetDirectories(ServiceFixture.Photo("train")).Where(d => !d.EndsWith("obama", StringComparison.Ordinal)).SelectMany(Directory.GetFiles)))
        {
            using var response = await service.Send(HttpMethod.Post, "/v1/collections/door/identify", "kiosk", ServiceFixture.Image(photo));
            Assert.Equal(200, (int)response.StatusCode);
            foreach (var f in (await ServiceFixture.Json(response)).GetProperty("faces").EnumerateArray())
            {
                double distance = f.GetProperty("distance").GetDouble(), threshold = f.GetProperty("threshold").GetDouble();
                string? identity = f.GetProperty("identity").GetString();
                Assert.True(identity is null || distance < threshold, $"{photo}: named {identity} at {distance} over {threshold}");
                Assert.Equal(identity is null ? distance >= threshold ? "unknown" : "ambiguous" : "accepted", f.GetProperty("decision").GetString());
            }
        }
    }

    [Fact]
    public async Task Verify_accepts_the_person_and_rejects_someone_else()
    {
        using var same = await service.Send(HttpMethod.Post, "/v1/collections/door/verify?name=obama", "kiosk", ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg")));
        Assert.True((await ServiceFixture.Json(same)).GetProperty("accepted").GetBoolean());
        string other = Directory.GetFiles(ServiceFixture.Photo("test")).First(f => !Path.GetFileName(f).StartsWith("obama", StringComparison.Ordinal));
        using var different = await service.Send(HttpMethod.Post, "/v1/collections/door/verify?name=obama", "kiosk", ServiceFixture.Image(other));
        Assert.False((await ServiceFixture.Json(different)).GetProperty("accepted").GetBoolean());
    }

    [Fact]
    public async Task People_are_enrolled_renamed_and_removed_and_each_change_is_seen_at_once()
    {
        await service.Send(HttpMethod.Put, "/v1/collections/flow", "admin");
        using var enrolled = await service.Send(HttpMethod.Post, "/v1/collections/flow/people/alex/photos?largest=true", "enroll", ServiceFixture.Image(ServiceFixture.Photo("test", "alex_lacamoire1.jpg")));
        Assert.Equal(201, (int)enrolled.StatusCode);
        Assert.Equal(1, (await ServiceFixture.Json(enrolled)).GetProperty("photos").GetInt32());
        Assert.Equal("alex", await Identify("flow", "test", "alex_lacamoire1.jpg"));

        using var renamed = await service.Send(HttpMethod.Patch, "/v1/collections/flow/people/alex", "enroll", new StringContent("{\"name\":\"lacamoire\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(200, (int)renamed.StatusCode);
        Assert.Equal("lacamoire", await Identify("flow", "test", "alex_lacamoire1.jpg"));

        using var clash = await service.Send(HttpMethod.Patch, "/v1/collections/door/people/obama", "enroll", new StringContent("{\"name\":\"obama\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(409, (int)clash.StatusCode);

        using var removed = await service.Send(HttpMethod.Delete, "/v1/collections/flow/people/lacamoire", "enroll");
        Assert.Equal(200, (int)removed.StatusCode);
        Assert.Null(await Identify("flow", "test", "alex_lacamoire1.jpg"));

        using var deleted = await service.Send(HttpMethod.Delete, "/v1/collections/flow", "admin");
        Assert.Equal(200, (int)deleted.StatusCode);
        Assert.False(File.Exists(Path.Combine(service.DataPath, "flow.gallery.json")));
        using var gone = await service.Send(HttpMethod.Post, "/v1/collections/flow/identify", "kiosk", ServiceFixture.Image(ServiceFixture.Photo("test", "obama1.jpg")));
        Assert.Equal(404, (int)gone.StatusCode);
        Assert.True(AuditLog.Verify(service.AuditPath).Intact);
    }

    [Fact]
    public async Task Detect_and_embed_answer_without_a_collection()
    {
        using var detect = await service.Send(HttpMethod.Post, "/v1/detect", "kiosk", ServiceFixture.Image(ServiceFixture.Photo("two_people.jpg")));
        var faces = (await ServiceFixture.Json(detect)).GetProperty("faces");
        Assert.Equal(2, faces.GetArrayLength());
        Assert.Equal(5, faces[0].GetProperty("landmarks").GetArrayLength());
        using var embed = await service.Send(HttpMethod.Post, "/v1/embed?largest=true", "kiosk", ServiceFixture.Image(ServiceFixture.Photo("two_people.jpg")));
        var embedded = (await ServiceFixture.Json(embed)).GetProperty("faces");
        Assert.Equal(1, embedded.GetArrayLength());
        Assert.Equal(128, embedded[0].GetProperty("embedding").GetArrayLength());
    }

    [Fact]
    public async Task A_change_another_process_made_to_the_file_is_seen_and_kept_by_the_next_enroll()
    {
        await service.Send(HttpMethod.Put, "/v1/collections/shared", "admin");
        using (var first = await service.Send(HttpMethod.Post, "/v1/collections/shared/people/alex/photos?largest=true", "enroll", ServiceFixture.Image(ServiceFixture.Photo("test", "alex_lacamoire1.jpg"))))
        {
            Assert.Equal(201, (int)first.StatusCode);
        }

        // Another instance (here: the gallery API directly) enrolls obama in the same file, with obama's vector from the service.
        using var embedded = await service.Send(HttpMethod.Post, "/v1/embed?largest=true", "kiosk", ServiceFixture.Image(ServiceFixture.Photo("train", "obama", "obama.jpg")));
        float[] vector = [.. (await ServiceFixture.Json(embedded)).GetProperty("faces")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle())];
        string path = Path.Combine(service.DataPath, "shared.gallery.json");
        using (var writer = InceptionNet.Recognition.Gallery.OpenForWrite(path, null))
        {
            writer.Enroll("obama", [("elsewhere", new InceptionNet.Models.FaceEncoding(vector, vector))], 0.6);
            writer.Commit();
        }

        // The service's next enroll must start from the file (not append to its older snapshot, which lacks obama).
        using (var second = await service.Send(HttpMethod.Post, "/v1/collections/shared/people/kit/photos?largest=true", "enroll", ServiceFixture.Image(ServiceFixture.Photo("train", "kit_harington", Directory.GetFiles(ServiceFixture.Photo("train", "kit_harington")).Select(Path.GetFileName).Order(StringComparer.Ordinal).First()!))))
        {
            Assert.Equal(201, (int)second.StatusCode);
        }

        using var people = await service.Send(HttpMethod.Get, "/v1/collections/shared/people", "enroll");
        var names = (await ServiceFixture.Json(people)).GetProperty("people").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["alex", "obama", "kit"], names);
        Assert.Equal("obama", await Identify("shared", "test", "obama1.jpg"));
    }

    private async Task<string?> Identify(string collection, params string[] photo)
    {
        using var response = await service.Send(HttpMethod.Post, $"/v1/collections/{collection}/identify", "kiosk", ServiceFixture.Image(ServiceFixture.Photo(photo)));
        Assert.Equal(200, (int)response.StatusCode);
        return (await ServiceFixture.Json(response)).GetProperty("faces")[0].GetProperty("identity").GetString();
    }
}
