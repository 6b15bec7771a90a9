using System.Security.Cryptography;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

public sealed class JpegDecoderTests(ITestOutputHelper output)
{
    public static TheoryData<string> AllImages
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var entry in SharedData.Json("fixtures", "decode", "expected.json").GetProperty("images").EnumerateObject())
            {
                data.Add(entry.Name);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(AllImages))]
    public void Rgb_bytes_are_identical_to_libjpeg_turbo(string image)
    {
        var expected = SharedData.Json("fixtures", "decode", "expected.json").GetProperty("images").GetProperty(image);
        var decoded = ImageDecoder.Decode(SharedData.PathOf(image.Split('/')));
        Assert.Equal(expected.GetProperty("width").GetInt32(), decoded.Width);
        Assert.Equal(expected.GetProperty("height").GetInt32(), decoded.Height);
        foreach (var sample in expected.GetProperty("samples").EnumerateObject())
        {
            var yx = sample.Name.Split(',').Select(int.Parse).ToArray();
            var rgb = sample.Value.EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray();
            Assert.Equal(rgb, decoded.Pixels.AsSpan((yx[0] * decoded.Width + yx[1]) * 3, 3).ToArray());
        }

        if (image.StartsWith("images/course/", StringComparison.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(image);
            var reference = File.ReadAllBytes(SharedData.PathOf("fixtures", "decode", "course-rgb", name + ".rgb"));
            int differing = reference.Where((b, i) => b != decoded.Pixels[i]).Count();
            output.WriteLine($"{image}: {differing} bytes differ from course-rgb");
        }

        Assert.Equal(expected.GetProperty("rgb_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(decoded.Pixels)));
    }
}
