using System.Net.Http.Headers;
using InceptionNet.Pipeline;
using InceptionNet.Server.Http;
using InceptionNet.Server.Security;
using InceptionNet.TestSupport;

namespace InceptionNet.Server.Tests.Http;

/// <summary>
/// An in-process service on an ephemeral loopback port with the options a test chooses (the class fixture's are fixed),
/// face-api's real weights and MTCNN, a fresh data folder, and one admin, enroll and kiosk key.
/// </summary>
internal sealed class LoopbackService : IAsyncDisposable
{
    private LoopbackService(string folder, ServiceHost host, ServeOptions options, Dictionary<string, string> keys)
    {
        Folder = folder;
        Host = host;
        Options = options;
        Keys = keys;
        Client = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Folder { get; }

    public ServiceHost Host { get; }

    public ServeOptions Options { get; }

    public HttpClient Client { get; }

    public Dictionary<string, string> Keys { get; }

    public string DataPath => Options.DataDirectory;

    public string AuditPath => Path.Combine(DataPath, "audit.jsonl");

    /// <summary>Starts a service whose options are the defaults changed by <paramref name="configure"/>; returns once the model is loaded.</summary>
    public static async Task<LoopbackService> StartAsync(Func<ServeOptions, ServeOptions>? configure = null)
    {
        string folder = Directory.CreateTempSubdirectory("inet-loop-").FullName;
        string keysPath = Path.Combine(folder, "keys.json");
        var store = ApiKeyStore.Open(keysPath);
        var keys = new Dictionary<string, string>
        {
            ["admin"] = store.Add("admin", ApiScope.Admin).Key,
            ["enroll"] = store.Add("enroll", ApiScope.Enroll).Key,
            ["kiosk"] = store.Add("kiosk", ApiScope.Kiosk).Key,
        };
        var options = new ServeOptions { Listen = "127.0.0.1:0", DataDirectory = Path.Combine(folder, "data"), KeysPath = keysPath };
        options = configure?.Invoke(options) ?? options;
        var model = ModelRegistry.Get("faceapi");
        string weights = ModelRegistry.FindWeights(model, SharedData.PathOf("weights", "faceapi"));
        string mtcnn = SharedData.PathOf("weights", "mtcnn");
        var host = await ServiceHost.StartAsync(options, () => new FacePipeline(model, ModelRegistry.LoadEncoder(model, weights), FaceInput.Choose(model, FaceInputMode.Auto, null, null), mtcnn), TextWriter.Null);
        await host.Ready.WaitAsync(TimeSpan.FromMinutes(2));
        return new LoopbackService(folder, host, options, keys);
    }

    /// <summary>Sends a request with the key of <paramref name="role"/>.</summary>
    public async Task<HttpResponseMessage> Send(HttpMethod method, string path, string role, HttpContent? content = null, CancellationToken cancellation = default)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Keys[role]);
        return await Client.SendAsync(request, cancellation);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>The shipped photos the load and fault tests send.</summary>
internal static class ShippedPhotos
{
    /// <summary>train/*/*, test/* and two_people.jpg, in a fixed order, loaded once.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> All { get; } =
    [
        .. Directory.GetFiles(ServiceFixture.Photo("train"), "*", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(ServiceFixture.Photo("test")))
            .Append(ServiceFixture.Photo("two_people.jpg"))
            .Order(StringComparer.Ordinal)
            .Select(p => (Path.GetRelativePath(ServiceFixture.Photo(), p), File.ReadAllBytes(p))),
    ];

    public static ByteArrayContent Content(byte[] bytes) => ServiceFixture.Bytes(bytes);

    /// <summary>Lines in the audit log (a line is on disk before its answer is sent).</summary>
    public static long AuditLines(string path) => File.Exists(path) ? File.ReadLines(path).LongCount() : 0;
}
