using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InceptionNet.Server.Security;

namespace InceptionNet.Cli.Commands;

/// <summary><c>keys add|list|revoke</c>: the API keys of <c>inceptionnet serve</c>.</summary>
internal static class KeysCommand
{
    public static Command Create(CliConsole console)
    {
        var keys = new Option<string>("--keys", "-k") { Description = "Keys file (JSON; created by the first keys add). Holds only salted hashes of the keys.", Required = true };
        var json = CliOptions.Json();

        var name = new Option<string>("--name", "-n") { Description = "Who or what holds the key (e.g. \"lobby kiosk\"); 1–200 printable characters.", Required = true };
        var scope = new Option<string>("--scope", "-s") { Description = "admin (everything), enroll (enroll and kiosk calls) or kiosk (detect, verify, identify).", Required = true };
        scope.AcceptOnlyFromAmong("admin", "enroll", "kiosk");
        var collection = new Option<string?>("--collection", "-c") { Description = "Bind the key to this one collection (enroll and kiosk keys only; admin keys cannot be bound)." };
        var add = new Command("add", "Create a key and print it once: only a salted hash is kept, so it cannot be shown again.") { keys, name, scope, collection, json };
        add.SetAction(r =>
        {
            var (record, key) = ApiKeyStore.Open(r.GetValue(keys)!).Add(r.GetValue(name)!, ApiKeyStore.ParseScope(r.GetValue(scope)!), r.GetValue(collection));
            if (r.GetValue(json))
            {
                var node = Describe(record);
                node["key"] = key;
                console.Json(node);
            }
            else
            {
                console.Stdout.WriteLine($"Created {ApiKeyStore.ScopeName(record.Scope)} key {record.Id} for '{record.Name}' ({(record.Collection is { } c ? $"collection '{c}' only" : "all collections")}):");
                console.Stdout.WriteLine(key);
                console.Stdout.WriteLine("Store it now: it will not be shown again (the keys file keeps only a salted hash of it).");
            }

            return CliApp.Success;
        });

        var list = new Command("list", "List the keys, revoked ones included (never their secrets).") { keys, json };
        list.SetAction(r =>
        {
            var store = OpenExisting(r.GetValue(keys)!);
            var records = store.List();
            if (r.GetValue(json))
            {
                console.Json(new JsonObject { ["keys"] = new JsonArray([.. records.Select(k => (JsonNode)Describe(k))]) });
                return CliApp.Success;
            }

            console.Stdout.WriteLine($"{store.Path}: {records.Count} keys ({records.Count(k => k.IsRevoked)} revoked)");
            foreach (var k in records)
            {
                string bound = k.Collection is { } c ? $", collection '{c}'" : string.Empty;
                string state = k.RevokedUtc is { } revoked ? $", REVOKED {Time(revoked)}" : string.Empty;
                console.Stdout.WriteLine($"  {k.Id}  {ApiKeyStore.ScopeName(k.Scope),-6}  '{k.Name}'{bound}, created {Time(k.CreatedUtc)}{state}");
            }

            return CliApp.Success;
        });

        var id = new Argument<string>("id") { Description = "Id of the key (the 16 hex digits after inet_; see keys list)." };
        var revoke = new Command("revoke", "Revoke a key: it stops working at once, also in a running server, and stays listed as revoked.") { keys, id, json };
        revoke.SetAction(r =>
        {
            var store = OpenExisting(r.GetValue(keys)!);
            string wanted = r.GetValue(id)!;
            bool already = store.List().Any(k => k.Id == wanted && k.IsRevoked);
            var record = store.Revoke(wanted);
            if (r.GetValue(json))
            {
                var node = Describe(record);
                node["already_revoked"] = already;
                console.Json(node);
            }
            else
            {
                console.Stdout.WriteLine(already
                    ? $"Key {record.Id} ('{record.Name}') was already revoked at {Time(record.RevokedUtc!.Value)}."
                    : $"Revoked key {record.Id} ('{record.Name}') at {Time(record.RevokedUtc!.Value)}.");
            }

            return CliApp.Success;
        });

        var rotate = new Option<bool>("--rotate") { Description = "Replace the secret with a new one (receivers must be given the new one)." };
        var webhook = new Command("webhook-secret", "Print the secret that signs serve --webhook events (HMAC-SHA256), making it on first use; kept in the keys file.") { keys, rotate, json };
        webhook.SetAction(r =>
        {
            string secret = ApiKeyStore.Open(r.GetValue(keys)!).WebhookSecret(create: true, rotate: r.GetValue(rotate))!;
            if (r.GetValue(json))
            {
                console.Json(new JsonObject { ["webhook_secret"] = secret });
            }
            else
            {
                console.Stdout.WriteLine(secret);
            }

            return CliApp.Success;
        });

        return new Command("keys", "Create, list and revoke the API keys of inceptionnet serve; print the webhook secret.") { add, list, revoke, webhook };
    }

    // Listing or revoking in a file that does not exist is most likely a typo in --keys, not an empty store.
    private static ApiKeyStore OpenExisting(string path)
    {
        var store = ApiKeyStore.Open(path);
        return store.FileExists ? store : throw new ApiKeyException($"{path}: keys file not found (create it with 'inceptionnet keys add').");
    }

    private static JsonObject Describe(ApiKeyRecord key) => new()
    {
        ["id"] = key.Id,
        ["name"] = key.Name,
        ["scope"] = ApiKeyStore.ScopeName(key.Scope),
        ["collection"] = key.Collection,
        ["created"] = Time(key.CreatedUtc),
        ["revoked"] = key.RevokedUtc is { } revoked ? Time(revoked) : null,
    };

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
