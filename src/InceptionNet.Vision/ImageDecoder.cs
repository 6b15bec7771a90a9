using StbImageSharp;

namespace InceptionNet.Vision;

/// <summary>
/// Decodes JPEG and PNG files to RGB like PIL's <c>Image.open(p).convert("RGB")</c>: alpha is dropped (not blended),
/// grey is replicated to three channels. JPEG goes through <see cref="Jpeg.JpegDecoder"/>, byte-identical to
/// libjpeg-turbo; PNG (lossless) through StbImageSharp.
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

        byte[] bytes = File.ReadAllBytes(path);
        return Decode(bytes, path, maxPixels);
    }

    /// <summary>Decodes an in-memory file; <paramref name="name"/> is used in error messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(bytes);
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

        ImageInfo? info;
        try
        {
            using var header = new MemoryStream(bytes, writable: false);
            info = ImageInfo.FromStream(header);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidImageException(name, $"corrupt {(isJpeg ? "JPEG" : "PNG")} header ({ex.Message}).", ex);
        }

        if (info is null || info.Value.Width <= 0 || info.Value.Height <= 0)
        {
            throw new InvalidImageException(name, $"corrupt {(isJpeg ? "JPEG" : "PNG")}: no valid image header.");
        }

        long pixels = (long)info.Value.Width * info.Value.Height;
        if (pixels > maxPixels)
        {
            throw new InvalidImageException(name, $"{info.Value.Width}x{info.Value.Height} is above the limit of {maxPixels} pixels.");
        }

        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidImageException(name, $"corrupt {(isJpeg ? "JPEG" : "PNG")} data ({ex.Message}).", ex);
        }

        if (result?.Data is null || result.Width != info.Value.Width || result.Height != info.Value.Height
            || result.Data.Length != (long)result.Width * result.Height * 3)
        {
            throw new InvalidImageException(name, "the decoder returned no usable pixels (corrupt or truncated file).");
        }

        return new RgbImage(result.Width, result.Height, result.Data);
    }
}
