using System.Text.Json;
using InceptionNet.Server.Tests.Http;
using Xunit;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>
/// The enrollment page (/admin) in headless Chromium with an enroll key bound to the collection: upload photos, take
/// camera shots (a Y4M fake camera), see refusals with their reason, rename and remove people.
/// </summary>
public sealed class AdminBrowserTests(KioskFixture service) : IClassFixture<KioskFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [SkippableFact]
    public async Task Photos_are_uploaded_refused_with_the_reason_renamed_and_removed()
    {
        RequireBrowser();
        using var cancellation = new CancellationTokenSource(Deadline * 3);
        await using var browser = await Open(null, cancellation.Token);
        await Wait(browser, "document.querySelector('[data-testid=people]').textContent", t => t?.Contains("obama", StringComparison.Ordinal) == true, cancellation.Token);

        await Type(browser, "rose", cancellation.Token);
        await browser.SetFilesAsync("[data-testid=files]", Directory.GetFiles(ServiceFixture.Photo("train", "rose_leslie")).Order(StringComparer.Ordinal), cancellation.Token);
        await Click(browser, "[data-testid=upload]", cancellation.Token);
        await Wait(browser, Status, t => t == "2 of 2 photos enrolled for rose", cancellation.Token);
        Assert.Equal(2, await Photos("rose"));

        // Threshold: the model's default until calibrated; 2 people with 2 photos each are far too few for a FAR of 0.001.
        await Wait(browser, "document.querySelector('[data-testid=threshold]').textContent", t => t == "0.6000 (model default)", cancellation.Token);
        await Click(browser, "[data-testid=calibrate]", cancellation.Token);
        await Wait(browser, Status, t => t?.StartsWith("Calibration refused: ", StringComparison.Ordinal) == true, cancellation.Token);
        Assert.Contains("impostor pairs cannot measure a FAR of 0.001: that needs at least 1000",
            (await browser.EvaluateAsync(Status, cancellation.Token))!.GetValue<string>(), StringComparison.Ordinal);

        await Type(browser, "group", cancellation.Token);
        await browser.SetFilesAsync("[data-testid=files]", [ServiceFixture.Photo("two_people.jpg")], cancellation.Token);
        await Click(browser, "[data-testid=upload]", cancellation.Token);
        await Wait(browser, Status, t => t == "0 of 1 photos enrolled for group", cancellation.Token);
        string results = (await browser.EvaluateAsync("document.querySelector('[data-testid=results]').textContent", cancellation.Token))!.GetValue<string>();
        Assert.Contains("two_people.jpg: refused — 2 faces found", results, StringComparison.Ordinal);
        Assert.Null(await Photos("group"));

        await Type(browser, "leslie", cancellation.Token);
        await Click(browser, "tr[data-person=rose] button[data-action=rename]", cancellation.Token);
        await Wait(browser, Status, t => t == "Renamed rose to leslie", cancellation.Token);
        Assert.Null(await Photos("rose"));
        Assert.Equal(2, await Photos("leslie"));

        await Click(browser, "tr[data-person=leslie] button[data-action=remove]", cancellation.Token);
        await Wait(browser, Status, t => t == "Removed leslie", cancellation.Token);
        Assert.Null(await Photos("leslie"));
        Assert.Equal(2, await Photos("obama"));
    }

    [SkippableFact]
    public async Task Five_camera_shots_enroll_a_person_and_a_shot_with_two_people_is_refused_with_the_reason()
    {
        RequireBrowser();
        using var cancellation = new CancellationTokenSource(Deadline * 3);
        await using (var browser = await Open(KioskBrowserTests.Camera("test", "obama1.jpg"), cancellation.Token))
        {
            await Type(browser, "barack", cancellation.Token);
            await Click(browser, "[data-testid=shoot]", cancellation.Token);
            await Wait(browser, Status, t => t?.EndsWith("shots enrolled for barack", StringComparison.Ordinal) == true, cancellation.Token);
            Assert.Equal("5 of 5 shots enrolled for barack", (await browser.EvaluateAsync(Status, cancellation.Token))!.GetValue<string>());
            Assert.Equal(5, await Photos("barack"));
        }

        await using (var browser = await Open(KioskBrowserTests.Camera("two_people.jpg"), cancellation.Token))
        {
            await Type(browser, "pair", cancellation.Token);
            await Click(browser, "[data-testid=shoot]", cancellation.Token);
            await Wait(browser, Status, t => t?.EndsWith("shots enrolled for pair", StringComparison.Ordinal) == true, cancellation.Token);
            string results = (await browser.EvaluateAsync("document.querySelector('[data-testid=results]').textContent", cancellation.Token))!.GetValue<string>();
            Assert.Contains("shot 1: refused — 2 faces found", results, StringComparison.Ordinal);
            Assert.Null(await Photos("pair"));
        }
    }

    private const string Status = "document.querySelector('[data-testid=status]').textContent";

    private static void RequireBrowser()
    {
        string? why = HeadlessChromium.Unavailable;
        Skip.If(why is not null, why);
    }

    private async Task<HeadlessChromium> Open(string? camera, CancellationToken cancellation)
    {
        var browser = await HeadlessChromium.StartAsync(camera, cancellation);
        await browser.NavigateAsync($"{service.Host.Address}admin#collection=door&key={Uri.EscapeDataString(service.Keys["enroll"])}", cancellation);
        await Wait(browser, "document.readyState", t => t == "complete", cancellation);
        return browser;
    }

    private static async Task Wait(HeadlessChromium browser, string expression, Func<string?, bool> done, CancellationToken cancellation)
    {
        var (ok, seen) = await browser.WaitForAsync(expression, done, Deadline, cancellation);
        Assert.True(ok, $"{expression} showed: {string.Join(" → ", seen.Select(s => s ?? "(null)"))}");
    }

    private static async Task Type(HeadlessChromium browser, string name, CancellationToken cancellation) =>
        await browser.EvaluateAsync($"document.querySelector('[data-testid=name]').value = {JsonSerializer.Serialize(name)}", cancellation);

    private static async Task Click(HeadlessChromium browser, string selector, CancellationToken cancellation) =>
        await browser.EvaluateAsync($"document.querySelector({JsonSerializer.Serialize(selector)}).click()", cancellation);

    // The person's photo count through the API, or null when not enrolled.
    private async Task<int?> Photos(string person)
    {
        using var response = await service.Send(HttpMethod.Get, "/v1/collections/door/people", "admin");
        var people = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("people");
        return people.EnumerateArray().Where(p => p.GetProperty("name").GetString() == person).Select(p => (int?)p.GetProperty("photos").GetInt32()).FirstOrDefault();
    }
}
