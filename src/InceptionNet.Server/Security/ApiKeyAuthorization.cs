namespace InceptionNet.Server.Security;

/// <summary>The one rule deciding what an authenticated key may do.</summary>
public static class ApiKeyAuthorization
{
    /// <summary>
    /// Whether <paramref name="key"/> may make a call that needs <paramref name="required"/> on <paramref name="collection"/>
    /// (null: a call without a collection, such as <c>/v1/detect</c>). A revoked key may do nothing; a key's scope must be
    /// at least the required one; a key bound to a collection may touch only that collection (ordinal comparison), while
    /// calls without a collection stay open to its scope.
    /// </summary>
    public static bool Allows(ApiKeyRecord key, ApiScope required, string? collection)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.IsRevoked || !Enum.IsDefined(required) || key.Scope < required)
        {
            return false;
        }

        return key.Collection is null || collection is null || string.Equals(key.Collection, collection, StringComparison.Ordinal);
    }
}
