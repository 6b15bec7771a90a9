namespace InceptionNet.Server.Audit;

/// <summary>What <see cref="AuditLog.Verify"/> found.</summary>
/// <param name="LinesChecked">Lines whose chain link held (all of them when <see cref="Intact"/>; the ones before <see cref="BrokenLine"/> otherwise).</param>
/// <param name="BrokenLine">The first line that breaks the chain (1-based), or null when the log is intact.</param>
/// <param name="Problem">Why that line breaks it, or null.</param>
/// <param name="LastHash">
/// SHA-256 (lowercase hex) of the last line that checked, 64 zeros for an empty log. The chain cannot show that lines were
/// cut from the end or that the very last line was edited: keep this value elsewhere (a ticket, another machine) and
/// compare it later to anchor the tail.
/// </param>
public sealed record AuditVerification(long LinesChecked, long? BrokenLine, string? Problem, string LastHash)
{
    /// <summary>Whether every line checked and the file ends with a complete line.</summary>
    public bool Intact => BrokenLine is null;
}
