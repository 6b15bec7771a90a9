using InceptionNet.Pipeline;

namespace InceptionNet.Server.Door;

/// <summary>
/// One <see cref="DoorVoter"/> per camera: keyed by collection and the session id the kiosk page makes up at start
/// (128 random bits), so a rule runs server-side in one place for every frame of that camera. At most
/// <paramref name="capacity"/> sessions are kept; beyond that the least recently used is dropped (its camera starts a
/// new vote). A voter made under an older rule is replaced when the collection's rule changes.
/// </summary>
internal sealed class DoorSessions(int capacity = 256)
{
    private readonly Dictionary<(string Collection, string Session), Entry> _sessions = [];
    private readonly Lock _lock = new();
    private long _tick;

    /// <summary>Sessions held (tests read it).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>Adds a frame to the session's voter (made under <paramref name="rule"/> if new or if the rule changed).</summary>
    public DoorDecision Observe(string collection, string session, DoorRule rule, DoorFrame frame)
    {
        lock (_lock)
        {
            var key = (collection, session);
            if (!_sessions.TryGetValue(key, out var entry) || entry.Voter.Rule != rule)
            {
                if (entry is null && _sessions.Count >= capacity)
                {
                    _sessions.Remove(_sessions.MinBy(s => s.Value.LastUsed).Key);
                }

                entry = new Entry(new DoorVoter(rule));
                _sessions[key] = entry;
            }

            entry.LastUsed = ++_tick;
            return entry.Voter.Observe(frame);
        }
    }

    private sealed class Entry(DoorVoter voter)
    {
        public DoorVoter Voter { get; } = voter;

        public long LastUsed { get; set; }
    }
}
