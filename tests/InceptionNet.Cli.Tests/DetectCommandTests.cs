using System.Text.Json;
using InceptionNet.Cli;
using InceptionNet.TestSupport;
using Xunit;
using static InceptionNet.Cli.Tests.CliRunner;

namespace InceptionNet.Cli.Tests;

public sealed class DetectCommandTests
{
    [Fact]
    public void Json_lists_every_face_with_box_probability_and_five_landmarks()
    {
        string photo = SharedData.PathOf("images", "faces", "two_people.jpg");
        var (exit, stdout, stderr) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", photo);
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var faces = doc.RootElement[0].GetProperty("faces");
        Assert.Equal(photo, doc.RootElement[0].GetProperty("image").GetString());
        Assert.Equal(2, faces.GetArrayLength());
        var expected = SharedData.Json("fixtures", "mtcnn", "expected.json").GetProperty("images").GetProperty("images/faces/two_people.jpg").GetProperty("faces");
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(4, faces[i].GetProperty("box").GetArrayLength());
            Assert.Equal(5, faces[i].GetProperty("landmarks").GetArrayLength());
            Assert.InRange(faces[i].GetProperty("box")[0].GetDouble() - expected[i].GetProperty("box")[0].GetDouble(), -1, 1);
        }

        (exit, stdout, _) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--json", "--largest", photo);
        using var largest = JsonDocument.Parse(stdout);
        Assert.Equal(1, largest.RootElement[0].GetProperty("faces").GetArrayLength());
    }

    [Fact]
    public void Draw_writes_a_png_with_boxes_and_landmarks()
    {
        string photo = SharedData.PathOf("images", "faces", "two_people.jpg");
        string output = Path.Combine(Path.GetTempPath(), $"inceptionnet-draw-{Guid.NewGuid():N}.png");
        try
        {
            var (exit, _, stderr) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "--draw", output, photo);
            Assert.True(exit == 0, stderr);
            var drawn = InceptionNet.Vision.ImageDecoder.Decode(output);
            var source = InceptionNet.Vision.ImageDecoder.Decode(photo);
            Assert.Equal((source.Width, source.Height), (drawn.Width, drawn.Height));
            int o = (27 * drawn.Width + 300) * 3; // top edge of the first box (y1 = 27.06)
            Assert.Equal(new byte[] { 0, 255, 0 }, drawn.Pixels[o..(o + 3)]);
            int l = (98 * drawn.Width + 289) * 3; // its left eye (289.3, 98.2)
            Assert.Equal(new byte[] { 255, 0, 0 }, drawn.Pixels[l..(l + 3)]);
            Assert.Equal(source.Pixels[..300], drawn.Pixels[..300]); // untouched elsewhere
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void Missing_weights_or_photos_exit_2()
    {
        var (exit, _, stderr) = Run("detect", "--mtcnn", "/nonexistent", SharedData.CourseImageFile("kian"));
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("no det1.npy", stderr, StringComparison.Ordinal);
        (exit, _, stderr) = Run("detect", "--mtcnn", SharedData.PathOf("weights", "mtcnn"), "/nonexistent.jpg");
        Assert.Equal(CliApp.Error, exit);
        Assert.Contains("file not found", stderr, StringComparison.Ordinal);
    }
}

public sealed class DetectOptionTests : IDisposable
{
    private static readonly string Weights = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-detect-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Ordinary_photos_work_with_detect_and_a_faceless_photo_exits_1()
    {
        string mtcnn = SharedData.PathOf("weights", "mtcnn");
        string gallery = Path.Combine(_dir, "g.json");
        string twoPeople = SharedData.PathOf("images", "faces", "two_people.jpg");
        var (exit, _, stderr) = Run("enroll", "--gallery", gallery, "--model", "openface", "--weights", Weights, "--name", "left",
            "--detect", "--largest", "--mtcnn", mtcnn, twoPeople);
        Assert.True(exit == 0, stderr);

        var (code, stdout, err) = Run("identify", "--gallery", gallery, "--weights", Weights, "--detect", "--mtcnn", mtcnn, "--ambiguity-margin", "0", "--json", twoPeople);
        Assert.True(code is 0 or 1, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2, doc.RootElement.GetArrayLength()); // every face of the photo
        Assert.EndsWith("#0", doc.RootElement[0].GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.Contains(Enumerable.Range(0, 2), i => doc.RootElement[i].GetProperty("distance").GetDouble() < 1e-6); // the enrolled face itself

        string blank = Path.Combine(_dir, "blank.png");
        InceptionNet.Vision.PngEncoder.Write(blank, 64, 48, Enumerable.Repeat((byte)128, 64 * 48 * 3).ToArray()); // a grey wall
        byte[] before = File.ReadAllBytes(gallery);
        (exit, _, stderr) = Run("enroll", "--gallery", gallery, "--weights", Weights, "--name", "nobody", "--detect", "--mtcnn", mtcnn, blank, twoPeople);
        Assert.Equal(CliApp.Rejected, exit);
        Assert.Contains("no face found", stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(gallery));
    }
}
