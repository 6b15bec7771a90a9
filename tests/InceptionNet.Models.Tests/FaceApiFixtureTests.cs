using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using InceptionNet.Models;
using InceptionNet.TestSupport;
using InceptionNet.Tensors;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Models.Tests;

/// <summary>The real face-api weights, loaded once.</summary>
public sealed class FaceApiFixture
{
    public FaceApiFixture()
    {
        Model = FaceApiResNet34.Load(SharedData.PathOf("weights", "faceapi"));
        Expected = SharedData.Json("fixtures", "faceapi", "expected.json");
    }

    public FaceApiResNet34 Model { get; }

    public JsonElement Expected { get; }
}

public sealed class FaceApiFixtureTests(FaceApiFixture fixture, ITestOutputHelper output) : IClassFixture<FaceApiFixture>
{
    // The issue's bar: 1e-4 per component. The fixture README measures a different float32 summation order (tfjs CPU vs
    // wasm) at < 1e-6 per component; folding the scale layers into the filters and our blocked sums are of that kind.
    private const double DescriptorTolerance = 1e-4;

    [Fact]
    public void Chip_descriptors_match_face_api_for_all_20_chips()
    {
        var chips = fixture.Expected.GetProperty("chips").EnumerateArray().ToList();
        Assert.Equal(20, chips.Count);
        var images = chips.Select(c => ImageDecoder.Decode(SharedData.PathOf(c.GetProperty("chip").GetString()!))).ToList();
        Assert.All(images, i => Assert.Equal((150, 150), (i.Width, i.Height)));
        var encodings = fixture.Model.Encode(images, batchSize: 8);
        double worst = 0, worstDistance = 0;
        for (int i = 0; i < chips.Count; i++)
        {
            var expected = SharedData.Numbers(chips[i].GetProperty("descriptor"));
            worst = Math.Max(worst, TestData.MaxAbsDiff(encodings[i].Embedding, expected));
            worstDistance = Math.Max(worstDistance, ElementwiseOps.Distance(encodings[i].Embedding, expected.Select(v => (float)v).ToArray()));
        }

        output.WriteLine($"20 chips: max |ours − face-api| = {worst:E2} per component, max distance {worstDistance:E2}");
        Assert.True(worst <= DescriptorTolerance, $"max abs diff {worst:E3} > {DescriptorTolerance:E0}");
    }

    [Fact]
    public void Course_descriptors_match_face_api_from_the_decoded_96px_images()
    {
        // Pad (none: square) and tf bilinear 96 → 150 in our preprocessing; the fixture also gives the 150×150 floats.
        double worst = 0, worstInput = 0;
        foreach (var course in fixture.Expected.GetProperty("course").EnumerateArray())
        {
            var image = RgbImage.FromRawFile(SharedData.PathOf(course.GetProperty("rgb_file").GetString()!), 96, 96);
            var input = fixture.Model.Preprocess(image);
            var reference = File.ReadAllBytes(SharedData.PathOf(course.GetProperty("input150_f32").GetString()!));
            var referenceInput = MemoryMarshal.Cast<byte, float>(reference).ToArray();
            FaceApiResNet34.Normalize(referenceInput);
            worstInput = Math.Max(worstInput, TestData.MaxAbsDiff(input, referenceInput));
            var encoding = fixture.Model.EncodeInputs(input, 1)[0];
            worst = Math.Max(worst, TestData.MaxAbsDiff(encoding.Embedding, SharedData.Numbers(course.GetProperty("descriptor"))));
        }

        output.WriteLine($"18 course images: input max diff {worstInput:E2}, descriptor max diff {worst:E2}");
        Assert.Equal(0, worstInput);
        Assert.True(worst <= DescriptorTolerance, $"max abs diff {worst:E3} > {DescriptorTolerance:E0}");
    }

    [Fact]
    public void Resized_input_floats_are_the_fixture_files_byte_for_byte()
    {
        foreach (var course in fixture.Expected.GetProperty("course").EnumerateArray())
        {
            var image = RgbImage.FromRawFile(SharedData.PathOf(course.GetProperty("rgb_file").GetString()!), 96, 96);
            var resized = Resize.TfBilinear(FaceApiResNet34.PadToSquare(image), 150, 150);
            string sha = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(resized.AsSpan())));
            Assert.Equal(course.GetProperty("input150_sha256").GetString(), sha);
        }
    }

    [Fact]
    public void Layer_trace_matches_stage_by_stage()
    {
        // Every block of the andrew.jpg trace: shape, mean and the first 8 values (NHWC). Intermediate activations reach
        // ~10 in magnitude, so 1e-4 absolute is the same relative bar as the descriptor's.
        var trace = fixture.Expected.GetProperty("layer_trace").EnumerateArray().First(t => t.GetProperty("input").GetString()!.EndsWith("andrew.jpg", StringComparison.Ordinal));
        var layers = trace.GetProperty("layers").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!);
        var image = ImageDecoder.Decode(SharedData.CourseImageFile("andrew"));
        var seen = new Dictionary<string, float[]>();
        fixture.Model.StageObserver = (name, tensor) => seen[name] = tensor.ToArray();
        try
        {
            fixture.Model.Encode(image);
        }
        finally
        {
            fixture.Model.StageObserver = null; // the tests of a class run one at a time; leave the shared model as found
        }

        int compared = 0;
        foreach (var (name, values) in seen)
        {
            if (!layers.TryGetValue(name, out var expected))
            {
                continue;
            }

            var first8 = SharedData.Numbers(expected.GetProperty("first8"));
            double diff = TestData.MaxAbsDiff(values.AsSpan(0, 8).ToArray(), first8);
            double mean = values.Average(v => (double)v);
            output.WriteLine($"{name,-18} first8 diff {diff:E2}  mean {mean:F6} vs {expected.GetProperty("mean").GetDouble():F6}");
            Assert.True(diff <= 1e-4, $"{name}: first values differ by {diff:E3}");
            Assert.True(Math.Abs(mean - expected.GetProperty("mean").GetDouble()) <= 1e-4, $"{name}: mean differs");
            var shape = SharedData.Numbers(expected.GetProperty("shape"));
            Assert.Equal(shape.Aggregate(1.0, (a, b) => a * b), values.Length);
            compared++;
        }

        Assert.True(compared >= 16, $"only {compared} stages matched trace names: {string.Join(", ", seen.Keys)}");
    }

    [Fact]
    public void Architecture_and_identity()
    {
        Assert.Equal("faceapi", fixture.Model.ModelId);
        Assert.Equal(0.6, fixture.Model.DefaultThreshold);
        Assert.False(fixture.Model.NormalizesEmbedding);
        output.WriteLine($"multiply-adds per 150×150 image: {fixture.Model.MultiplyAddsPerImage:N0}");
        // Summed by hand from the README table: 24.4 M (7×7 stem) + 6×11.3 M (32-ch) + 16.0 M + 6×10.6 M (64-ch) + 14.2 M + 4×9.4 M
        // (128-ch) + 8.0 M + 4×9.4 M (256-ch) + 1.2 M + 32,768 (fc).
        Assert.Equal(270_854_144, fixture.Model.MultiplyAddsPerImage);
    }

    [Fact]
    public void Winograd_forms_cover_the_stride_1_3x3_layers_up_to_192_by_192_channels()
    {
        // From the architecture at 150 px: the stride-1 3×3s of the 32-, 64- and 128-channel stages (residual convolutions and
        // each down block's second one) run through F(2×2, 3×3); the strided first convolutions, the 256 × 256 ones (past the
        // cap, on 3×3 and 1×1 maps), the 7×7 stem and the fc do not.
        static long Saved(int count, int side, int channels) =>
            count * ((long)side * side * 9 - (long)((side + 1) / 2) * ((side + 1) / 2) * 16) * channels * channels;
        long saved = Saved(6, 35, 32) + Saved(7, 17, 64) + Saved(5, 8, 128);
        output.WriteLine($"performed multiply-adds per 150×150 image: {fixture.Model.PerformedMultiplyAddsPerImage:N0}");
        Assert.Equal(fixture.Model.MultiplyAddsPerImage - saved, fixture.Model.PerformedMultiplyAddsPerImage);
    }

    [Theory]
    [InlineData(96, 96, 0, 0)]
    [InlineData(4, 7, 2, 0)] // 3 columns missing: round(1.5) = 2 after, 1 before
    [InlineData(7, 4, 0, 2)]
    [InlineData(5, 7, 1, 0)] // 2 missing: 1 after, 1 before
    public void Pad_to_square_centres_like_face_api(int width, int height, int expectedAfterX, int expectedAfterY)
    {
        var pixels = Enumerable.Repeat((byte)200, width * height * 3).ToArray();
        var square = FaceApiResNet34.PadToSquare(new RgbImage(width, height, pixels));
        int side = Math.Max(width, height);
        Assert.Equal((side, side), (square.Width, square.Height));
        int beforeX = side - width - expectedAfterX, beforeY = side - height - expectedAfterY;
        for (int y = 0; y < side; y++)
        {
            for (int x = 0; x < side; x++)
            {
                bool inside = x >= beforeX && x < beforeX + width && y >= beforeY && y < beforeY + height;
                Assert.Equal(inside ? 200 : 0, square.Pixels[(y * side + x) * 3]);
            }
        }
    }
}
