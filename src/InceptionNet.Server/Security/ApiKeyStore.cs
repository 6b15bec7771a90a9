using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InceptionNet.Server.Storage;
using InceptionNet.Weights;

namespace InceptionNet.Server.Security;

/// <summary>
/// The service's API keys, kept in one JSON file (see <see cref="ApiKeyStore.Open"/>).
/// <para>
/// A key reads <c>inet_&lt;id&gt;_&lt;secret&gt;</c>: <c>id</c> is 16 lowercase hex digits (64 random bits, public: it names
/// the key in lists and the audit log), <c>secret</c> is 256 random bits in unpadded base64url (43 characters), from
/// <see cref="SecureRandom"/>. The file keeps only a random 16-byte salt and SHA-256(salt ‖ the secret's 43
/// ASCII characters); a presented secret is hashed the same way and compared with
/// <see cref="CryptographicOperations.FixedTimeEquals"/>. The plaintext key exists only in <see cref="Add"/>'s result.
/// A 256-bit random secret needs no slow password hash: nothing about it can be guessed.
/// </para>
/// <para>
/// Changes (<see cref="Add"/>, <see cref="Revoke"/>) take a cross-process lock on a hidden file beside the keys file
/// (<c>.KEYS.lock</c>), re-read the file, and replace it atomically (temporary file, flush to disk, rename). Revoked keys stay
/// in the file, marked with the time they were revoked. Reading needs no lock: <see cref="Authenticate"/> and
/// <see cref="List"/> look at the file's last-write time and length on every call and re-read it when either changed,
/// so a running service sees a key added or revoked by <c>inceptionnet keys</c> at its next request.
/// </para>
/// </summary>
public sealed class ApiKeyStore
{
    /// <summary>Longest key name, in characters.</summary>
    public const int MaxNameLength = 200;

    /// <summary>Longest collection name, in characters.</summary>
    public const int MaxCollectionLength = 200;

    private const string Format = "inceptionnet-keys";
    private const int Version = 1;
    private const string Prefix = "inet_";
    private const int IdLength = 16; // hex digits of 8 random bytes
    private const int SecretBytes = 32;
    private const int SecretLength = 43; // unpadded base64url of 32 bytes
    private const int KeyLength = 5 + IdLength + 1 + SecretLength; // "inet_" + id + "_" + secret
    private const int SaltBytes = 16;
    private const long MaxFileBytes = 16 << 20; // ~70,000 keys; anything larger is not a keys file we wrote
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private readonly Action<string>? _onProblem;
    private readonly Lock _reload = new();
    private volatile Snapshot _current;

    private ApiKeyStore(string path, Snapshot initial, Action<string>? onProblem)
    {
        Path = path;
        _current = initial;
        _onProblem = onProblem;
    }

    /// <summary>The keys file.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens the keys file at <paramref name="path"/>. A missing file is an empty store (the first <see cref="Add"/> creates
    /// it). <paramref name="onProblem"/> hears, once per change of the file, that a re-read failed (the file became corrupt
    /// or unreadable, or was deleted); it must not throw.
    /// </summary>
    /// <exception cref="ApiKeyException">The file exists but is not a readable keys file (the message names the path and the problem).</exception>
    public static ApiKeyStore Open(string path, Action<string>? onProblem = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (Directory.Exists(path))
        {
            throw new ApiKeyException($"{path}: is a directory, expected a keys file.");
        }

        var stamp = FileStamp.Of(path);
        return new ApiKeyStore(path, Read(path, stamp), onProblem);
    }

    /// <summary>
    /// The secret that signs <c>serve --webhook</c> events (HMAC-SHA256), kept in the keys file (readable by its owner
    /// only) beside the keys; null until it is made (<c>create</c>). Unlike a key it is stored as is:
    /// the receiver holds the same secret to check signatures.
    /// </summary>
    /// <param name="create">Make one (32 random bytes, base64url) and save it when there is none; <paramref name="rotate"/>: replace it.</param>
    /// <param name="rotate">Replace the secret with a new one.</param>
    /// <exception cref="ApiKeyException">The file is corrupt or locked.</exception>
    public string? WebhookSecret(bool create = false, bool rotate = false)
    {
        if (rotate || (create && Refresh(strict: true).WebhookSecret is null))
        {
            Change(_ => false, current => rotate || current is null ? System.Buffers.Text.Base64Url.EncodeToString(SecureRandom.GetBytes(SecretBytes)) : current);
        }

        return Refresh(strict: true).WebhookSecret;
    }

    /// <summary>Whether the keys file exists (a store whose file is missing holds no keys).</summary>
    public bool FileExists => File.Exists(Path);

    /// <summary>
    /// Creates a key called <paramref name="name"/> with <paramref name="scope"/>, bound to <paramref name="collection"/>
    /// when given, and saves it. Returns its record and the plaintext key, which is not stored and cannot be shown again.
    /// </summary>
    /// <exception cref="ApiKeyException">Invalid name, scope or collection; an admin key bound to a collection; the file is corrupt or locked.</exception>
    public (ApiKeyRecord Record, string Key) Add(string name, ApiScope scope, string? collection = null)
    {
        ValidateName(name);
        if (!Enum.IsDefined(scope))
        {
            throw new ApiKeyException($"{(int)scope} is not a scope (admin, enroll or kiosk).");
        }

        if (collection is not null)
        {
            ValidateCollection(collection);
            if (scope == ApiScope.Admin)
            {
                throw new ApiKeyException("an admin key cannot be bound to a collection (admin may do everything); bind an enroll or kiosk key instead.");
            }
        }

        Span<byte> secretBytes = stackalloc byte[SecretBytes];
        SecureRandom.Fill(secretBytes);
        string secret = System.Buffers.Text.Base64Url.EncodeToString(secretBytes);
        CryptographicOperations.ZeroMemory(secretBytes);
        byte[] salt = SecureRandom.GetBytes(SaltBytes);
        byte[] hash = Hash(salt, secret);

        ApiKeyRecord? record = null;
        Change(keys =>
        {
            string id;
            do
            {
                id = Convert.ToHexStringLower(SecureRandom.GetBytes(IdLength / 2));
            }
            while (keys.Any(k => k.Record.Id == id));

            record = new ApiKeyRecord(id, name, scope, collection, TrimToSeconds(DateTimeOffset.UtcNow), null);
            keys.Add(new StoredKey(record, salt, hash));
        });
        return (record!, $"{Prefix}{record!.Id}_{secret}");
    }

    /// <summary>
    /// Revokes the key <paramref name="id"/>: it stays in the file, marked with the time, and stops authenticating at once
    /// (in every process reading the file). Revoking a revoked key changes nothing and returns its record.
    /// </summary>
    /// <exception cref="ApiKeyException">No key has this id (the message lists the known ids), or the file is corrupt or locked.</exception>
    public ApiKeyRecord Revoke(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        ApiKeyRecord? revoked = null;
        Change(keys =>
        {
            int index = keys.FindIndex(k => string.Equals(k.Record.Id, id, StringComparison.Ordinal));
            if (index < 0)
            {
                string known = keys.Count == 0 ? "the file holds no keys" : "ids: " + string.Join(", ", keys.Take(20).Select(k => k.Record.Id)) + (keys.Count > 20 ? ", …" : string.Empty);
                throw new ApiKeyException($"{Path}: no key has the id '{Printable(id)}' ({known}).");
            }

            if (keys[index].Record.IsRevoked)
            {
                revoked = keys[index].Record;
                return false;
            }

            revoked = keys[index].Record with { RevokedUtc = TrimToSeconds(DateTimeOffset.UtcNow) };
            keys[index] = keys[index] with { Record = revoked };
            return true;
        });
        return revoked!;
    }

    /// <summary>Every key, revoked ones included, in creation order — never a secret or a hash. Re-reads the file if it changed.</summary>
    /// <exception cref="ApiKeyException">The file changed into something that is not a readable keys file.</exception>
    public IReadOnlyList<ApiKeyRecord> List() => Refresh(strict: true).Ordered.Select(k => k.Record).ToList();

    /// <summary>
    /// The key <paramref name="presented"/> (the whole <c>inet_…</c> string), or null when it is malformed, unknown, wrong
    /// or revoked. Never throws, whatever the string: its length and alphabet are checked before anything else. Re-reads
    /// the file when it changed; if the new content cannot be read, keeps the last good keys and reports the problem
    /// once through the callback given to <see cref="Open"/> — except a deleted file, which rejects every key.
    /// </summary>
    public ApiKeyRecord? Authenticate(string? presented)
    {
        if (presented is null || presented.Length != KeyLength || !presented.StartsWith(Prefix, StringComparison.Ordinal) || presented[Prefix.Length + IdLength] != '_')
        {
            return null;
        }

        var id = presented.AsSpan(Prefix.Length, IdLength);
        var secret = presented.AsSpan(KeyLength - SecretLength);
        if (!IsLowerHex(id) || !IsBase64Url(secret))
        {
            return null;
        }

        var keys = Refresh(strict: false).ById.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!keys.TryGetValue(id, out var key))
        {
            return null;
        }

        Span<byte> hash = stackalloc byte[Sha256.HashSizeInBytes];
        Hash(key.Salt, secret, hash);
        return CryptographicOperations.FixedTimeEquals(hash, key.Hash) && !key.Record.IsRevoked ? key.Record : null;
    }

    /// <summary>Refuses a key name that is empty, blank, longer than <see cref="MaxNameLength"/> or holds control characters.</summary>
    /// <exception cref="ApiKeyException">The name is not valid.</exception>
    public static void ValidateName(string name)
    {
        if (!IsValidText(name, MaxNameLength))
        {
            throw new ApiKeyException($"'{Printable(name)}' is not a valid key name (1–{MaxNameLength} printable characters, not only spaces).");
        }
    }

    /// <summary>Refuses a collection name that is empty, blank, longer than <see cref="MaxCollectionLength"/> or holds control characters.</summary>
    /// <exception cref="ApiKeyException">The collection name is not valid.</exception>
    public static void ValidateCollection(string collection)
    {
        if (!IsValidText(collection, MaxCollectionLength))
        {
            throw new ApiKeyException($"'{Printable(collection)}' is not a valid collection name (1–{MaxCollectionLength} printable characters, not only spaces).");
        }
    }

    /// <summary>Parses a scope as the command line and the file spell it: <c>admin</c>, <c>enroll</c> or <c>kiosk</c>.</summary>
    /// <exception cref="ApiKeyException">Anything else.</exception>
    public static ApiScope ParseScope(string scope) => TryParseScope(scope)
        ?? throw new ApiKeyException($"'{Printable(scope)}' is not a scope (admin, enroll or kiosk).");

    /// <summary>The spelling of <paramref name="scope"/> in files, on the command line and in JSON: <c>admin</c>, <c>enroll</c>, <c>kiosk</c>.</summary>
    public static string ScopeName(ApiScope scope) => scope switch
    {
        ApiScope.Admin => "admin",
        ApiScope.Enroll => "enroll",
        ApiScope.Kiosk => "kiosk",
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, "not a scope"),
    };

    private static ApiScope? TryParseScope(string? scope) => scope switch
    {
        "admin" => ApiScope.Admin,
        "enroll" => ApiScope.Enroll,
        "kiosk" => ApiScope.Kiosk,
        _ => null,
    };

    // Read-modify-write under the writer lock. The change returns false when it changed nothing (no write).
    private void Change(Action<List<StoredKey>> change) => Change(keys =>
    {
        change(keys);
        return true;
    });

    private void Change(Func<List<StoredKey>, bool> change, Func<string?, string?>? webhookSecret = null)
    {
        if (Directory.Exists(Path))
        {
            throw new ApiKeyException($"{Path}: is a directory, expected a keys file.");
        }

        using var writerLock = AcquireLock();
        var current = Read(Path, FileStamp.Of(Path));
        var keys = current.Ordered.ToList();
        string? secret = webhookSecret is null ? current.WebhookSecret : webhookSecret(current.WebhookSecret);
        if (!change(keys) && secret == current.WebhookSecret)
        {
            return;
        }

        byte[] bytes = Serialize(keys, secret);
        try
        {
            AtomicFile.Replace(Path, bytes, ownerOnly: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ApiKeyException($"{Path}: cannot be written ({ex.Message}).", ex);
        }

        // The file now holds exactly these keys; take them without a re-read. The stat is taken under the writer lock, so
        // no other writer can have replaced the file in between and left this snapshot stamped with its version.
        lock (_reload)
        {
            _current = new Snapshot(FileStamp.Of(Path), keys, null, secret);
        }
    }

    private FileStream AcquireLock()
    {
        try
        {
            return WriterLock.Acquire(Path, LockTimeout, (lockPath, ex) =>
                new ApiKeyException($"{Path}: another process is changing the keys (lock {lockPath} held for {LockTimeout.TotalSeconds:F0} s).", ex));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not a busy lock (that is an ApiKeyException already): the folder or the lock file cannot be made.
            throw new ApiKeyException($"{Path}: cannot lock the keys file for writing ({ex.Message}).", ex);
        }
    }

    private Snapshot Refresh(bool strict)
    {
        var snapshot = _current;
        var stamp = FileStamp.Of(Path);
        if (stamp == snapshot.Stamp)
        {
            return strict && snapshot.Problem is { } known ? throw new ApiKeyException(known) : snapshot;
        }

        string? report = null;
        lock (_reload)
        {
            snapshot = _current;
            if (stamp != snapshot.Stamp)
            {
                try
                {
                    snapshot = _current = Read(Path, stamp);
                    if (!stamp.Exists)
                    {
                        report = $"{Path}: the keys file is gone; every key is rejected until it is restored.";
                    }
                }
                catch (ApiKeyException ex)
                {
                    // Keep the last good keys, stamped with this (bad) version of the file so it is reported once.
                    snapshot = _current = snapshot with { Stamp = stamp, Problem = ex.Message + " Keeping the keys read before." };
                    report = snapshot.Problem;
                }
            }
        }

        if (report is not null)
        {
            _onProblem?.Invoke(report);
        }

        return strict && snapshot.Problem is { } problem ? throw new ApiKeyException(problem) : snapshot;
    }

    private static Snapshot Read(string path, FileStamp stamp)
    {
        if (!stamp.Exists)
        {
            return new Snapshot(stamp, [], null);
        }

        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length > MaxFileBytes)
            {
                throw new ApiKeyException($"{path}: {stream.Length} bytes is too large for a keys file (at most {MaxFileBytes}).");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException)
        {
            return new Snapshot(FileStamp.Missing, [], null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ApiKeyException($"{path}: cannot be read ({ex.Message}).", ex);
        }

        try
        {
            var (keys, secret) = Parse(bytes);
            return new Snapshot(stamp, keys, null, secret);
        }
        catch (JsonException ex)
        {
            throw new ApiKeyException($"{path}: not a keys file: {JsonProblems.Describe(ex)}.", ex);
        }
        catch (FormatException ex)
        {
            throw new ApiKeyException($"{path}: not a valid keys file: {ex.Message}.", ex);
        }
        catch (InvalidOperationException ex)
        {
            // System.Text.Json's answer to text that is not UTF-8.
            throw new ApiKeyException($"{path}: not a keys file: {ex.Message}", ex);
        }
    }

    // Everything is checked here, once: a key that loads is safe to authenticate against.
    private static (List<StoredKey> Keys, string? WebhookSecret) Parse(byte[] bytes)
    {
        var document = JsonSerializer.Deserialize(bytes, KeysFileJsonContext.Default.KeysFileDocument)
            ?? throw new FormatException("the document is null, not an object");
        if (document.Format != Format)
        {
            throw new FormatException($"'format' is not '{Format}'");
        }

        if (document.Version is not Version)
        {
            throw new FormatException($"'version' is {document.Version?.ToString(CultureInfo.InvariantCulture) ?? "missing"}; this build reads version {Version}");
        }

        var list = document.Keys ?? throw new FormatException("'keys' is missing or null");
        var keys = new List<StoredKey>(list.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < list.Count; i++)
        {
            string at = $"keys[{i}].";
            var k = list[i] ?? throw new FormatException($"'keys[{i}]' is null");
            string id = k.Id is { Length: IdLength } text && IsLowerHex(text) ? text : throw new FormatException($"'{at}id' is missing or not {IdLength} lowercase hex digits");
            if (!ids.Add(id))
            {
                throw new FormatException($"'{at}id' ('{id}') is given to two keys");
            }

            if (k.Name is null || !IsValidText(k.Name, MaxNameLength))
            {
                throw new FormatException($"'{at}name' is missing or not a valid key name");
            }

            var scope = TryParseScope(k.Scope) ?? throw new FormatException($"'{at}scope' is '{Printable(k.Scope ?? "null")}', expected admin, enroll or kiosk");
            if (k.Collection is not null && (!IsValidText(k.Collection, MaxCollectionLength) || scope == ApiScope.Admin))
            {
                throw new FormatException($"'{at}collection' is not a valid collection name, or is set on an admin key");
            }

            var created = Date(k.Created, $"{at}created") ?? throw new FormatException($"'{at}created' is missing");
            var revoked = Date(k.Revoked, $"{at}revoked");
            byte[] salt = Bytes(k.Salt, SaltBytes, $"{at}salt", base64: true);
            byte[] hash = Bytes(k.Sha256, Sha256.HashSizeInBytes, $"{at}sha256", base64: false);
            keys.Add(new StoredKey(new ApiKeyRecord(id, k.Name, scope, k.Collection, created, revoked), salt, hash));
        }

        if (document.WebhookSecret is { } secret && (secret.Length != SecretLength || !secret.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
        {
            throw new FormatException($"'webhook_secret' is not {SecretLength} base64url characters");
        }

        return (keys, document.WebhookSecret);
    }

    private static byte[] Serialize(List<StoredKey> keys, string? webhookSecret)
    {
        var document = new KeysFileDocument
        {
            Format = Format,
            Version = Version,
            WebhookSecret = webhookSecret,
            Keys = [.. keys.Select(k => new KeyDocument
            {
                Id = k.Record.Id,
                Name = k.Record.Name,
                Scope = ScopeName(k.Record.Scope),
                Collection = k.Record.Collection,
                Created = FormatDate(k.Record.CreatedUtc),
                Revoked = k.Record.RevokedUtc is { } r ? FormatDate(r) : null,
                Salt = Convert.ToBase64String(k.Salt),
                Sha256 = Convert.ToHexStringLower(k.Hash),
            })],
        };
        return JsonSerializer.SerializeToUtf8Bytes(document, KeysFileJsonContext.Default.KeysFileDocument);
    }

    private static DateTimeOffset? Date(string? text, string field)
    {
        if (text is null)
        {
            return null;
        }

        return DateTimeOffset.TryParseExact(text, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : throw new FormatException($"'{field}' is '{Printable(text)}', not a UTC time like 2026-01-31T23:59:59Z");
    }

    private static string FormatDate(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset TrimToSeconds(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    private static byte[] Bytes(string? text, int length, string field, bool base64)
    {
        string expected = base64 ? $"base64 of {length} bytes" : $"{length * 2} lowercase hex digits";
        if (text is null || text.Length > 4 * length)
        {
            throw new FormatException($"'{field}' is missing or not {expected}");
        }

        byte[]? bytes = null;
        if (base64)
        {
            Span<byte> buffer = stackalloc byte[3 * length];
            if (Convert.TryFromBase64String(text, buffer, out int written) && written == length)
            {
                bytes = buffer[..length].ToArray();
            }
        }
        else if (text.Length == length * 2 && IsLowerHex(text))
        {
            bytes = Convert.FromHexString(text);
        }

        return bytes ?? throw new FormatException($"'{field}' is not {expected}");
    }

    private static byte[] Hash(byte[] salt, string secret)
    {
        byte[] hash = new byte[Sha256.HashSizeInBytes];
        Hash(salt, secret, hash);
        return hash;
    }

    private static void Hash(ReadOnlySpan<byte> salt, ReadOnlySpan<char> secret, Span<byte> hash)
    {
        // The secret's characters are base64url ASCII (checked by the caller), one byte each.
        Span<byte> input = stackalloc byte[SaltBytes + SecretLength];
        salt.CopyTo(input);
        Encoding.ASCII.GetBytes(secret, input[SaltBytes..]);
        Sha256.HashData(input, hash);
        CryptographicOperations.ZeroMemory(input);
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsBase64Url(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValidText(string text, int maxLength) =>
        !string.IsNullOrWhiteSpace(text) && text.Length <= maxLength && !text.Any(char.IsControl);

    // For error messages: a hostile name must not bring control characters or megabytes into the terminal.
    private static string Printable(string text)
    {
        string shown = text.Length > 60 ? text[..60] + "…" : text;
        return new string([.. shown.Select(c => char.IsControl(c) ? '?' : c)]);
    }

    /// <summary>A key as stored: its record, salt and SHA-256(salt ‖ secret).</summary>
    private sealed record StoredKey(ApiKeyRecord Record, byte[] Salt, byte[] Hash);

    /// <summary>The keys as read from one version of the file; <see cref="Problem"/> is set when that version could not be read.</summary>
    private sealed record Snapshot(FileStamp Stamp, IReadOnlyList<StoredKey> Ordered, string? Problem, string? WebhookSecret = null)
    {
        public Dictionary<string, StoredKey> ById { get; } = Ordered.ToDictionary(k => k.Record.Id, StringComparer.Ordinal);
    }

    /// <summary>What a stat tells about a version of the file: a change of either field means it must be read again.</summary>
    private sealed record FileStamp(bool Exists, DateTime LastWriteUtc, long Length)
    {
        public static readonly FileStamp Missing = new(false, default, 0);

        public static FileStamp Of(string path)
        {
            try
            {
                var info = new FileInfo(path);
                return info.Exists ? new FileStamp(true, info.LastWriteTimeUtc, info.Length) : Missing;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Cannot even stat it: a version of its own, whose read will name the problem.
                return new FileStamp(true, DateTime.MinValue, -1);
            }
        }
    }
}
