using System.Buffers.Binary;
using System.IO.Compression;

namespace InceptionNet.Vision;

/// <summary>Writes 8-bit RGB PNG files (filter 0 rows in one zlib stream): lossless output for chips and drawings.</summary>
public static class PngEncoder
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }

        return c;
    }).ToArray();

    /// <summary>Writes an image as a PNG file.</summary>
    public static void Write(string path, RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Write(path, image.Width, image.Height, image.Pixels);
    }

    /// <summary>Writes <paramref name="rgb"/> (width·height·3 bytes) as a PNG.</summary>
    public static void Write(string path, int width, int height, byte[] rgb)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0);
                z.Write(rgb, y * width * 3, width * 3);
            }
        }

        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = 2;
        Chunk(file, "IHDR", header);
        Chunk(file, "IDAT", raw.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream stream, string type, byte[] data)
    {
        var buffer = new byte[8 + data.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(buffer, 4);
        data.CopyTo(buffer, 8);
        uint crc = 0xFFFFFFFFu;
        for (int i = 4; i < 8 + data.Length; i++)
        {
            crc = CrcTable[(crc ^ buffer[i]) & 0xFF] ^ (crc >> 8);
        }

        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8 + data.Length), crc ^ 0xFFFFFFFFu);
        stream.Write(buffer);
    }
}
