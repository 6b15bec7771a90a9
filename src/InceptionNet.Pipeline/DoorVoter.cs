using System.Globalization;

namespace InceptionNet.Pipeline;

/// <summary>
/// When the door opens: the rule the kiosk page (through <c>POST /v1/collections/{c}/door</c>), <c>watch DIR</c> and
/// any other caller share. Every field has the documented default and can be set per collection.
/// </summary>
public sealed record DoorRule
{
    /// <summary>Frames that must name the same person for the door to open (default 3).</summary>
    public int Votes { get; init; } = 3;

    /// <summary>How many of the latest frames are looked at (default 5).</summary>
    public int Window { get; init; } = 5;

    /// <summary>Frames older than this (seconds before the newest) do not count (default 2).</summary>
    public double WindowSeconds { get; init; } = 2;

    /// <summary>A voting face's box is at least this many pixels on its shorter side (default 80).</summary>
    public int MinFaceSide { get; init; } = 80;

    /// <summary>A voting face chip's variance of the Laplacian (<see cref="FaceQuality.Sharpness"/>) is at least this (default 10, as enroll).</summary>
    public double MinSharpness { get; init; } = 10;

    /// <summary>After an announcement, the same person (or "unknown") is not announced again for this many seconds (default 30).</summary>
    public double CooldownSeconds { get; init; } = 30;

    /// <summary>What is wrong with the rule (naming the field), or null when it is usable.</summary>
    public string? Problem()
    {
        if (Window is < 1 or > 100)
        {
            return $"window must be 1 to 100 frames, not {Window}";
        }

        if (Votes < 1 || Votes > Window)
        {
            return $"votes must be 1 to window ({Window}), not {Votes}";
        }

        if (!double.IsFinite(WindowSeconds) || WindowSeconds <= 0 || WindowSeconds > 600)
        {
            return string.Create(CultureInfo.InvariantCulture, $"window_seconds must be over 0 and at most 600, not {WindowSeconds}");
        }

        if (MinFaceSide is < 0 or > 10_000)
        {
            return $"min_face_side must be 0 to 10000 pixels, not {MinFaceSide}";
        }

        if (!double.IsFinite(MinSharpness) || MinSharpness < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"min_sharpness must be 0 or more, not {MinSharpness}");
        }

        return !double.IsFinite(CooldownSeconds) || CooldownSeconds < 0 || CooldownSeconds > 86_400
            ? string.Create(CultureInfo.InvariantCulture, $"cooldown_seconds must be 0 to 86400, not {CooldownSeconds}")
            : null;
    }

    /// <summary>
    /// Whether a frame can vote before any face is encoded: null when it has exactly one face that is big and sharp
    /// enough, else the verdict it gets. <paramref name="sharpness"/> is only read when the size passes.
    /// </summary>
    public DoorVerdict? Screen(int faces, double faceSide, Func<double> sharpness)
    {
        ArgumentNullException.ThrowIfNull(sharpness);
        return faces switch
        {
            0 => DoorVerdict.NoFace,
            > 1 => DoorVerdict.TooManyPeople,
            _ when faceSide < MinFaceSide => DoorVerdict.TooSmall,
            _ when sharpness() < MinSharpness => DoorVerdict.Blurry,
            _ => null,
        };
    }
}

/// <summary>What the door says about the latest frame.</summary>
public enum DoorVerdict
{
    /// <summary>Nobody in view.</summary>
    NoFace,

    /// <summary>More than one face in view: nobody votes.</summary>
    TooManyPeople,

    /// <summary>The face is under <see cref="DoorRule.MinFaceSide"/>.</summary>
    TooSmall,

    /// <summary>The face is under <see cref="DoorRule.MinSharpness"/>.</summary>
    Blurry,

    /// <summary>A usable face, but no one (nor "unknown") has the votes yet.</summary>
    Verifying,

    /// <summary>The same person has the votes: the door opens.</summary>
    Welcome,

    /// <summary>Usable faces that match no one have the votes.</summary>
    NotRecognized,
}

/// <summary>One camera frame as the voter sees it.</summary>
/// <param name="At">When it was taken (or received).</param>
/// <param name="Faces">Faces detected.</param>
/// <param name="FaceSide">The face's shorter side in pixels (<see cref="FaceQuality.Side"/>), when there is one face.</param>
/// <param name="Sharpness">Its chip's <see cref="FaceQuality.Sharpness"/>.</param>
/// <param name="Identity">The person it was accepted as (under the threshold, with the ambiguity margin), or null.</param>
/// <param name="Distance">The distance to the nearest person, when the face was compared.</param>
public sealed record DoorFrame(DateTimeOffset At, int Faces, double FaceSide, double Sharpness, string? Identity, double? Distance = null);

/// <summary>The door's answer to a frame.</summary>
/// <param name="Verdict">What the frame and the ones before it say.</param>
/// <param name="Identity">Who is welcomed (for <see cref="DoorVerdict.Welcome"/>).</param>
/// <param name="Votes">Frames in the window agreeing with this frame's face (0 when it cannot vote).</param>
/// <param name="Announce">True once per person (or per unknown face) and cool-down: open the door, send the event.</param>
/// <param name="Distance">This frame's distance, when compared.</param>
public sealed record DoorDecision(DoorVerdict Verdict, string? Identity, int Votes, bool Announce, double? Distance)
{
    /// <summary>The line the kiosk shows.</summary>
    public string Message => Verdict switch
    {
        DoorVerdict.Welcome => $"Welcome in, {Identity}!",
        DoorVerdict.NotRecognized => "Not in the database",
        DoorVerdict.TooSmall => "Come closer",
        DoorVerdict.TooManyPeople => "Only one person at a time, please",
        DoorVerdict.Blurry or DoorVerdict.Verifying => "Hold still",
        _ => "Look at the camera",
    };

    /// <summary>The verdict as the API writes it: welcome, not_recognized, too_small, too_many_people, blurry, verifying, no_face.</summary>
    public string Code => Verdict switch
    {
        DoorVerdict.Welcome => "welcome",
        DoorVerdict.NotRecognized => "not_recognized",
        DoorVerdict.TooSmall => "too_small",
        DoorVerdict.TooManyPeople => "too_many_people",
        DoorVerdict.Blurry => "blurry",
        DoorVerdict.Verifying => "verifying",
        _ => "no_face",
    };
}

/// <summary>
/// The multi-frame door decision for one camera: open only when <see cref="DoorRule.Votes"/> of the last
/// <see cref="DoorRule.Window"/> frames within <see cref="DoorRule.WindowSeconds"/> name the same person, each of them
/// accepted with exactly one face in view that is big and sharp enough; a frame that cannot vote (no face, several,
/// too small, blurry) still takes its place in the window. The same person is announced once per cool-down.
/// </summary>
/// <remarks>
/// Pure: time comes only from the frames (a frame older than the one before it is taken as simultaneous), so the rule is
/// tested on scripted sequences. Not thread-safe: one voter per camera, called by one caller at a time.
/// </remarks>
public sealed class DoorVoter
{
    // A frame's vote: a person's name, Unknown for a usable face that matched no one, null for a frame that cannot vote.
    private const string Unknown = "\0unknown";
    private readonly Queue<(DateTimeOffset At, string? Vote)> _frames = new();
    private readonly Dictionary<string, DateTimeOffset> _announced = new(StringComparer.Ordinal);
    private DateTimeOffset _last = DateTimeOffset.MinValue;

    /// <summary>A voter with <paramref name="rule"/>.</summary>
    /// <exception cref="ArgumentException">The rule is not usable (<see cref="DoorRule.Problem"/>).</exception>
    public DoorVoter(DoorRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        Rule = rule.Problem() is { } problem ? throw new ArgumentException(problem, nameof(rule)) : rule;
    }

    /// <summary>The rule in force.</summary>
    public DoorRule Rule { get; }

    /// <summary>Adds a frame and says what the door does.</summary>
    public DoorDecision Observe(DoorFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var now = frame.At > _last ? frame.At : _last;
        _last = now;
        var screened = Rule.Screen(frame.Faces, frame.FaceSide, () => frame.Sharpness);
        string? vote = screened is null ? frame.Identity ?? Unknown : null;
        _frames.Enqueue((now, vote));
        var oldest = now - TimeSpan.FromSeconds(Rule.WindowSeconds);
        while (_frames.Count > Rule.Window || _frames.Peek().At < oldest)
        {
            _frames.Dequeue();
        }

        if (screened is { } verdict)
        {
            return new DoorDecision(verdict, null, 0, false, frame.Distance);
        }

        int votes = _frames.Count(f => f.Vote == vote);
        if (votes < Rule.Votes)
        {
            return new DoorDecision(DoorVerdict.Verifying, null, votes, false, frame.Distance);
        }

        bool announce = !_announced.TryGetValue(vote!, out var at) || (now - at).TotalSeconds >= Rule.CooldownSeconds;
        if (announce)
        {
            _announced[vote!] = now;
        }

        return vote == Unknown
            ? new DoorDecision(DoorVerdict.NotRecognized, null, votes, announce, frame.Distance)
            : new DoorDecision(DoorVerdict.Welcome, vote, votes, announce, frame.Distance);
    }
}
