namespace InceptionNet.Vision;

/// <summary>Resizing functions named after the reference they reproduce exactly.</summary>
public static class Resize
{
    /// <summary>
    /// PIL <c>Image.resize(size, Image.NEAREST)</c> (the Keras <c>load_img</c> default): output pixel x samples source
    /// column floor((x + 0.5) · srcW / dstW), computed in double as Pillow's affine nearest transform does.
    /// </summary>
    public static RgbImage PilNearest(RgbImage source, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (width == source.Width && height == source.Height)
        {
            return source;
        }

        double scaleX = (double)source.Width / width;
        double scaleY = (double)source.Height / height;
        var xs = new int[width];
        for (int x = 0; x < width; x++)
        {
            xs[x] = Math.Min((int)((x + 0.5) * scaleX), source.Width - 1);
        }

        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min((int)((y + 0.5) * scaleY), source.Height - 1);
            int srcRow = sy * source.Width * 3;
            int dstRow = y * width * 3;
            for (int x = 0; x < width; x++)
            {
                int s = srcRow + xs[x] * 3;
                int d = dstRow + x * 3;
                pixels[d] = source.Pixels[s];
                pixels[d + 1] = source.Pixels[s + 1];
                pixels[d + 2] = source.Pixels[s + 2];
            }
        }

        return new RgbImage(width, height, pixels);
    }
}
