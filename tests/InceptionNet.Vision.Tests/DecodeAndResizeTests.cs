using System.Security.Cryptography;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

public sealed class DecodeAndResizeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-vision-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static System.Text.Json.JsonElement Images => SharedData.Json("fixtures", "decode", "expected.json").GetProperty("images");

    [Fact]
    public void Pil_nearest_160_is_byte_identical_for_every_course_image()
    {
        foreach (string name in SharedData.CourseImages)
        {
            var source = RgbImage.FromRawFile(SharedData.PathOf("fixtures", "decode", "course-rgb", name + ".rgb"), 96, 96);
            var resized = Resize.PilNearest(source, 160, 160);
            Assert.Equal(File.ReadAllBytes(SharedData.PathOf("fixtures", "decode", "course-rgb", name + ".nearest160.rgb")), resized.Pixels);
            string key = Path.GetRelativePath(SharedData.Root, SharedData.CourseImageFile(name));
            Assert.Equal(Images.GetProperty(key).GetProperty("nearest160_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(resized.Pixels)));
        }
    }

    [Fact]
    public void Pil_nearest_downscale_and_identity()
    {
        var source = new RgbImage(4, 1, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        // x = 0 → floor(0.5·2) = 1; x = 1 → floor(1.5·2) = 3 (Pillow's pixel-centre mapping).
        Assert.Equal(new byte[] { 1, 1, 1, 3, 3, 3 }, Resize.PilNearest(source, 2, 1).Pixels);
        Assert.Same(source, Resize.PilNearest(source, 4, 1));
    }

    [Fact]
    public void Rgba_png_drops_alpha_exactly_like_pil()
    {
        var image = ImageDecoder.Decode(SharedData.CourseImageFile("danielle"));
        var expected = Images.GetProperty("images/course/danielle.png");
        Assert.Equal(expected.GetProperty("rgb_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(image.Pixels)));
    }

    [Fact]
    public void Empty_missing_directory_and_unknown_format_are_clear_errors()
    {
        string empty = Path.Combine(_dir, "empty.jpg");
        File.WriteAllBytes(empty, []);
        Assert.Equal($"{empty}: the file is empty (0 bytes).", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(empty)).Message);
        Assert.Contains("is a directory", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(_dir)).Message, StringComparison.Ordinal);
        Assert.Contains("file not found", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(Path.Combine(_dir, "x.jpg"))).Message, StringComparison.Ordinal);
        string text = Path.Combine(_dir, "text.jpg");
        File.WriteAllText(text, "hello");
        Assert.Contains("not a JPEG or PNG", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(text)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_and_truncated_jpegs_fail_cleanly_or_decode_to_the_declared_size()
    {
        byte[] original = File.ReadAllBytes(SharedData.CourseImageFile("kian"));
        var random = new Random(160);
        var cases = new List<byte[]> { original[..2], original[..20], original[..(original.Length / 3)], original[..^2] };
        for (int i = 0; i < 50; i++)
        {
            var mutated = (byte[])original.Clone();
            for (int flips = 0; flips < 4; flips++)
            {
                mutated[random.Next(2, mutated.Length)] = (byte)random.Next(256);
            }

            cases.Add(mutated);
        }

        foreach (var truncated in cases.Take(4))
        {
            Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(truncated, "truncated.jpg"));
        }

        int refused = 0;
        foreach (var bytes in cases)
        {
            try
            {
                var image = ImageDecoder.Decode(bytes, "mutated.jpg");
                Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
            }
            catch (InvalidImageException ex)
            {
                Assert.StartsWith("mutated.jpg: ", ex.Message, StringComparison.Ordinal);
                refused++;
            }
        }

        output.WriteLine($"{refused} of {cases.Count} damaged files refused with InvalidImageException; the rest decoded to a well-formed image");
        Assert.True(refused >= 4);
    }

    [Fact]
    public void Huge_declared_dimensions_are_refused_before_allocating()
    {
        byte[] bytes = File.ReadAllBytes(SharedData.CourseImageFile("kian"));
        int sof = FindSof(bytes);
        // SOF0 payload: length(2) precision(1) height(2) width(2): declare 60000×60000.
        bytes[sof + 5] = 0xEA; bytes[sof + 6] = 0x60; bytes[sof + 7] = 0xEA; bytes[sof + 8] = 0x60;
        var ex = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(bytes, "huge.jpg", maxPixels: 50_000_000));
        Assert.Contains("60000x60000 is above the limit", ex.Message, StringComparison.Ordinal);
    }

    private static int FindSof(byte[] bytes)
    {
        for (int i = 2; i < bytes.Length - 1; i++)
        {
            if (bytes[i] == 0xFF && bytes[i + 1] is 0xC0 or 0xC1 or 0xC2)
            {
                return i;
            }
        }

        throw new InvalidOperationException("no SOF marker");
    }
}
