using System.Text.Json;

namespace InceptionNet.Server.Storage;

/// <summary>Turns System.Text.Json's exceptions into the short, field-naming phrases our error messages use.</summary>
internal static class JsonProblems
{
    /// <summary>What is wrong, e.g. <c>'$.keys[0].scope' has the wrong type</c> or <c>not valid JSON (line 3, byte 17)</c>.</summary>
    public static string Describe(JsonException failure)
    {
        string where = failure.LineNumber is { } line ? $" (line {line + 1}, byte {failure.BytePositionInLine ?? 0})" : string.Empty;
        if (failure.InnerException is InvalidOperationException { Message: var inner } && inner.Contains("UTF-8", StringComparison.Ordinal))
        {
            return $"'{failure.Path ?? "$"}' is not valid UTF-8 text{where}";
        }

        if (failure.Path is { } path && failure.Message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return path == "$" ? $"the document is not a JSON object{where}" : $"'{path}' has the wrong type{where}";
        }

        if (failure.Message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return $"a property is given twice{(failure.Path is { Length: > 1 } p ? $" in '{p}'" : string.Empty)}{where}";
        }

        return $"not valid JSON{where}";
    }
}
