using System.Text.Json.Serialization;

namespace InceptionNet.Server.Audit;

/// <summary>One line of the audit log as written: the entry's fields in a fixed order, then <c>prev</c>.</summary>
internal sealed class AuditLine
{
    [JsonPropertyName("time")]
    public string? Time { get; set; }

    [JsonPropertyName("key_id")]
    public string? KeyId { get; set; }

    [JsonPropertyName("client")]
    public string? Client { get; set; }

    [JsonPropertyName("route")]
    public string? Route { get; set; }

    [JsonPropertyName("collection")]
    public string? Collection { get; set; }

    [JsonPropertyName("decision")]
    public string? Decision { get; set; }

    [JsonPropertyName("identity")]
    public string? Identity { get; set; }

    [JsonPropertyName("distance")]
    public double? Distance { get; set; }

    [JsonPropertyName("latency_ms")]
    public double? LatencyMs { get; set; }

    [JsonPropertyName("prev")]
    public string? Prev { get; set; }
}

[JsonSourceGenerationOptions(AllowDuplicateProperties = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AuditLine))]
internal sealed partial class AuditLineJsonContext : JsonSerializerContext;
