namespace InceptionNet.Server.Security;

/// <summary>
/// An API key as the service sees it: never its secret nor its hash (those stay inside <see cref="ApiKeyStore"/>), so a
/// record can be listed, logged or returned by an admin endpoint without leaking anything.
/// </summary>
/// <param name="Id">Public id (16 lowercase hex digits), the part of the key between <c>inet_</c> and the secret; the audit log's key id.</param>
/// <param name="Name">Who or what holds it (e.g. <c>lobby kiosk</c>).</param>
/// <param name="Scope">What it may do.</param>
/// <param name="Collection">The one collection it may read or change, or null for all.</param>
/// <param name="CreatedUtc">When it was created.</param>
/// <param name="RevokedUtc">When it was revoked, or null while it is valid.</param>
public sealed record ApiKeyRecord(string Id, string Name, ApiScope Scope, string? Collection, DateTimeOffset CreatedUtc, DateTimeOffset? RevokedUtc)
{
    /// <summary>Whether the key has been revoked (it no longer authenticates).</summary>
    public bool IsRevoked => RevokedUtc is not null;
}
