using System.Text.Json;
using System.Text.RegularExpressions;
using InceptionNet.Cli;
using InceptionNet.Server.Security;
using Xunit;
using static InceptionNet.Cli.Tests.CliRunner;

namespace InceptionNet.Cli.Tests;

public sealed partial class KeysCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-keys-cli-").FullName;

    private string Keys => Path.Combine(_dir, "keys.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex("^inet_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$", RegexOptions.Multiline)]
    private static partial Regex KeyLine();

    private JsonElement AddJson(string name, string scope, string? collection = null)
    {
        string[] args = collection is null ? ["keys", "add", "--keys", Keys, "--name", name, "--scope", scope, "--json"]
            : ["keys", "add", "--keys", Keys, "--name", name, "--scope", scope, "--collection", collection, "--json"];
        var (exit, stdout, stderr) = Run(args);
        Assert.True(exit == CliApp.Success, stderr);
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    [Fact]
    public void Webhook_secret_is_made_once_kept_across_key_changes_and_rotated_on_request()
    {
        AddJson("kiosk", "kiosk");
        var (exit, first, stderr) = Run("keys", "webhook-secret", "--keys", Keys);
        Assert.True(exit == CliApp.Success, stderr);
        string secret = first.Trim();
        Assert.Matches("^[A-Za-z0-9_-]{43}$", secret);
        AddJson("desk", "enroll");
        var again = Run("keys", "webhook-secret", "--keys", Keys, "--json");
        Assert.Equal(secret, JsonDocument.Parse(again.Stdout).RootElement.GetProperty("webhook_secret").GetString());
        var rotated = Run("keys", "webhook-secret", "--keys", Keys, "--rotate");
        Assert.NotEqual(secret, rotated.Stdout.Trim());
        Assert.Equal(2, ApiKeyStore.Open(Keys).List().Count);
    }

    [Fact]
    public void Add_prints_the_key_once_with_a_warning_and_the_key_authenticates()
    {
        var (exit, stdout, stderr) = Run("keys", "add", "--keys", Keys, "--name", "lobby kiosk", "--scope", "kiosk", "--collection", "staff");

        Assert.Equal(CliApp.Success, exit);
        Assert.Equal(string.Empty, stderr);
        string key = KeyLine().Match(stdout).Value;
        Assert.Contains("will not be shown again", stdout, StringComparison.Ordinal);
        Assert.Contains("collection 'staff' only", stdout, StringComparison.Ordinal);
        var record = ApiKeyStore.Open(Keys).Authenticate(key);
        Assert.NotNull(record);
        Assert.Equal(("lobby kiosk", ApiScope.Kiosk, "staff"), (record.Name, record.Scope, record.Collection));
        Assert.DoesNotContain(key[22..], File.ReadAllText(Keys), StringComparison.Ordinal);
    }

    [Fact]
    public void Add_json_gives_the_id_key_name_scope_and_collection()
    {
        var added = AddJson("enroller", "enroll", "staff");
        Assert.Equal(["id", "name", "scope", "collection", "created", "revoked", "key"], added.EnumerateObject().Select(p => p.Name));
        string key = added.GetProperty("key").GetString()!;
        Assert.Matches(KeyLine(), key);
        Assert.Equal($"inet_{added.GetProperty("id").GetString()}_", key[..22]);
        Assert.Equal(("enroller", "enroll", "staff"), (added.GetProperty("name").GetString(), added.GetProperty("scope").GetString(), added.GetProperty("collection").GetString()));
        Assert.Equal(JsonValueKind.Null, added.GetProperty("revoked").ValueKind);
        Assert.Equal(JsonValueKind.Null, AddJson("root", "admin").GetProperty("collection").ValueKind);
    }

    [Fact]
    public void List_shows_every_key_and_never_a_secret_salt_or_hash()
    {
        var first = AddJson("one", "admin");
        var second = AddJson("two", "kiosk", "staff");
        string file = File.ReadAllText(Keys);
        using var stored = JsonDocument.Parse(file);
        var hidden = stored.RootElement.GetProperty("keys").EnumerateArray()
            .SelectMany(k => new[] { k.GetProperty("salt").GetString()!, k.GetProperty("sha256").GetString()! })
            .Concat([first.GetProperty("key").GetString()![22..], second.GetProperty("key").GetString()![22..]]).ToList();

        var (exit, human, _) = Run("keys", "list", "--keys", Keys);
        var (jsonExit, json, _) = Run("keys", "list", "--keys", Keys, "--json");

        Assert.Equal((CliApp.Success, CliApp.Success), (exit, jsonExit));
        Assert.All(hidden, secret => Assert.DoesNotContain(secret, human + json, StringComparison.Ordinal));
        Assert.Contains(first.GetProperty("id").GetString()!, human, StringComparison.Ordinal);
        Assert.Contains("collection 'staff'", human, StringComparison.Ordinal);
        var keys = JsonDocument.Parse(json).RootElement.GetProperty("keys").EnumerateArray().ToList();
        Assert.Equal(["one", "two"], keys.Select(k => k.GetProperty("name").GetString()));
        Assert.All(keys, k => Assert.Equal(["id", "name", "scope", "collection", "created", "revoked"], k.EnumerateObject().Select(p => p.Name)));
    }

    [Fact]
    public void Revoke_stops_the_key_and_it_stays_listed_as_revoked()
    {
        var added = AddJson("kiosk", "kiosk");
        string id = added.GetProperty("id").GetString()!;
        string key = added.GetProperty("key").GetString()!;
        var server = ApiKeyStore.Open(Keys);
        Assert.NotNull(server.Authenticate(key));

        var (exit, stdout, _) = Run("keys", "revoke", "--keys", Keys, id);
        Assert.Equal(CliApp.Success, exit);
        Assert.StartsWith($"Revoked key {id} ('kiosk') at ", stdout, StringComparison.Ordinal);
        Assert.Null(server.Authenticate(key));

        var (againExit, again, _) = Run("keys", "revoke", "--keys", Keys, id, "--json");
        Assert.Equal(CliApp.Success, againExit);
        var revoked = JsonDocument.Parse(again).RootElement;
        Assert.True(revoked.GetProperty("already_revoked").GetBoolean());
        Assert.Equal(JsonValueKind.String, revoked.GetProperty("revoked").ValueKind);

        var (_, list, _) = Run("keys", "list", "--keys", Keys);
        Assert.Contains("REVOKED", list, StringComparison.Ordinal);
        Assert.Contains("1 keys (1 revoked)", list, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_id_is_an_error_naming_the_file_and_the_id()
    {
        AddJson("kiosk", "kiosk");
        var (exit, stdout, stderr) = Run("keys", "revoke", "--keys", Keys, "0123456789abcdef");
        Assert.Equal(CliApp.Error, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith($"error: {Keys}: no key has the id '0123456789abcdef' (ids: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));

        var (jsonExit, json, _) = Run("keys", "revoke", "--keys", Keys, "nope", "--json");
        Assert.Equal(CliApp.Error, jsonExit);
        var error = JsonDocument.Parse(json).RootElement;
        Assert.StartsWith($"{Keys}: no key has the id 'nope'", error.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, error.GetProperty("exit_code").GetInt32());
    }

    [Theory]
    [InlineData("--scope", "root")]
    [InlineData("--scope", "Admin")]
    [InlineData("--name", "")]
    [InlineData("--name", "   ")]
    [InlineData("--name", "new\nline")]
    public void Bad_scopes_and_names_are_errors_and_create_nothing(string option, string value)
    {
        string[] args = option == "--scope" ? ["keys", "add", "--keys", Keys, "--name", "n", "--scope", value, "--json"]
            : ["keys", "add", "--keys", Keys, "--name", value, "--scope", "kiosk", "--json"];
        var (exit, stdout, stderr) = Run(args);
        Assert.Equal(CliApp.Error, exit);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("exit_code").GetInt32());
        Assert.Contains(option == "--scope" ? $"'{value}'" : "not a valid key name", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Keys));
    }

    [Fact]
    public void An_admin_key_cannot_be_bound_to_a_collection()
    {
        var (exit, _, stderr) = Run("keys", "add", "--keys", Keys, "--name", "root", "--scope", "admin", "--collection", "staff");
        Assert.Equal(CliApp.Error, exit);
        Assert.Equal("error: an admin key cannot be bound to a collection (admin may do everything); bind an enroll or kiosk key instead.", stderr.Trim());
        Assert.False(File.Exists(Keys));
    }

    [Fact]
    public void Listing_or_revoking_in_a_missing_file_is_an_error_not_an_empty_list()
    {
        foreach (string[] args in new[] { new[] { "keys", "list", "--keys", Keys }, ["keys", "revoke", "--keys", Keys, "0123456789abcdef"] })
        {
            var (exit, _, stderr) = Run(args);
            Assert.Equal(CliApp.Error, exit);
            Assert.Equal($"error: {Keys}: keys file not found (create it with 'inceptionnet keys add').", stderr.Trim());
        }

        Assert.False(File.Exists(Keys));
    }

    [Fact]
    public void A_corrupt_keys_file_is_one_error_line_for_every_subcommand_and_is_left_alone()
    {
        File.WriteAllText(Keys, """{"format":"inceptionnet-keys","version":1,"keys":[{"id":"zz"}]}""");
        foreach (string[] args in new[]
        {
            new[] { "keys", "list", "--keys", Keys },
            ["keys", "add", "--keys", Keys, "--name", "n", "--scope", "kiosk"],
            ["keys", "revoke", "--keys", Keys, "0123456789abcdef"],
        })
        {
            var (exit, _, stderr) = Run(args);
            Assert.Equal(CliApp.Error, exit);
            Assert.Equal($"error: {Keys}: not a valid keys file: 'keys[0].id' is missing or not 16 lowercase hex digits.", stderr.Trim());
        }

        Assert.Equal("""{"format":"inceptionnet-keys","version":1,"keys":[{"id":"zz"}]}""", File.ReadAllText(Keys));
    }

    [Fact]
    public void The_keys_option_is_required()
    {
        var (exit, _, stderr) = Run("keys", "list");
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("--keys", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_keys_path_that_cannot_be_created_is_one_error_line()
    {
        string file = Path.Combine(_dir, "plain.txt");
        File.WriteAllText(file, "x");
        string through = Path.Combine(file, "keys.json");
        var (exit, _, stderr) = Run("keys", "add", "--keys", through, "--name", "n", "--scope", "kiosk");
        Assert.Equal(CliApp.Error, exit);
        Assert.StartsWith($"error: {through}: cannot lock the keys file for writing (", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
