using System.Net.Http.Headers;
using System.Text.Json;
using InceptionNet.Pipeline;
using InceptionNet.Server.Http;
using InceptionNet.Server.Security;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Server.Tests.Http;

/// <summary>
/// A real service: Kestrel on an ephemeral loopback port, face-api's real weights and MTCNN, a fresh data folder and
/// keys file with one key of every kind. Shared by the tests of a class (loading the weights takes seconds).
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("inet-serve-").FullName;

    public ServiceHost Host { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public string KeysPath => Path.Combine(Folder, "keys.json");

    public string DataPath => Path.Combine(Folder, "data");

    public string AuditPath => Path.Combine(DataPath, "audit.jsonl");

    /// <summary>Keys by role: admin, enroll, kiosk (all collections), kiosk-door (bound to "door"), revoked (a revoked admin key).</summary>
    public Dictionary<string, string> Keys { get; } = [];

    /// <summary>Options a test class may change before the host starts.</summary>
    public ServeOptions Options { get; private set; } = null!;

    public static string Photo(params string[] parts) => SharedData.PathOf(["images", "faces", .. parts]);

    public async Task InitializeAsync()
    {
        var store = ApiKeyStore.Open(KeysPath);
        Keys["admin"] = store.Add("admin", ApiScope.Admin).Key;
        Keys["enroll"] = store.Add("enroll", ApiScope.Enroll).Key;
        Keys["kiosk"] = store.Add("kiosk", ApiScope.Kiosk).Key;
        Keys["kiosk-door"] = store.Add("door kiosk", ApiScope.Kiosk, "door").Key;
        var (revoked, revokedKey) = store.Add("gone", ApiScope.Admin);
        store.Revoke(revoked.Id);
        Keys["revoked"] = revokedKey;

        Options = new ServeOptions
        {
            Listen = "127.0.0.1:0",
            DataDirectory = DataPath,
            KeysPath = KeysPath,
            MaxBodyBytes = 4 << 20, // small, so the over-limit test sends 5 MB, not 11
            MaxWait = TimeSpan.FromMilliseconds(20),
        };
        var model = ModelRegistry.Get("faceapi");
        string weights = ModelRegistry.FindWeights(model, SharedData.PathOf("weights", "faceapi"));
        string mtcnn = SharedData.PathOf("weights", "mtcnn");
        Host = await ServiceHost.StartAsync(Options, () => new FacePipeline(model, ModelRegistry.LoadEncoder(model, weights), FaceInput.Choose(model, FaceInputMode.Auto, null, null), mtcnn), TextWriter.Null);
        await Host.Ready.WaitAsync(TimeSpan.FromMinutes(2));
        // Expect100ContinueTimeout: a request sent with "Expect: 100-continue" waits for the server's answer (a 413, or
        // "100 Continue") instead of sending its body after the default 1 s. On a loaded CI machine the answer can take
        // longer, and a 5 MB body written into a connection the server closes after its 413 is a broken pipe.
        var handler = new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromMinutes(1) };
        Client = new HttpClient(handler) { BaseAddress = Host.Address, Timeout = TimeSpan.FromMinutes(2) };

        // The collections every test may use: "door" with obama enrolled from his two train photos, and "other".
        await Send(HttpMethod.Put, "/v1/collections/door", "admin");
        await Send(HttpMethod.Put, "/v1/collections/other", "admin");
        foreach (string photo in Directory.GetFiles(Photo("train", "obama")).Order(StringComparer.Ordinal))
        {
            var response = await Send(HttpMethod.Post, "/v1/collections/door/people/obama/photos?largest=true", "admin", Image(photo));
            Assert.Equal(201, (int)response.StatusCode);
        }
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }

    public static ByteArrayContent Image(string path)
    {
        var content = new ByteArrayContent(File.ReadAllBytes(path));
        content.Headers.ContentType = new MediaTypeHeaderValue(path.EndsWith(".png", StringComparison.OrdinalIgnoreCase) ? "image/png" : "image/jpeg");
        return content;
    }

    public static ByteArrayContent Bytes(byte[] bytes, string type = "image/jpeg")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    public async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? role, HttpContent? content = null, bool expectContinue = false)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.ExpectContinue = expectContinue;
        if (role is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Keys.TryGetValue(role, out var key) ? key : role);
        }

        return await Client.SendAsync(request);
    }

    /// <summary>The JSON body, asserting the content type says JSON.</summary>
    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
