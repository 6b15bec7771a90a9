using System.Net.Http.Headers;
using InceptionNet.Pipeline;
using InceptionNet.Server.Http;
using InceptionNet.Server.Security;
using InceptionNet.Server.Tests.Http;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>
/// A real service for the browser tests: face-api's real weights, collection "door" with obama enrolled through the API
/// from his two train photos and a 30 s vote window, keys bound to it, and the server's log kept in memory (to search for keys).
/// </summary>
public sealed class KioskFixture : IAsyncLifetime, IDisposable
{
    private readonly System.Text.StringBuilder _logText = new();
    private readonly TextWriter _log;

    public KioskFixture() => _log = TextWriter.Synchronized(new StringWriter(_logText));

    public string Folder { get; } = Directory.CreateTempSubdirectory("inet-kiosk-").FullName;

    public ServiceHost Host { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public Dictionary<string, string> Keys { get; } = [];

    public string AuditPath => Path.Combine(Folder, "data", "audit.jsonl");

    /// <summary>Everything the server logged so far.</summary>
    public string Log
    {
        get
        {
            lock (_log) // the synchronized writer locks itself while writing
            {
                return _logText.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        string keysPath = Path.Combine(Folder, "keys.json");
        var store = ApiKeyStore.Open(keysPath);
        Keys["admin"] = store.Add("admin", ApiScope.Admin).Key;
        Keys["enroll"] = store.Add("front desk", ApiScope.Enroll, "door").Key;
        Keys["kiosk"] = store.Add("door tablet", ApiScope.Kiosk, "door").Key;
        var options = new ServeOptions { Listen = "127.0.0.1:0", DataDirectory = Path.Combine(Folder, "data"), KeysPath = keysPath };
        var model = ModelRegistry.Get("faceapi");
        string weights = ModelRegistry.FindWeights(model, SharedData.PathOf("weights", "faceapi"));
        string mtcnn = SharedData.PathOf("weights", "mtcnn");
        Host = await ServiceHost.StartAsync(options, () => new FacePipeline(model, ModelRegistry.LoadEncoder(model, weights), FaceInput.Choose(model, FaceInputMode.Auto, null, null), mtcnn),
            _log);
        await Host.Ready.WaitAsync(TimeSpan.FromMinutes(2));
        Client = new HttpClient { BaseAddress = Host.Address, Timeout = TimeSpan.FromMinutes(1) };
        using (var created = await Send(HttpMethod.Put, "/v1/collections/door", "admin"))
        {
            Assert.True(created.IsSuccessStatusCode);
        }

        foreach (string photo in Directory.GetFiles(ServiceFixture.Photo("train", "obama")).Order(StringComparer.Ordinal))
        {
            using var enrolled = await Send(HttpMethod.Post, "/v1/collections/door/people/obama/photos?largest=true", "enroll", ServiceFixture.Image(photo));
            Assert.Equal(201, (int)enrolled.StatusCode);
        }

        // The default rule wants 3 frames within 2 s: a frame takes well under 0.5 s alone, but several seconds while the
        // whole suite runs on 2 cores. The window is widened so the machine's speed does not decide the vote; the
        // 2 s window itself is tested on scripted times (DoorVoterTests).
        using var settings = await Send(HttpMethod.Put, "/v1/collections/door/door/settings", "admin",
            new StringContent("{\"window_seconds\": 30}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(200, (int)settings.StatusCode);
    }

    public async Task<HttpResponseMessage> Send(HttpMethod method, string path, string role, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Keys[role]);
        return await Client.SendAsync(request);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }

    public void Dispose() => _log.Dispose();
}
