namespace InceptionNet.Server.Collections.Postgres;

/// <summary>
/// How much of the change log (<c>changes</c>) the writers keep. A change is deleted once it is older than
/// <see cref="Age"/> and not among the newest <see cref="Rows"/>; an instance's every <see cref="Every"/>-th write does
/// it, in its own transaction. An instance that was away longer than that reloads its collections instead of catching
/// up change by change, so the log only has to cover ordinary reconnects.
/// </summary>
public sealed record ChangeRetention
{
    /// <summary>Keeps the last hour and at least the newest 10,000 changes; pruned at every 100th write of an instance.</summary>
    public static ChangeRetention Default { get; } = new(TimeSpan.FromHours(1), 10_000, 100);

    /// <summary>Keeps changes younger than <paramref name="age"/> and the newest <paramref name="rows"/>; prunes at every <paramref name="every"/>-th write.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative age or row count, or <paramref name="every"/> below 1.</exception>
    public ChangeRetention(TimeSpan age, int rows, int every)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(age, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        Age = age;
        Rows = rows;
        Every = every;
    }

    /// <summary>Changes younger than this are kept.</summary>
    public TimeSpan Age { get; }

    /// <summary>The newest this many changes are kept, however old.</summary>
    public int Rows { get; }

    /// <summary>An instance prunes at every this many of its writes.</summary>
    public int Every { get; }
}
