using InceptionNet.Detection;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Detection.Tests;

/// <summary>
/// <see cref="MtcnnDetector.StageObserver"/> reports each stage the cascade runs, once, in order, and none it skips:
/// the bench's per-stage timing (<c>--quick --detect</c>) charges the time between two reports to the later stage.
/// </summary>
public sealed class MtcnnStageObserverTests
{
    private static readonly MtcnnStage[] Cascade =
        [MtcnnStage.Pyramid, MtcnnStage.PNet, MtcnnStage.RNetCrops, MtcnnStage.RNet, MtcnnStage.ONetCrops, MtcnnStage.ONet];

    [Fact]
    public void A_photo_with_faces_reports_all_six_stages_in_order()
    {
        var detector = MtcnnDetector.Load(SharedData.PathOf("weights", "mtcnn"));
        var seen = new List<MtcnnStage>();
        detector.StageObserver = seen.Add;
        var faces = detector.Detect(ImageDecoder.Decode(SharedData.PathOf("images", "faces", "two_people.jpg")));

        Assert.NotEmpty(faces);
        Assert.Equal(Cascade, seen);
    }

    [Fact]
    public void A_blank_photo_reports_only_the_stages_it_ran()
    {
        var detector = MtcnnDetector.Load(SharedData.PathOf("weights", "mtcnn"));
        var seen = new List<MtcnnStage>();
        detector.StageObserver = seen.Add;
        var blank = new byte[320 * 240 * 3];
        Array.Fill(blank, (byte)128);
        var faces = detector.Detect(new RgbImage(320, 240, blank));

        // Which stage a blank photo stops at is the networks' business; what it reports must match the counts it kept.
        // (It stops after P-Net with these weights, so the exit after R-Net is covered only by the code's shape.)
        var (_, pnetOut, rnetOut, _) = detector.LastStages;
        int expected = pnetOut == 0 ? 2 : rnetOut == 0 ? 4 : 6;
        Assert.Empty(faces);
        Assert.True(expected < 6, $"a blank photo kept {rnetOut} candidates after R-Net; the test wants one that stops early");
        Assert.Equal(Cascade[..expected], seen);
    }
}
