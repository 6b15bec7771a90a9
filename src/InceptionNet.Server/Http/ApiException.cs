namespace InceptionNet.Server.Http;

/// <summary>A request the service refuses: the status code and a message for the client (<c>{"error": …}</c>).</summary>
public sealed class ApiException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The HTTP status to answer with (400, 401, 403, 404, 409, 413, 415, 422 or 503).</summary>
    public int Status { get; } = status;

    /// <summary>Seconds the client should wait before retrying (503 only).</summary>
    public int? RetryAfterSeconds { get; init; }

    internal static ApiException BadRequest(string message) => new(400, message);

    internal static ApiException NotFound(string message) => new(404, message);

    internal static ApiException Unprocessable(string message) => new(422, message);
}
