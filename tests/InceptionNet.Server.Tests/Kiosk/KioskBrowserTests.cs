using System.Text.Json;
using InceptionNet.Server.Http;
using InceptionNet.Server.Security;
using Xunit;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>
/// The kiosk page in a real browser (Debian's headless Chromium) with a fake camera playing a Y4M made from a shared
/// photo, against the real service and model, with the default door rule. Skipped, with the reason, where
/// /usr/bin/chromium is missing — except in CI (CI=true), where that fails.
/// </summary>
public sealed class KioskBrowserTests(KioskFixture service) : IClassFixture<KioskFixture>
{
    private const string Decision = "document.querySelector('[data-testid=decision]').textContent";
    private const string State = "document.querySelector('[data-testid=decision]').dataset.state";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120); // a loaded 2-core CI VM; the waits end when the condition holds

    [SkippableFact]
    public async Task An_enrolled_person_on_camera_is_welcomed_by_name()
    {
        RequireBrowser();
        int before = File.ReadLines(service.AuditPath).Count();
        await Expect(Camera("test", "obama1.jpg"), service.Keys["kiosk"], text => text == "Welcome in, obama!");
        Assert.Contains(File.ReadLines(service.AuditPath), l => l.Contains("\"door_open\"", StringComparison.Ordinal) && l.Contains("\"obama\"", StringComparison.Ordinal));

        // From the audit lines of this page's frames: each arrived after the one before was answered (one request in
        // flight), at no more than 5 a second.
        var frames = File.ReadLines(service.AuditPath).Skip(before).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(l => l.GetProperty("route").GetString() == "POST /v1/collections/{c}/door")
            .Select(l => (At: DateTimeOffset.Parse(l.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture), Ms: l.GetProperty("latency_ms").GetDouble()))
            .ToList();
        Assert.True(frames.Count >= 3, $"{frames.Count} door frames");
        for (int i = 1; i < frames.Count; i++)
        {
            Assert.True(frames[i].At >= frames[i - 1].At.AddMilliseconds(frames[i - 1].Ms), $"frame {i} arrived while frame {i - 1} was in flight");
        }

        double perSecond = (frames.Count - 1) / (frames[^1].At - frames[0].At).TotalSeconds;
        Assert.True(perSecond <= 5, $"{perSecond:F1} frames a second");
    }

    [SkippableFact]
    public async Task A_server_without_its_model_and_then_gone_shows_door_not_available_then_server_unreachable()
    {
        RequireBrowser();
        string folder = Directory.CreateTempSubdirectory("inet-kiosk-down-").FullName;
        try
        {
            string keysPath = Path.Combine(folder, "keys.json");
            string key = ApiKeyStore.Open(keysPath).Add("tablet", ApiScope.Kiosk).Key;
            var options = new ServeOptions { Listen = "127.0.0.1:0", DataDirectory = Path.Combine(folder, "data"), KeysPath = keysPath };
            var host = await ServiceHost.StartAsync(options, () => throw new InvalidOperationException("no model in this test"), TextWriter.Null);
            using var cancellation = new CancellationTokenSource(Deadline * 2);
            await using var browser = await HeadlessChromium.StartAsync(Camera("test", "obama1.jpg"), cancellation.Token);
            await browser.NavigateAsync($"{host.Address}kiosk#collection=door&key={key}", cancellation.Token);
            var (loading, seen) = await browser.WaitForAsync(Decision, t => t == "Door not available", Deadline, cancellation.Token);
            Assert.True(loading, string.Join(" → ", seen));
            await host.DisposeAsync();
            var (gone, after) = await browser.WaitForAsync(Decision, t => t == "Server unreachable", Deadline, cancellation.Token);
            Assert.True(gone, string.Join(" → ", after));
            Assert.Equal("offline", (await browser.EvaluateAsync(State, cancellation.Token))?.GetValue<string>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public async Task A_stranger_on_camera_is_not_in_the_database()
    {
        RequireBrowser();
        await Expect(Camera("test", "alex_lacamoire1.jpg"), service.Keys["kiosk"], text => text == "Not in the database", mustNotSee: "Welcome");
    }

    [SkippableFact]
    public async Task No_camera_shows_camera_unavailable()
    {
        RequireBrowser();
        await Expect(null, service.Keys["kiosk"], text => text == "Camera unavailable");
    }

    [SkippableFact]
    public async Task A_refused_key_shows_the_refused_state_and_the_key_is_in_no_log()
    {
        RequireBrowser();
        string wrong = "inet_0123456789abcdef_" + new string('x', 43);
        await Expect(Camera("test", "obama1.jpg"), wrong, text => text == "Kiosk key refused", state: "refused");

        // The right key was used by the other tests of this class and this one's wrong key just now: neither is in the
        // server's log or its audit lines (the key goes in a header, the fragment never leaves the browser).
        await Expect(Camera("test", "obama1.jpg"), service.Keys["kiosk"], text => text is "Welcome in, obama!");
        string audit = File.ReadAllText(service.AuditPath);
        foreach (string key in new[] { wrong, service.Keys["kiosk"] })
        {
            // After "inet_" + 16 hex digits + "_"; the base64url secret may itself hold '_'.
            string secret = key["inet_0123456789abcdef_".Length..];
            Assert.Equal(43, secret.Length);
            Assert.DoesNotContain(secret, audit, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, service.Log, StringComparison.Ordinal);
        }

        Assert.Contains("/door", audit, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_page_and_its_files_are_served_with_a_strict_policy_and_no_key_in_any_url()
    {
        RequireBrowser();
        foreach (string path in new[] { "/kiosk", "/ui/kiosk.js", "/ui/kiosk.css", "/admin" })
        {
            using var response = await service.Client.GetAsync(path);
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        using var missing = await service.Client.GetAsync("/ui/keys.json");
        Assert.Equal(404, (int)missing.StatusCode);
    }

    private static void RequireBrowser()
    {
        string? why = HeadlessChromium.Unavailable;
        Skip.If(why is not null, why);
    }

    // A fake camera playing `photo` (a Y4M written next to the test's temp files).
    internal static string Camera(params string[] photo)
    {
        string path = Path.Combine(Path.GetTempPath(), $"inet-kiosk-{string.Join('-', photo)}.y4m");
        if (!File.Exists(path))
        {
            Y4mWriter.Write(path + ".part", Http.ServiceFixture.Photo(photo));
            File.Move(path + ".part", path, overwrite: true);
        }

        return path;
    }

    private async Task Expect(string? camera, string key, Func<string?, bool> done, string? state = null, string? mustNotSee = null)
    {
        using var cancellation = new CancellationTokenSource(Deadline + TimeSpan.FromSeconds(30));
        await using var browser = await HeadlessChromium.StartAsync(camera, cancellation.Token);
        await browser.NavigateAsync($"{service.Host.Address}kiosk#collection=door&key={Uri.EscapeDataString(key)}", cancellation.Token);
        var (ok, seen) = await browser.WaitForAsync(Decision, done, Deadline, cancellation.Token);
        Assert.True(ok, $"the kiosk showed: {string.Join(" → ", seen.Select(s => s ?? "(no page)"))}");
        if (state is not null)
        {
            Assert.Equal(state, (await browser.EvaluateAsync(State, cancellation.Token))?.GetValue<string>());
        }

        if (mustNotSee is not null)
        {
            Assert.DoesNotContain(seen, s => s?.Contains(mustNotSee, StringComparison.Ordinal) == true);
        }
    }
}
