using InceptionNet.Server.Security;
using Xunit;

namespace InceptionNet.Server.Tests;

public sealed class ApiKeyAuthorizationTests
{
    private static ApiKeyRecord Key(ApiScope scope, string? collection = null, bool revoked = false) =>
        new("0123456789abcdef", "k", scope, collection, DateTimeOffset.UnixEpoch, revoked ? DateTimeOffset.UnixEpoch : null);

    [Theory]
    [InlineData(ApiScope.Admin, ApiScope.Admin, true)]
    [InlineData(ApiScope.Admin, ApiScope.Enroll, true)]
    [InlineData(ApiScope.Admin, ApiScope.Kiosk, true)]
    [InlineData(ApiScope.Enroll, ApiScope.Admin, false)]
    [InlineData(ApiScope.Enroll, ApiScope.Enroll, true)]
    [InlineData(ApiScope.Enroll, ApiScope.Kiosk, true)]
    [InlineData(ApiScope.Kiosk, ApiScope.Admin, false)]
    [InlineData(ApiScope.Kiosk, ApiScope.Enroll, false)]
    [InlineData(ApiScope.Kiosk, ApiScope.Kiosk, true)]
    public void Each_scope_includes_the_ones_below_it(ApiScope held, ApiScope required, bool allowed)
    {
        Assert.Equal(allowed, ApiKeyAuthorization.Allows(Key(held), required, "staff"));
        Assert.Equal(allowed, ApiKeyAuthorization.Allows(Key(held), required, null));
    }

    [Fact]
    public void A_bound_key_touches_only_its_collection_but_keeps_calls_without_one()
    {
        var kiosk = Key(ApiScope.Kiosk, "staff");
        Assert.True(ApiKeyAuthorization.Allows(kiosk, ApiScope.Kiosk, "staff"));
        Assert.False(ApiKeyAuthorization.Allows(kiosk, ApiScope.Kiosk, "visitors"));
        Assert.False(ApiKeyAuthorization.Allows(kiosk, ApiScope.Kiosk, "Staff"));
        Assert.False(ApiKeyAuthorization.Allows(kiosk, ApiScope.Kiosk, "staff "));
        Assert.True(ApiKeyAuthorization.Allows(kiosk, ApiScope.Kiosk, null));
        Assert.False(ApiKeyAuthorization.Allows(kiosk, ApiScope.Enroll, "staff"));

        var enroll = Key(ApiScope.Enroll, "staff");
        Assert.True(ApiKeyAuthorization.Allows(enroll, ApiScope.Enroll, "staff"));
        Assert.False(ApiKeyAuthorization.Allows(enroll, ApiScope.Enroll, "visitors"));
        Assert.True(ApiKeyAuthorization.Allows(Key(ApiScope.Enroll), ApiScope.Enroll, "visitors"));
    }

    [Fact]
    public void A_revoked_key_may_do_nothing_and_an_unknown_scope_is_never_granted()
    {
        Assert.False(ApiKeyAuthorization.Allows(Key(ApiScope.Admin, revoked: true), ApiScope.Kiosk, null));
        Assert.False(ApiKeyAuthorization.Allows(Key(ApiScope.Admin), (ApiScope)3, null));
        Assert.False(ApiKeyAuthorization.Allows(Key(ApiScope.Admin), (ApiScope)(-1), null));
    }
}
