namespace InceptionNet.Server;

/// <summary>How <c>inceptionnet serve</c> runs; every field has the command line's default.</summary>
public sealed record ServeOptions
{
    /// <summary>Address and port to listen on, e.g. <c>127.0.0.1:8080</c> (port 0: any free port).</summary>
    public string Listen { get; init; } = "127.0.0.1:8080";

    /// <summary>Folder of the collections (one gallery file each).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Where the collections live instead of the data folder: a PostgreSQL URL or connection string (null: files).</summary>
    public string? Store { get; init; }

    /// <summary>The API keys file (<c>inceptionnet keys add</c>).</summary>
    public required string KeysPath { get; init; }

    /// <summary>Model id (<see cref="Pipeline.ModelRegistry"/>).</summary>
    public string Model { get; init; } = "faceapi";

    /// <summary>Weights path; null: the model's usual places.</summary>
    public string? Weights { get; init; }

    /// <summary>MTCNN folder; null: the usual places.</summary>
    public string? Mtcnn { get; init; }

    /// <summary>The audit log; null: <c>audit.jsonl</c> in the data folder.</summary>
    public string? AuditPath { get; init; }

    /// <summary>When set, every uploaded image is kept in this folder (off by default: no images are stored).</summary>
    public string? KeepCaptures { get; init; }

    /// <summary>
    /// Largest request body accepted (413 above). On the image routes, once the key is accepted, a body announced over it
    /// is refused unread when the client sent <c>Expect: 100-continue</c>; otherwise, up to four times this, it is read and
    /// discarded first (for at most 30 s) so that a client still writing (a browser) reads the 413 instead of a reset
    /// connection.
    /// </summary>
    public long MaxBodyBytes { get; init; } = 10L << 20;

    /// <summary>Largest image accepted, width·height (422 above).</summary>
    public long MaxPixels { get; init; } = 40_000_000;

    /// <summary>Most faces per encoder pass.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Longest a batch waits for more faces.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Most faces waiting for the encoder; a request that would exceed it gets 503.</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>Enroll refuses faces whose shorter side is under this many pixels.</summary>
    public int MinFace { get; init; } = 40;

    /// <summary>Enroll refuses face chips blurrier than this (variance of the Laplacian).</summary>
    public double MinSharpness { get; init; } = 10;

    /// <summary>When set, door events (door_open, unknown_face) are POSTed here, signed with the keys file's webhook secret (ServiceHost.Door.cs).</summary>
    public Uri? Webhook { get; init; }
}
