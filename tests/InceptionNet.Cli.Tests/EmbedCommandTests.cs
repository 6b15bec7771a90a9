using System.Text.Json;
using InceptionNet.Cli;
using InceptionNet.TestSupport;
using Xunit;
using static InceptionNet.Cli.Tests.CliRunner;
using Xunit.Abstractions;

namespace InceptionNet.Cli.Tests;

public sealed class EmbedCommandTests(ITestOutputHelper output)
{
    private static readonly string FaceNetWeights = SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5");
    private static readonly string OpenFaceWeights = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");

    [Fact]
    public void Json_output_has_the_documented_shape_and_is_normalized()
    {
        string image = SharedData.CourseImageFile("camera_0");
        var (exit, stdout, stderr) = Run("embed", "--model", "openface", "--weights", OpenFaceWeights, "--json", image, SharedData.CourseImageFile("danielle"));
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2, doc.RootElement.GetArrayLength());
        var first = doc.RootElement[0];
        Assert.Equal(image, first.GetProperty("image").GetString());
        var embedding = SharedData.Numbers(first.GetProperty("embedding"));
        var raw = SharedData.Numbers(first.GetProperty("raw"));
        Assert.Equal(128, embedding.Length);
        Assert.Equal(128, raw.Length);
        Assert.Equal(1.0, Math.Sqrt(embedding.Sum(v => v * v)), 6);
        Assert.True(Math.Sqrt(raw.Sum(v => v * v)) > 1.5, "raw is the pre-normalization output");
    }

    [Theory]
    [InlineData("facenet")]
    [InlineData("openface")]
    [InlineData("openface-keras")]
    public void Jpeg_files_give_the_fixture_encodings_within_the_engine_tolerance(string model)
    {
        // End to end from the .jpg files: our decoder is bit-exact with libjpeg-turbo, so the tolerances are the same as
        // for the tests that feed the fixture's decoded pixels (raw/dense 1e-4, embedding 1e-5; see the fixture READMEs).
        var images = SharedData.CourseImages.Select(SharedData.CourseImageFile).ToArray();
        var (exit, stdout, stderr) = Run(["embed", "--model", model, "--weights", model == "facenet" ? FaceNetWeights : OpenFaceWeights, "--json", .. images]);
        Assert.True(exit == 0, stderr);
        var expected = SharedData.Json("fixtures", model == "facenet" ? "facenet-synthetic" : "openface-synthetic", "expected.json");
        if (model != "facenet")
        {
            expected = expected.GetProperty(model == "openface" ? "course" : "keras_openface");
        }

        using var doc = JsonDocument.Parse(stdout);
        double worstEmbedding = 0, worstRaw = 0;
        for (int i = 0; i < images.Length; i++)
        {
            var reference = expected.GetProperty("encodings").GetProperty(SharedData.CourseImages[i]);
            var embedding = SharedData.Numbers(doc.RootElement[i].GetProperty("embedding"));
            var raw = SharedData.Numbers(doc.RootElement[i].GetProperty("raw"));
            worstEmbedding = Math.Max(worstEmbedding, embedding.Zip(SharedData.Numbers(reference.GetProperty("embedding")), (a, b) => Math.Abs(a - b)).Max());
            worstRaw = Math.Max(worstRaw, raw.Zip(SharedData.Numbers(reference.GetProperty(model == "facenet" ? "raw" : "dense")), (a, b) => Math.Abs(a - b)).Max());
        }

        output.WriteLine($"{model}: .jpg files → max |embedding − fixture| = {worstEmbedding:E2}, max |raw − fixture| = {worstRaw:E2}");
        Assert.InRange(worstEmbedding, 0, 1e-5);
        Assert.InRange(worstRaw, 0, 1e-4);
    }

    [Fact]
    public void A_bad_image_is_reported_by_name_and_the_good_ones_are_still_encoded()
    {
        string missing = Path.Combine(Path.GetTempPath(), "inceptionnet-no-such-file.jpg");
        var (exit, stdout, stderr) = Run("embed", "--model", "openface", "--weights", OpenFaceWeights, "--json", SharedData.CourseImageFile("kian"), missing);
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains($"error: {missing}: file not found.", stderr, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(1, doc.RootElement.GetArrayLength());
    }

    [Fact]
    public void Missing_weights_and_usage_errors_exit_2_with_a_message()
    {
        var (exit, _, stderr) = Run("embed", "--weights", "/nonexistent/model.h5", SharedData.CourseImageFile("kian"));
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("no weights found for model 'facenet'", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = Run("embed", "--model", "vgg", SharedData.CourseImageFile("kian"));
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("vgg", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = Run("embed", "--batch", "0", "--weights", OpenFaceWeights, SharedData.CourseImageFile("kian"));
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("--batch must be at least 1", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Weights_of_the_wrong_model_are_a_clear_error()
    {
        var (exit, _, stderr) = Run("embed", "--model", "facenet", "--weights", OpenFaceWeights, SharedData.CourseImageFile("kian"));
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("missing weight 'Conv2d_1a_3x3/kernel'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Human_summary_lists_each_image()
    {
        var (exit, stdout, stderr) = Run("embed", "--model", "openface", "--weights", OpenFaceWeights, SharedData.CourseImageFile("younes"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("younes.jpg: 96x96 → 128-d", stdout, StringComparison.Ordinal);
        Assert.Contains("Encoded 1 image(s)", stderr, StringComparison.Ordinal);
    }
}
