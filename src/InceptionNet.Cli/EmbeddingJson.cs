using System.Text.Json;
using InceptionNet.Models;

namespace InceptionNet.Cli;

/// <summary>The <c>embed --json</c> output format.</summary>
internal static class EmbeddingJson
{
    /// <summary>One encoded face: its label, encoding, and MTCNN box when it was detected.</summary>
    public sealed record Entry(string Image, FaceEncoding Encoding, double[]? Box);

    public static void Write(TextWriter output, IReadOnlyList<Entry> entries)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            writer.WriteStartArray();
            foreach (var entry in entries)
            {
                writer.WriteStartObject();
                writer.WriteString("image", entry.Image);
                WriteArray(writer, "embedding", entry.Encoding.Embedding);
                WriteArray(writer, "raw", entry.Encoding.Raw);
                if (entry.Box is { } box)
                {
                    writer.WriteStartArray("box");
                    foreach (double v in box)
                    {
                        writer.WriteNumberValue(v);
                    }

                    writer.WriteEndArray();
                }

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
