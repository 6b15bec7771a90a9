using System.Buffers;

namespace InceptionNet.Vision;

/// <summary>
/// Decodes JPEG and PNG files to RGB like PIL's <c>Image.open(p).convert("RGB")</c>: alpha is dropped (not blended),
/// grey is replicated to three channels. JPEG goes through <see cref="Jpeg.JpegDecoder"/>, byte-identical to
/// libjpeg-turbo; PNG through <see cref="Png.PngDecoder"/>, equal to Pillow's. Cost is bounded by the file: headers are
/// checked against the pixel budget and the bytes present before pixel memory is allocated.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Default limit on width·height, checked from the header before any pixel memory is allocated.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Decodes <paramref name="path"/>.</summary>
    /// <exception cref="InvalidImageException">Missing, empty, a directory, corrupt, unsupported, or above <paramref name="maxPixels"/>.</exception>
    public static RgbImage Decode(string path, long maxPixels = DefaultMaxPixels)
    {
        if (Directory.Exists(path))
        {
            throw new InvalidImageException(path, "is a directory, expected an image file.");
        }

        if (!File.Exists(path))
        {
            throw new InvalidImageException(path, "file not found.");
        }

        // The file is read into a rented array (returned once decoded), as the decoders rent their own buffers: a stream
        // of photos then leaves no large garbage behind.
        using var handle = File.OpenHandle(path);
        long length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength)
        {
            throw new InvalidImageException(path, $"{length} bytes is too large to read into one buffer.");
        }

        byte[] buffer = DecodeBuffers<byte>.Pool.Rent((int)length);
        try
        {
            int read = 0;
            for (int n; read < length && (n = RandomAccess.Read(handle, buffer.AsSpan(read, (int)length - read), read)) > 0;)
            {
                read += n;
            }

            return Decode(buffer.AsSpan(0, read), path, maxPixels);
        }
        finally
        {
            DecodeBuffers<byte>.Pool.Return(buffer);
        }
    }

    /// <summary>Decodes an in-memory file; <paramref name="name"/> is used in error messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return Decode(bytes.AsSpan(), name, maxPixels);
    }

    private static RgbImage Decode(ReadOnlySpan<byte> bytes, string name, long maxPixels)
    {
        if (bytes.Length == 0)
        {
            throw new InvalidImageException(name, "the file is empty (0 bytes).");
        }

        bool isJpeg = bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
        bool isPng = bytes.Length >= 8 && bytes[0] == 0x89 && bytes[1] == (byte)'P' && bytes[2] == (byte)'N' && bytes[3] == (byte)'G';
        if (!isJpeg && !isPng)
        {
            throw new InvalidImageException(name, "not a JPEG or PNG file (unrecognized signature).");
        }

        if (isJpeg)
        {
            return Jpeg.JpegDecoder.Decode(bytes, name, maxPixels);
        }

        return Png.PngDecoder.Decode(bytes, name, maxPixels);
    }
}
