using InceptionNet.Vision;

namespace InceptionNet.Server.Tests.Kiosk;

/// <summary>
/// A fake camera's video: a Y4M file (<c>YUV4MPEG2 W H F5:1 Ip A1:1 C420jpeg</c>, then <c>FRAME\n</c> and the Y, U, V
/// planes per frame) of one photo decoded with our own decoder, for Chromium's <c>--use-file-for-fake-video-capture</c>.
/// </summary>
internal static class Y4mWriter
{
    /// <summary>Writes <paramref name="frames"/> frames of <paramref name="photo"/>, scaled so its width is <paramref name="width"/> (even sizes).</summary>
    public static void Write(string path, string photo, int width = 640, int frames = 5)
    {
        var source = ImageDecoder.Decode(photo);
        int height = (int)Math.Round(source.Height * (double)width / source.Width / 2) * 2;
        var image = Resize.PilBilinear(source, width, height);
        // C420jpeg: full-range BT.601 (JFIF) YCbCr, chroma averaged over 2×2 blocks.
        byte[] y = new byte[width * height], u = new byte[width * height / 4], v = new byte[width * height / 4];
        for (int p = 0; p < width * height; p++)
        {
            y[p] = Clamp(0.299 * R(image, p) + 0.587 * G(image, p) + 0.114 * B(image, p));
        }

        for (int cy = 0; cy < height / 2; cy++)
        {
            for (int cx = 0; cx < width / 2; cx++)
            {
                double cb = 0, cr = 0;
                foreach (int p in new[] { 2 * cy * width + 2 * cx, 2 * cy * width + 2 * cx + 1, (2 * cy + 1) * width + 2 * cx, (2 * cy + 1) * width + 2 * cx + 1 })
                {
                    cb += -0.168736 * R(image, p) - 0.331264 * G(image, p) + 0.5 * B(image, p) + 128;
                    cr += 0.5 * R(image, p) - 0.418688 * G(image, p) - 0.081312 * B(image, p) + 128;
                }

                u[cy * (width / 2) + cx] = Clamp(cb / 4);
                v[cy * (width / 2) + cx] = Clamp(cr / 4);
            }
        }

        using var file = File.Create(path);
        file.Write(System.Text.Encoding.ASCII.GetBytes($"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n"));
        for (int f = 0; f < frames; f++)
        {
            file.Write("FRAME\n"u8);
            file.Write(y);
            file.Write(u);
            file.Write(v);
        }
    }

    private static double R(RgbImage image, int p) => image.Pixels[p * 3];

    private static double G(RgbImage image, int p) => image.Pixels[p * 3 + 1];

    private static double B(RgbImage image, int p) => image.Pixels[p * 3 + 2];

    private static byte Clamp(double value) => (byte)Math.Clamp(Math.Round(value), 0, 255);
}
