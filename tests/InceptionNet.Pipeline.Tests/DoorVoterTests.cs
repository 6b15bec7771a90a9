using Xunit;

namespace InceptionNet.Pipeline.Tests;

/// <summary>The door rule on scripted frame sequences, 5 frames a second unless a test says otherwise.</summary>
public sealed class DoorVoterTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 14, 0, 0, TimeSpan.Zero);

    // One usable face (120 px, sharp) named `who` (null: unknown) at t seconds.
    private static DoorFrame Face(double t, string? who) => new(Start.AddSeconds(t), 1, 120, 50, who, who is null ? 0.8 : 0.4);

    private static DoorFrame Frame(double t, int faces, double side = 120, double sharpness = 50, string? who = null) =>
        new(Start.AddSeconds(t), faces, side, sharpness, who);

    private static List<DoorDecision> Run(DoorVoter voter, params DoorFrame[] frames) => [.. frames.Select(voter.Observe)];

    [Fact]
    public void Three_frames_of_the_same_person_open_once_and_the_cooldown_keeps_it_from_being_announced_again()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Face(0, "younes"), Face(0.2, "younes"), Face(0.4, "younes"), Face(0.6, "younes"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Welcome, DoorVerdict.Welcome], d.Select(x => x.Verdict));
        Assert.Equal([false, false, true, false], d.Select(x => x.Announce));
        Assert.Equal("Welcome in, younes!", d[2].Message);
        Assert.Equal(3, d[2].Votes);

        // Still welcomed while in view, announced again only once the cool-down (30 s) has passed.
        var within = Run(voter, Face(28.6, "younes"), Face(28.8, "younes"), Face(29, "younes"));
        Assert.Equal(DoorVerdict.Welcome, within[2].Verdict);
        Assert.False(within[2].Announce);
        var late = Run(voter, Face(40, "younes"), Face(40.2, "younes"), Face(40.4, "younes"));
        Assert.Equal([false, false, true], late.Select(x => x.Announce));
    }

    [Fact]
    public void Flicker_between_two_names_opens_for_the_one_with_three_of_five_and_never_for_the_other()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Face(0, "younes"), Face(0.2, "sara"), Face(0.4, "younes"), Face(0.6, "sara"), Face(0.8, "younes"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Welcome], d.Select(x => x.Verdict));
        Assert.Equal("younes", d[4].Identity);
        Assert.DoesNotContain(d, x => x.Identity == "sara");

        // younes, unknown, younes, unknown, sara, ...: no one reaches 3 of the last 5.
        var flicker = new DoorVoter(new DoorRule());
        var f = Run(flicker, Face(0, "younes"), Face(0.2, null), Face(0.4, "younes"), Face(0.6, null), Face(0.8, "sara"), Face(1.0, "sara"), Face(1.2, "younes"));
        Assert.All(f, x => Assert.Equal(DoorVerdict.Verifying, x.Verdict));
    }

    [Fact]
    public void Two_people_in_view_never_vote_so_the_door_stays_shut()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Face(0, "younes"), Face(0.2, "younes"), Frame(0.4, 2, who: "younes"), Frame(0.6, 2, who: "younes"), Frame(0.8, 2, who: "younes"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.TooManyPeople, DoorVerdict.TooManyPeople, DoorVerdict.TooManyPeople], d.Select(x => x.Verdict));
        Assert.Equal("Only one person at a time, please", d[2].Message);

        // Alone again: the window (last 5 frames) still holds the crowded ones, so it takes three clear frames to open.
        var after = Run(voter, Face(1.0, "younes"), Face(1.2, "younes"), Face(1.4, "younes"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Welcome], after.Select(x => x.Verdict));
    }

    [Fact]
    public void A_face_too_small_or_too_blurry_does_not_vote_and_says_why()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Frame(0, 1, side: 79, who: "younes"), Frame(0.2, 1, side: 60, who: "younes"), Frame(0.4, 1, sharpness: 9.9, who: "younes"),
            Frame(0.6, 1, side: 80, who: "younes"));
        Assert.Equal([DoorVerdict.TooSmall, DoorVerdict.TooSmall, DoorVerdict.Blurry, DoorVerdict.Verifying], d.Select(x => x.Verdict));
        Assert.Equal("Come closer", d[0].Message);
        Assert.Equal("Hold still", d[2].Message);
        Assert.Equal(1, d[3].Votes); // exactly 80 px votes; the small and blurry frames did not
    }

    [Fact]
    public void A_person_leaving_mid_vote_leaves_no_votes_behind_for_later()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Face(0, "younes"), Face(0.2, "younes"), Frame(0.4, 0), Frame(0.6, 0), Frame(0.8, 0), Frame(1.0, 0), Face(1.2, "younes"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.NoFace, DoorVerdict.NoFace, DoorVerdict.NoFace, DoorVerdict.NoFace, DoorVerdict.Verifying],
            d.Select(x => x.Verdict));
        Assert.Equal("Look at the camera", d[2].Message);
        Assert.Equal(1, d[6].Votes); // the two early votes fell out of the last 5 frames

        // Back after 2 s (the window): the old votes are too old, whatever the frame count.
        var slow = new DoorVoter(new DoorRule());
        var s = Run(slow, Face(0, "younes"), Face(0.2, "younes"), Face(2.5, "younes"), Face(2.7, "younes"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Verifying], s.Select(x => x.Verdict));
        Assert.Equal(DoorVerdict.Welcome, slow.Observe(Face(2.9, "younes")).Verdict);
    }

    [Fact]
    public void Someone_else_stepping_in_mid_vote_is_not_welcomed_on_the_first_persons_votes()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Face(0, "younes"), Face(0.2, "younes"), Face(0.4, "sara"), Face(0.6, "sara"), Face(0.8, "sara"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.Welcome], d.Select(x => x.Verdict));
        Assert.Equal("sara", d[4].Identity);
    }

    [Fact]
    public void Unknown_faces_need_the_votes_too_and_are_announced_once_per_cooldown()
    {
        var voter = new DoorVoter(new DoorRule { CooldownSeconds = 5 });
        var d = Run(voter, Face(0, null), Face(0.2, null), Face(0.4, null), Face(0.6, null), Face(6, null), Face(6.2, null), Face(6.4, null));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.NotRecognized, DoorVerdict.NotRecognized, DoorVerdict.Verifying, DoorVerdict.Verifying, DoorVerdict.NotRecognized],
            d.Select(x => x.Verdict));
        Assert.Equal([false, false, true, false, false, false, true], d.Select(x => x.Announce));
        Assert.Equal("Not in the database", d[2].Message);
        Assert.Null(d[2].Identity);
    }

    [Fact]
    public void Every_parameter_changes_the_rule()
    {
        // 2 of 3 within 1 s, 40 px faces, sharpness 0, no cool-down.
        var voter = new DoorVoter(new DoorRule { Votes = 2, Window = 3, WindowSeconds = 1, MinFaceSide = 40, MinSharpness = 0, CooldownSeconds = 0 });
        var d = Run(voter, Frame(0, 1, side: 40, sharpness: 0, who: "a"), Frame(0.1, 1, side: 40, sharpness: 0, who: "a"), Frame(0.2, 1, side: 40, sharpness: 0, who: "a"));
        Assert.Equal([DoorVerdict.Verifying, DoorVerdict.Welcome, DoorVerdict.Welcome], d.Select(x => x.Verdict));
        Assert.Equal([false, true, true], d.Select(x => x.Announce));
    }

    [Fact]
    public void A_frame_out_of_order_counts_as_simultaneous_and_does_not_revive_old_votes()
    {
        var voter = new DoorVoter(new DoorRule());
        var d = Run(voter, Face(5, "a"), Face(0, "a"), Face(0, "a"));
        Assert.Equal(DoorVerdict.Welcome, d[2].Verdict);
    }

    [Theory]
    [InlineData(0, 5, 2, 80, 10, 30, "votes must be 1 to window")]
    [InlineData(6, 5, 2, 80, 10, 30, "votes must be 1 to window")]
    [InlineData(3, 0, 2, 80, 10, 30, "window must be 1 to 100")]
    [InlineData(3, 5, 0, 80, 10, 30, "window_seconds")]
    [InlineData(3, 5, double.NaN, 80, 10, 30, "window_seconds")]
    [InlineData(3, 5, 2, -1, 10, 30, "min_face_side")]
    [InlineData(3, 5, 2, 80, -1, 30, "min_sharpness")]
    [InlineData(3, 5, 2, 80, 10, double.PositiveInfinity, "cooldown_seconds")]
    public void A_bad_rule_is_refused_naming_the_field(int votes, int window, double seconds, int side, double sharpness, double cooldown, string expected)
    {
        var rule = new DoorRule { Votes = votes, Window = window, WindowSeconds = seconds, MinFaceSide = side, MinSharpness = sharpness, CooldownSeconds = cooldown };
        Assert.Contains(expected, rule.Problem(), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new DoorVoter(rule));
    }
}
