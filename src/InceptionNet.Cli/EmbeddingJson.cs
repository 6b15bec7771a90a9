using System.Text.Json;
using InceptionNet.Models;

namespace InceptionNet.Cli;

/// <summary>The <c>embed --json</c> output format.</summary>
internal static class EmbeddingJson
{
    public static void Write(TextWriter output, IReadOnlyList<string> paths, IReadOnlyList<FaceEncoding> encodings)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            writer.WriteStartArray();
            for (int i = 0; i < paths.Count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("image", paths[i]);
                WriteArray(writer, "embedding", encodings[i].Embedding);
                WriteArray(writer, "raw", encodings[i].Raw);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteArray(Utf8JsonWriter writer, string name, float[] values)
    {
        writer.WriteStartArray(name);
        foreach (float v in values)
        {
            writer.WriteNumberValue(v); // shortest round-trip form of the float32 value
        }

        writer.WriteEndArray();
    }
}
