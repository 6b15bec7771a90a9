using System.Text.Json.Serialization;

namespace InceptionNet.Server.Security;

/// <summary>The keys file on disk. Every field is read as text and checked by <see cref="ApiKeyStore"/>, so an error names the field.</summary>
internal sealed class KeysFileDocument
{
    [JsonPropertyName("format")]
    public string? Format { get; set; }

    [JsonPropertyName("version")]
    public int? Version { get; set; }

    [JsonPropertyName("webhook_secret")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WebhookSecret { get; set; }

    [JsonPropertyName("keys")]
    public List<KeyDocument?>? Keys { get; set; }
}

/// <summary>One key on disk: its public record plus the salt and salted hash of its secret.</summary>
internal sealed class KeyDocument
{
    [JsonPropertyName("id")]
    public string? Id { get; set; }

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("scope")]
    public string? Scope { get; set; }

    [JsonPropertyName("collection")]
    public string? Collection { get; set; }

    [JsonPropertyName("created")]
    public string? Created { get; set; }

    [JsonPropertyName("revoked")]
    public string? Revoked { get; set; }

    [JsonPropertyName("salt")]
    public string? Salt { get; set; }

    [JsonPropertyName("sha256")]
    public string? Sha256 { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, AllowDuplicateProperties = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(KeysFileDocument))]
internal sealed partial class KeysFileJsonContext : JsonSerializerContext;
