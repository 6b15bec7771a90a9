using System.Text.Json.Serialization;
using InceptionNet.Pipeline;

namespace InceptionNet.Server.Door;

/// <summary>
/// A collection's door rule as JSON: the body of <c>PUT /v1/collections/{c}/door/settings</c>, its answer, and the side
/// file <c>DATA/NAME.door.json</c>. A field left out takes <see cref="DoorRule"/>'s default.
/// </summary>
/// <param name="Votes">Frames that must name the same person (default 3).</param>
/// <param name="Window">How many of the latest frames are looked at (default 5).</param>
/// <param name="WindowSeconds">Frames older than this many seconds do not count (default 2).</param>
/// <param name="MinFaceSide">Smallest face, shorter side in pixels (default 80).</param>
/// <param name="MinSharpness">Least variance of the Laplacian of the face chip (default 10).</param>
/// <param name="CooldownSeconds">Seconds before the same person (or an unknown face) is announced again (default 30).</param>
public sealed record DoorSettingsJson(int? Votes, int? Window, double? WindowSeconds, int? MinFaceSide, double? MinSharpness, double? CooldownSeconds)
{
    /// <summary>The rule these settings make (defaults for the fields left out).</summary>
    public DoorRule ToRule()
    {
        var d = new DoorRule();
        return new DoorRule
        {
            Votes = Votes ?? d.Votes,
            Window = Window ?? d.Window,
            WindowSeconds = WindowSeconds ?? d.WindowSeconds,
            MinFaceSide = MinFaceSide ?? d.MinFaceSide,
            MinSharpness = MinSharpness ?? d.MinSharpness,
            CooldownSeconds = CooldownSeconds ?? d.CooldownSeconds,
        };
    }

    /// <summary>
    /// Reads door settings (the side file, or <c>watch --door-settings</c>) strictly: an unknown field or a bad value is
    /// an error naming it.
    /// </summary>
    /// <exception cref="FormatException">Not JSON door settings, or a value out of range.</exception>
    public static DoorRule ParseRule(ReadOnlySpan<byte> json)
    {
        DoorSettingsJson settings;
        try
        {
            settings = System.Text.Json.JsonSerializer.Deserialize(json, DoorSettingsJsonContext.Default.DoorSettingsJson) ?? throw new FormatException("null is not door settings");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new FormatException($"not door settings: {ex.Message}", ex);
        }

        var rule = settings.ToRule();
        return rule.Problem() is { } problem ? throw new FormatException(problem) : rule;
    }

    /// <summary>Every field of <paramref name="rule"/>.</summary>
    public static DoorSettingsJson From(DoorRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return new(rule.Votes, rule.Window, rule.WindowSeconds, rule.MinFaceSide, rule.MinSharpness, rule.CooldownSeconds);
    }
}

/// <summary>The answer to <c>POST /v1/collections/{c}/door</c>: what the door says after this frame.</summary>
/// <param name="Decision">welcome, not_recognized, too_small, too_many_people, blurry, verifying or no_face.</param>
/// <param name="Message">The line the kiosk shows (e.g. <c>Welcome in, younes!</c>).</param>
/// <param name="Identity">Who is welcomed (welcome only).</param>
/// <param name="Distance">This frame's distance to the nearest person, when its face was compared.</param>
/// <param name="Votes">Frames in the window agreeing with this one.</param>
/// <param name="Opened">True once per person and cool-down: the door opens and the event is sent.</param>
/// <param name="Boxes">Every face found, [x1, y1, x2, y2] in the frame, largest first.</param>
/// <param name="LatencyMs">Time spent in the service.</param>
public sealed record DoorResponse(string Decision, string Message, string? Identity, double? Distance, int Votes, bool Opened, IReadOnlyList<double[]> Boxes, double LatencyMs);

/// <summary>A collection's door settings.</summary>
/// <param name="Collection">The collection.</param>
/// <param name="Settings">Every field of its rule.</param>
public sealed record DoorSettingsResponse(string Collection, DoorSettingsJson Settings);

/// <summary>A collection's decision threshold (GET /v1/collections/{c}/threshold).</summary>
/// <param name="Collection">The collection.</param>
/// <param name="Threshold">The threshold in force.</param>
/// <param name="Calibrated">Whether it was calibrated and stored (else the model's default).</param>
/// <param name="ModelDefault">The model's default threshold.</param>
public sealed record ThresholdResponse(string Collection, double Threshold, bool Calibrated, double ModelDefault);

/// <summary>The answer to POST /v1/collections/{c}/calibrate?far=F, calibrated on the collection's own photos.</summary>
/// <param name="Stored">Whether the proposed threshold was stored.</param>
/// <param name="Threshold">The threshold now in force.</param>
/// <param name="ProposedThreshold">The largest threshold meeting the target FAR on these pairs.</param>
/// <param name="TargetFar">The target false accept rate.</param>
/// <param name="GenuinePairs">Same-person pairs of photos.</param>
/// <param name="ImpostorPairs">Different-person pairs.</param>
/// <param name="Refusal">Why nothing was stored (too few pairs to measure the FAR, or a loosening past the closest impostor).</param>
public sealed record CalibrateResponse(bool Stored, double Threshold, double ProposedThreshold, double TargetFar, int GenuinePairs, int ImpostorPairs, string? Refusal);

/// <summary>Strict reading of door settings: an unknown field is an error (a typo must not silently keep a default).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowDuplicateProperties = false, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(DoorSettingsJson))]
internal sealed partial class DoorSettingsJsonContext : JsonSerializerContext;
