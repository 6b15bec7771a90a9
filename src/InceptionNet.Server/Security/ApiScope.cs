namespace InceptionNet.Server.Security;

/// <summary>
/// What an API key may do. Scopes are ordered: each includes the ones below it (<see cref="Admin"/> may do everything,
/// <see cref="Enroll"/> may enroll and make kiosk calls, <see cref="Kiosk"/> only kiosk calls).
/// </summary>
public enum ApiScope
{
    /// <summary>Kiosk calls only: detect, verify, identify.</summary>
    Kiosk = 0,

    /// <summary>Enroll and kiosk calls.</summary>
    Enroll = 1,

    /// <summary>Everything, including administration; never bound to a collection.</summary>
    Admin = 2,
}
