namespace InceptionNet.Server.Audit;

/// <summary>
/// One audited request. Never holds a key or a face vector: the key is named by its public id, the face by the identity
/// it matched. Null where a field does not apply (no collection for <c>/v1/detect</c>, no distance for a denied call).
/// Text fields longer than <see cref="AuditLog.MaxFieldLength"/> characters are cut to that length, ending in <c>…</c>.
/// </summary>
/// <param name="Time">When the request arrived (written as UTC ISO-8601 with 100 ns digits).</param>
/// <param name="KeyId">The public id of the API key used, or null for an unauthenticated request. A whole key (<c>inet_&lt;id&gt;_&lt;secret&gt;</c>) given by mistake is cut to its id.</param>
/// <param name="Client">The client's address.</param>
/// <param name="Route">The route (e.g. <c>POST /v1/collections/{collection}/identify</c>).</param>
/// <param name="Collection">The collection read or changed.</param>
/// <param name="Decision">What happened (e.g. <c>accepted</c>, <c>rejected</c>, <c>denied</c>, <c>error</c>).</param>
/// <param name="Identity">The identity claimed, matched or enrolled.</param>
/// <param name="Distance">The distance behind the decision; must be finite.</param>
/// <param name="LatencyMs">How long the request took, in milliseconds; must be finite.</param>
public sealed record AuditEntry(
    DateTimeOffset Time,
    string? KeyId,
    string? Client,
    string Route,
    string? Collection,
    string Decision,
    string? Identity,
    double? Distance,
    double? LatencyMs);
