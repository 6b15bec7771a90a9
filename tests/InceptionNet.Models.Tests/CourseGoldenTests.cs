using InceptionNet.Models;
using InceptionNet.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Models.Tests;

/// <summary>
/// The course's published values with the real pretrained weights. The real files are not on our machines; these tests
/// run whenever one is present ($INCEPTIONNET_FACENET_H5 / weights/facenet/model.h5; $INCEPTIONNET_OPENFACE_WEIGHTS /
/// weights/openface/…) and are reported as skipped, with the paths tried, when it is not.
/// </summary>
public sealed class CourseGoldenTests(ITestOutputHelper output)
{
    // Course notebooks print 7-8 significant digits; 1e-4 absorbs our float32 summation order and the decoder.
    private const double Tolerance = 1e-4;

    [SkippableFact]
    public void FaceNet_real_weights_reproduce_the_course_distances()
    {
        string path = Find("INCEPTIONNET_FACENET_H5", ["facenet/model.h5", "keras-facenet-h5/model.h5"]);
        var model = FaceNetInceptionResNetV1.Load(path);
        var younes = model.Encode(SharedData.CourseImageFile("younes"));
        double d0 = model.Encode(SharedData.CourseImageFile("camera_0")).DistanceTo(younes);
        double d2 = model.Encode(SharedData.CourseImageFile("camera_2")).DistanceTo(model.Encode(SharedData.CourseImageFile("kian")));
        output.WriteLine($"FaceNet real: camera_0/younes {d0:F7} (0.5992949), camera_2/kian {d2:F7} (1.0259346)");
        Assert.InRange(d0, 0.5992949 - Tolerance, 0.5992949 + Tolerance);
        Assert.InRange(d2, 1.0259346 - Tolerance, 1.0259346 + Tolerance);
        Assert.Equal(0.0, younes.DistanceTo(model.Encode(SharedData.CourseImageFile("younes"))), 4);
        Assert.True(d0 < 0.7 && d2 >= 0.7, "camera_0 opens the door as younes, camera_2 does not as kian");
    }

    [SkippableFact]
    public void OpenFace_real_weights_reproduce_the_course_distances()
    {
        string path = Find("INCEPTIONNET_OPENFACE_WEIGHTS", ["openface/nn4.small2.v1.h5", "openface/weights.h5", "openface/csv"]);
        var model = OpenFaceNn4Small2.Load(path, OpenFaceVariant.Course);
        double d0 = model.Encode(SharedData.CourseImageFile("camera_0")).DistanceTo(model.Encode(SharedData.CourseImageFile("younes")));
        double d2 = model.Encode(SharedData.CourseImageFile("camera_2")).DistanceTo(model.Encode(SharedData.CourseImageFile("kian")));
        output.WriteLine($"OpenFace real: camera_0/younes {d0:F8} (0.65939283), camera_2/kian {d2:F8} (0.86224014)");
        Assert.InRange(d0, 0.65939283 - Tolerance, 0.65939283 + Tolerance);
        Assert.InRange(d2, 0.86224014 - Tolerance, 0.86224014 + Tolerance);
    }

    private static string Find(string variable, string[] relative)
    {
        var tried = new List<string>();
        string? fromEnvironment = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            tried.Add(fromEnvironment);
        }

        foreach (string root in new[] { Path.Combine(SharedData.RepoRoot, "weights"), SharedData.PathOf("weights") })
        {
            tried.AddRange(relative.Select(r => Path.Combine(root, r)));
        }

        string? found = tried.FirstOrDefault(p => File.Exists(p) || Directory.Exists(p));
        Skip.If(found is null, $"skipped: real weights not found (tried {string.Join(", ", tried)})");
        return found!;
    }
}
