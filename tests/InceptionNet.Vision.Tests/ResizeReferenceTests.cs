using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

public sealed class ResizeReferenceTests(ITestOutputHelper output)
{
    [Fact]
    public void Pil_bilinear_reproduces_every_mtcnn_chip_byte_for_byte()
    {
        // fixtures/mtcnn/chips: PIL Image.crop(crop_ltrb).resize((160, 160), BILINEAR) of the libjpeg-turbo pixels, saved as PNG.
        var images = SharedData.Json("fixtures", "mtcnn", "expected.json").GetProperty("images");
        var decoded = new Dictionary<string, RgbImage>();
        int chips = 0;
        foreach (var image in images.EnumerateObject())
        {
            foreach (var face in image.Value.GetProperty("faces").EnumerateArray())
            {
                foreach (string kind in new[] { "chip_m0", "chip_dsb_m44" })
                {
                    var chip = face.GetProperty(kind);
                    var ltrb = chip.GetProperty("crop_ltrb").EnumerateArray().Select(v => v.GetInt32()).ToArray();
                    if (!decoded.TryGetValue(image.Name, out var source))
                    {
                        source = ImageDecoder.Decode(SharedData.PathOf(image.Name.Split('/')));
                        decoded[image.Name] = source;
                    }

                    var actual = Resize.PilBilinear(source.Crop(ltrb[0], ltrb[1], ltrb[2], ltrb[3]), 160, 160);
                    var expected = ImageDecoder.Decode(SharedData.PathOf(["fixtures", "mtcnn", .. chip.GetProperty("file").GetString()!.Split('/')]));
                    Assert.True(expected.Pixels.AsSpan().SequenceEqual(actual.Pixels), $"{chip.GetProperty("file")} differs");
                    chips++;
                }
            }
        }

        output.WriteLine($"{chips} chips identical");
        Assert.True(chips >= 40);
    }

    [Fact]
    public void Tf_bilinear_reproduces_the_face_api_150_inputs_exactly()
    {
        foreach (var course in SharedData.Json("fixtures", "faceapi", "expected.json").GetProperty("course").EnumerateArray())
        {
            var source = RgbImage.FromRawFile(SharedData.PathOf(course.GetProperty("rgb_file").GetString()!.Split('/')), 96, 96);
            var actual = Resize.TfBilinear(source, 150, 150);
            var bytes = File.ReadAllBytes(SharedData.PathOf(course.GetProperty("input150_f32").GetString()!.Split('/')));
            var expected = new float[bytes.Length / 4];
            Buffer.BlockCopy(bytes, 0, expected, 0, bytes.Length);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Pil_bilinear_identity_and_shapes()
    {
        var image = ImageDecoder.Decode(SharedData.CourseImageFile("kian"));
        Assert.Equal(image.Pixels, Resize.PilBilinear(image, 96, 96).Pixels);
        var tall = Resize.PilBilinear(image, 7, 301);
        Assert.Equal((7, 301), (tall.Width, tall.Height));
        Assert.Throws<ArgumentOutOfRangeException>(() => image.Crop(-1, 0, 10, 10));
    }
}
