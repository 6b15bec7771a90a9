using System.Text;
using System.Text.RegularExpressions;
using InceptionNet.Server.Security;
using Xunit;

namespace InceptionNet.Server.Tests;

public sealed partial class ApiKeyStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-keys-").FullName;

    private string KeysPath => Path.Combine(_dir, "keys.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex("^inet_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")]
    private static partial Regex KeyFormat();

    [Fact]
    public void A_new_key_has_the_documented_format_and_authenticates()
    {
        var store = ApiKeyStore.Open(KeysPath);
        var (record, key) = store.Add("lobby kiosk", ApiScope.Kiosk, "staff");

        Assert.Matches(KeyFormat(), key);
        Assert.Equal($"inet_{record.Id}_", key[..22]);
        Assert.Equal(record, store.Authenticate(key));
        Assert.Equal(("lobby kiosk", ApiScope.Kiosk, "staff", false), (record.Name, record.Scope, record.Collection, record.IsRevoked));
        Assert.Equal(record, ApiKeyStore.Open(KeysPath).Authenticate(key));
    }

    [Fact]
    public void The_file_holds_neither_the_key_nor_its_secret()
    {
        var store = ApiKeyStore.Open(KeysPath);
        var keys = Enumerable.Range(0, 5).Select(i => store.Add($"k{i}", ApiScope.Enroll).Key).ToList();

        string file = File.ReadAllText(KeysPath);
        foreach (string key in keys)
        {
            string secret = key[22..];
            Assert.DoesNotContain(secret, file, StringComparison.Ordinal);
            Assert.DoesNotContain(secret[..20], file, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(System.Buffers.Text.Base64Url.DecodeFromChars(secret)), file, StringComparison.Ordinal);
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeysPath));
        }
    }

    [Fact]
    public void Near_misses_and_hostile_strings_are_all_rejected()
    {
        var store = ApiKeyStore.Open(KeysPath);
        var (record, key) = store.Add("door", ApiScope.Admin);
        char last = key[^1] == 'A' ? 'B' : 'A';
        string otherSecret = System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        string?[] presented =
        [
            key[..^1] + last,                          // last character differs
            key[..^1],                                 // truncated
            key + "A",                                 // one character too many
            string.Empty,
            null,
            new string('A', 1 << 20),                  // 1 MB
            "inet_" + new string('A', 1 << 20),
            $"inet_{record.Id}_{otherSecret}",         // valid id, wrong secret
            key.ToUpperInvariant(),
            "xnet" + key[4..],                         // wrong prefix
            key.Replace('_', '.'),
            key[..21] + "=" + key[22..],               // separator replaced
            key[..^1] + "=",                           // outside base64url
            key[..^1] + "\0",
            key[..^1] + "é",
            key[..10] + "\uD800" + key[11..],          // lone surrogate inside the id
            key.Trim() + " ",
        ];
        foreach (string? attempt in presented)
        {
            Assert.Null(store.Authenticate(attempt));
        }

        Assert.Equal(record, store.Authenticate(key));
    }

    [Fact]
    public void A_key_from_another_store_is_rejected()
    {
        var store = ApiKeyStore.Open(KeysPath);
        store.Add("here", ApiScope.Admin);
        var (_, foreign) = ApiKeyStore.Open(Path.Combine(_dir, "other.json")).Add("there", ApiScope.Admin);
        Assert.Null(store.Authenticate(foreign));
    }

    [Fact]
    public void Revoke_in_one_instance_is_seen_by_another_without_restart()
    {
        var server = ApiKeyStore.Open(KeysPath);
        var admin = ApiKeyStore.Open(KeysPath);
        var (record, key) = admin.Add("kiosk", ApiScope.Kiosk);
        var (_, survivor) = admin.Add("other kiosk", ApiScope.Kiosk);
        Assert.NotNull(server.Authenticate(key)); // the server has read the file since the key was added

        var revoked = admin.Revoke(record.Id);

        Assert.True(revoked.IsRevoked);
        Assert.Null(server.Authenticate(key));
        Assert.NotNull(server.Authenticate(survivor));
        var listed = Assert.Single(server.List(), r => r.Id == record.Id);
        Assert.Equal(revoked.RevokedUtc, listed.RevokedUtc);
    }

    [Fact]
    public void A_key_added_by_another_instance_authenticates_without_restart()
    {
        var server = ApiKeyStore.Open(KeysPath);
        Assert.Empty(server.List());
        var (_, key) = ApiKeyStore.Open(KeysPath).Add("new kiosk", ApiScope.Kiosk);
        Assert.NotNull(server.Authenticate(key));
    }

    [Fact]
    public void Revoked_keys_stay_listed_with_their_time_and_revoking_twice_changes_nothing()
    {
        var store = ApiKeyStore.Open(KeysPath);
        var (record, _) = store.Add("old", ApiScope.Enroll);
        store.Add("new", ApiScope.Enroll);
        var first = store.Revoke(record.Id);
        byte[] before = File.ReadAllBytes(KeysPath);

        var second = store.Revoke(record.Id);

        Assert.Equal(first, second);
        Assert.Equal(before, File.ReadAllBytes(KeysPath));
        Assert.Equal(["old", "new"], store.List().Select(r => r.Name));
        Assert.NotNull(ApiKeyStore.Open(KeysPath).List()[0].RevokedUtc);
        Assert.Null(ApiKeyStore.Open(KeysPath).List()[1].RevokedUtc);
    }

    [Fact]
    public void Revoking_an_unknown_id_names_the_file_and_the_id()
    {
        var store = ApiKeyStore.Open(KeysPath);
        var (record, _) = store.Add("k", ApiScope.Kiosk);
        var failure = Assert.Throws<ApiKeyException>(() => store.Revoke("0123456789abcdef"));
        Assert.Contains(KeysPath, failure.Message, StringComparison.Ordinal);
        Assert.Contains("'0123456789abcdef'", failure.Message, StringComparison.Ordinal);
        Assert.Contains(record.Id, failure.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(Path.Combine(_dir, "none.json")).Revoke("0123456789abcdef"));
        Assert.Contains("holds no keys", missing.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "none.json")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\there")]
    [InlineData("new\nline")]
    [InlineData("bell\u0007")]
    public void Invalid_names_and_collections_are_refused(string text)
    {
        var store = ApiKeyStore.Open(KeysPath);
        Assert.Contains("not a valid key name", Assert.Throws<ApiKeyException>(() => store.Add(text, ApiScope.Kiosk)).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid collection name", Assert.Throws<ApiKeyException>(() => store.Add("ok", ApiScope.Kiosk, text)).Message, StringComparison.Ordinal);
        Assert.False(File.Exists(KeysPath));
    }

    [Fact]
    public void Names_are_bounded_and_errors_do_not_echo_megabytes()
    {
        var store = ApiKeyStore.Open(KeysPath);
        store.Add(new string('n', ApiKeyStore.MaxNameLength), ApiScope.Kiosk);
        var failure = Assert.Throws<ApiKeyException>(() => store.Add(new string('n', 1 << 20), ApiScope.Kiosk));
        Assert.True(failure.Message.Length < 300, failure.Message);
        Assert.Throws<ApiKeyException>(() => store.Add(new string('n', ApiKeyStore.MaxNameLength + 1), ApiScope.Kiosk));
    }

    [Fact]
    public void Admin_keys_cannot_be_bound_to_a_collection()
    {
        var store = ApiKeyStore.Open(KeysPath);
        var failure = Assert.Throws<ApiKeyException>(() => store.Add("root", ApiScope.Admin, "staff"));
        Assert.Contains("admin key cannot be bound", failure.Message, StringComparison.Ordinal);
        Assert.Throws<ApiKeyException>(() => store.Add("root", (ApiScope)7));
        Assert.Throws<ApiKeyException>(() => ApiKeyStore.ParseScope("root"));
        Assert.Equal(ApiScope.Enroll, ApiKeyStore.ParseScope("enroll"));
    }

    public static TheoryData<string, string> CorruptFiles() => new()
    {
        { "not json {", "not valid JSON" },
        { "[]", "the document is not a JSON object" },
        { "null", "null, not an object" },
        { """{"format":"inceptionnet-gallery","version":1,"keys":[]}""", "'format' is not 'inceptionnet-keys'" },
        { """{"format":"inceptionnet-keys","version":9,"keys":[]}""", "'version' is 9" },
        { """{"format":"inceptionnet-keys","version":"1","keys":[]}""", "'$.version' has the wrong type" },
        { """{"format":"inceptionnet-keys","version":1}""", "'keys' is missing" },
        { """{"format":"inceptionnet-keys","version":1,"version":1,"keys":[]}""", "given twice" },
        { Key(id: "XYZ"), "'keys[0].id' is missing or not 16 lowercase hex digits" },
        { Key(scope: "root"), "'keys[0].scope' is 'root'" },
        { Key(scope: "admin", collection: "staff"), "'keys[0].collection'" },
        { Key(name: "a\\u0000b"), "'keys[0].name'" },
        { Key(created: "yesterday"), "'keys[0].created' is 'yesterday'" },
        { Key(salt: "!!"), "'keys[0].salt' is not base64 of 16 bytes" },
        { Key(hash: "abcd"), "'keys[0].sha256' is not 64 lowercase hex digits" },
        { Key() + "x", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void A_corrupt_file_is_one_clear_error_naming_the_file_and_the_field(string content, string problem)
    {
        File.WriteAllText(KeysPath, content);
        var failure = Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(KeysPath));
        Assert.StartsWith($"{KeysPath}: ", failure.Message, StringComparison.Ordinal);
        Assert.Contains(problem, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_valid_template_of_the_corrupt_files_opens()
    {
        File.WriteAllText(KeysPath, Key());
        Assert.Equal("k", Assert.Single(ApiKeyStore.Open(KeysPath).List()).Name);
    }

    [Fact]
    public void Duplicate_ids_binary_garbage_and_huge_files_are_refused()
    {
        File.WriteAllText(KeysPath, Key().Replace("\"keys\":[", "\"keys\":[" + Entry() + ",", StringComparison.Ordinal));
        Assert.Contains("given to two keys", Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(KeysPath)).Message, StringComparison.Ordinal);

        File.WriteAllBytes(KeysPath, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 >> 3))]);
        Assert.StartsWith($"{KeysPath}: not a keys file", Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(KeysPath)).Message, StringComparison.Ordinal);

        File.WriteAllBytes(KeysPath, [.. "{\"format\":\""u8, 0xFF, 0xFE, .. "\"}"u8]); // not UTF-8
        Assert.StartsWith($"{KeysPath}: not a keys file: '$.format' is not valid UTF-8 text", Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(KeysPath)).Message, StringComparison.Ordinal);

        using (var huge = File.Create(KeysPath))
        {
            huge.SetLength(17 << 20);
        }

        Assert.Contains("too large for a keys file", Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(KeysPath)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_file_is_never_overwritten_by_add()
    {
        File.WriteAllText(KeysPath, "not json");
        var store = ApiKeyStore.Open(Path.Combine(_dir, "elsewhere.json"));
        Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(KeysPath));

        File.WriteAllText(KeysPath, Key());
        var opened = ApiKeyStore.Open(KeysPath);
        File.WriteAllText(KeysPath, "not json");
        Assert.Throws<ApiKeyException>(() => opened.Add("x", ApiScope.Kiosk));
        Assert.Equal("not json", File.ReadAllText(KeysPath));
        Assert.Empty(store.List());
    }

    [Fact]
    public void When_the_file_turns_corrupt_authentication_keeps_the_last_good_keys_and_reports_once()
    {
        var problems = new List<string>();
        var server = ApiKeyStore.Open(KeysPath, problems.Add);
        var (_, key) = ApiKeyStore.Open(KeysPath).Add("kiosk", ApiScope.Kiosk);
        Assert.NotNull(server.Authenticate(key));
        byte[] good = File.ReadAllBytes(KeysPath);

        File.WriteAllText(KeysPath, "{ torn");
        Assert.NotNull(server.Authenticate(key));
        Assert.NotNull(server.Authenticate(key));
        Assert.StartsWith(KeysPath + ": not a keys file", Assert.Single(problems), StringComparison.Ordinal);
        Assert.Contains("Keeping the keys read before", problems[0], StringComparison.Ordinal);
        Assert.Throws<ApiKeyException>(server.List);

        File.WriteAllBytes(KeysPath, good);
        File.SetLastWriteTimeUtc(KeysPath, DateTime.UtcNow.AddMinutes(1)); // a new version, even on a coarse clock
        Assert.NotNull(server.Authenticate(key));
        Assert.Single(server.List());
        Assert.Single(problems);
    }

    [Fact]
    public void A_deleted_file_rejects_every_key_and_is_reported()
    {
        var problems = new List<string>();
        var server = ApiKeyStore.Open(KeysPath, problems.Add);
        var (_, key) = server.Add("kiosk", ApiScope.Kiosk);
        File.Delete(KeysPath);

        Assert.Null(server.Authenticate(key));
        Assert.Contains("the keys file is gone", Assert.Single(problems), StringComparison.Ordinal);
        Assert.Empty(server.List());
    }

    [Fact]
    public void Concurrent_adds_from_two_instances_lose_nothing()
    {
        var a = ApiKeyStore.Open(KeysPath);
        var b = ApiKeyStore.Open(KeysPath);
        var keys = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 24, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => keys.Add((i % 2 == 0 ? a : b).Add($"k{i}", ApiScope.Kiosk).Key));

        var fresh = ApiKeyStore.Open(KeysPath);
        Assert.Equal(24, fresh.List().Count);
        Assert.All(keys, key => Assert.NotNull(fresh.Authenticate(key)));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void A_directory_is_not_a_keys_file()
    {
        Assert.Contains("is a directory", Assert.Throws<ApiKeyException>(() => ApiKeyStore.Open(_dir)).Message, StringComparison.Ordinal);
    }

    private static string Entry(string id = "0123456789abcdef", string name = "k", string scope = "kiosk", string? collection = null,
        string created = "2026-01-31T23:59:59Z", string salt = "AAAAAAAAAAAAAAAAAAAAAA==", string hash = "0000000000000000000000000000000000000000000000000000000000000000") =>
        $$"""{"id":"{{id}}","name":"{{name}}","scope":"{{scope}}","collection":{{(collection is null ? "null" : $"\"{collection}\"")}},"created":"{{created}}","revoked":null,"salt":"{{salt}}","sha256":"{{hash}}"}""";

    private static string Key(string id = "0123456789abcdef", string name = "k", string scope = "kiosk", string? collection = null,
        string created = "2026-01-31T23:59:59Z", string salt = "AAAAAAAAAAAAAAAAAAAAAA==", string hash = "0000000000000000000000000000000000000000000000000000000000000000") =>
        $$"""{"format":"inceptionnet-keys","version":1,"keys":[{{Entry(id, name, scope, collection, created, salt, hash)}}]}""";
}
