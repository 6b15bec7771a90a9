namespace InceptionNet.Vision;

/// <summary>An 8-bit RGB image, rows top to bottom, 3 bytes per pixel (the layout PIL's <c>tobytes()</c> gives).</summary>
public sealed class RgbImage
{
    /// <summary>Wraps <paramref name="pixels"/> (length width·height·3).</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width < 1 || height < 1 || pixels.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"{pixels.Length} bytes do not make a {width}x{height} RGB image.");
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>RGB bytes, row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>The rectangle [left, right) × [top, bottom), which must lie inside the image (PIL <c>Image.crop</c>).</summary>
    public RgbImage Crop(int left, int top, int right, int bottom)
    {
        if (left < 0 || top < 0 || right > Width || bottom > Height || right <= left || bottom <= top)
        {
            throw new ArgumentOutOfRangeException(nameof(left), $"Crop ({left}, {top}, {right}, {bottom}) is not inside the {Width}x{Height} image.");
        }

        int w = right - left, h = bottom - top;
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
        {
            Pixels.AsSpan(((top + y) * Width + left) * 3, w * 3).CopyTo(pixels.AsSpan(y * w * 3));
        }

        return new RgbImage(w, h, pixels);
    }

    /// <summary>Reads raw RGB bytes (as in the decode fixture's <c>.rgb</c> files) of a known size.</summary>
    public static RgbImage FromRawFile(string path, int width, int height)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != width * height * 3)
        {
            throw new InvalidImageException(path, $"has {bytes.Length} bytes, a raw {width}x{height} RGB image has {width * height * 3}.");
        }

        return new RgbImage(width, height, bytes);
    }
}
