using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>
/// Debian's /usr/bin/chromium, headless, driven over the Chrome DevTools Protocol with a minimal client
/// (System.Net.WebSockets; no downloaded browser, no driver): open a page, evaluate JavaScript, wait for a condition.
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>Why browser tests cannot run here, or null when they can (in CI, a missing Chromium is a failure, not a skip).</summary>
    public static string? Unavailable =>
        File.Exists(ExecutablePath) ? null
        : Environment.GetEnvironmentVariable("CI") == "true" ? throw new InvalidOperationException($"CI=true but {ExecutablePath} is missing; .ci/run installs it with apt-get")
        : $"{ExecutablePath} is not installed (apt-get install chromium); the kiosk's browser tests need it";

    /// <summary>
    /// Starts Chromium on about:blank. <paramref name="fakeCamera"/>: a Y4M file the camera plays; null: no camera at all.
    /// Camera permission is granted without a prompt either way.
    /// </summary>
    public static async Task<HeadlessChromium> StartAsync(string? fakeCamera, CancellationToken cancellation)
    {
        string profile = Directory.CreateTempSubdirectory("inet-chromium-").FullName;
        var start = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--user-data-dir={profile}", "--use-fake-ui-for-media-stream",
        })
        {
            start.ArgumentList.Add(arg);
        }

        if (fakeCamera is not null)
        {
            start.ArgumentList.Add("--use-fake-device-for-media-stream");
            start.ArgumentList.Add($"--use-file-for-fake-video-capture={fakeCamera}");
        }

        start.ArgumentList.Add("about:blank");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            await browser.ConnectAsync(cancellation);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    /// <summary>Navigates the page to <paramref name="url"/>.</summary>
    public async Task NavigateAsync(string url, CancellationToken cancellation) =>
        await SendAsync("Page.navigate", new JsonObject { ["url"] = url }, cancellation);

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value (null on an exception or undefined).</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression, CancellationToken cancellation)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true }, cancellation);
        return result?["exceptionDetails"] is null ? result?["result"]?["value"]?.DeepClone() : null;
    }

    /// <summary>Puts <paramref name="paths"/> in the file input matched by <paramref name="selector"/>, as a user choosing them would.</summary>
    public async Task SetFilesAsync(string selector, IEnumerable<string> paths, CancellationToken cancellation)
    {
        int root = (await SendAsync("DOM.getDocument", [], cancellation))!["root"]!["nodeId"]!.GetValue<int>();
        int node = (await SendAsync("DOM.querySelector", new JsonObject { ["nodeId"] = root, ["selector"] = selector }, cancellation))!["nodeId"]!.GetValue<int>();
        await SendAsync("DOM.setFileInputFiles", new JsonObject { ["nodeId"] = node, ["files"] = new JsonArray([.. paths.Select(p => (JsonNode)p)]) }, cancellation);
    }

    /// <summary>
    /// Re-evaluates <paramref name="expression"/> (a string) until <paramref name="done"/> holds or the deadline passes;
    /// returns every distinct value seen, in order, for the failure message.
    /// </summary>
    public async Task<(bool Done, List<string?> Seen)> WaitForAsync(string expression, Func<string?, bool> done, TimeSpan deadline, CancellationToken cancellation)
    {
        var seen = new List<string?>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < deadline)
        {
            string? value = (await EvaluateAsync(expression, cancellation))?.GetValue<string>();
            if (seen.Count == 0 || seen[^1] != value)
            {
                seen.Add(value);
            }

            if (done(value))
            {
                return (true, seen);
            }

            await Task.Delay(100, cancellation); // polling interval of a bounded wait, not a condition
        }

        return (false, seen);
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // already gone
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // a child still writing; the temp folder is cleaned by the OS
        }
    }

    // Chromium writes the port it chose to DevToolsActivePort in the profile; then the page target's socket is found.
    private async Task ConnectAsync(CancellationToken cancellation)
    {
        string portFile = Path.Combine(_profile, "DevToolsActivePort");
        var clock = Stopwatch.StartNew();
        string[]? lines = null;
        while (lines is not { Length: >= 1 } || lines[0].Length == 0)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"chromium exited with code {_process.ExitCode} before opening its DevTools port");
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException("chromium did not open its DevTools port within 30 s");
            }

            await Task.Delay(50, cancellation);
            try
            {
                lines = File.Exists(portFile) ? await File.ReadAllLinesAsync(portFile, cancellation) : null;
            }
            catch (IOException)
            {
                lines = null; // being written
            }
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string? socketUrl = null;
        while (socketUrl is null)
        {
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{lines[0].Trim()}/json/list", cancellation))!.AsArray();
            socketUrl = targets.FirstOrDefault(t => t?["type"]?.GetValue<string>() == "page")?["webSocketDebuggerUrl"]?.GetValue<string>();
            if (socketUrl is null)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException("chromium has no page target");
                }

                await Task.Delay(50, cancellation);
            }
        }

        await _socket.ConnectAsync(new Uri(socketUrl), cancellation);
    }

    // One command at a time: send, then read messages (skipping events) until the answer with our id.
    private async Task<JsonNode?> SendAsync(string method, JsonObject parameters, CancellationToken cancellation)
    {
        int id = ++_nextId;
        byte[] message = Encoding.UTF8.GetBytes(new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters }.ToJsonString());
        await _socket.SendAsync(message, WebSocketMessageType.Text, true, cancellation);
        var buffer = new byte[64 << 10];
        while (true)
        {
            using var text = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, cancellation);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    throw new InvalidOperationException("chromium closed the DevTools connection");
                }

                text.Write(buffer, 0, received.Count);
            }
            while (!received.EndOfMessage);

            var node = JsonNode.Parse(text.ToArray());
            if (node?["id"]?.GetValue<int>() != id)
            {
                continue; // an event
            }

            return node["error"] is { } error ? throw new InvalidOperationException($"{method}: {error.ToJsonString()}") : node["result"];
        }
    }
}
