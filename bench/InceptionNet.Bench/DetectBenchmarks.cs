using BenchmarkDotNet.Attributes;
using InceptionNet.Detection;
using InceptionNet.Vision;

namespace InceptionNet.Bench;

/// <summary>MTCNN on 1280×720-class photos (two_people.jpg 1126×661, obama1.jpg 1480×832) and on a 96×96 course face.</summary>
[MemoryDiagnoser]
[MedianColumn] // the peer (tools/mtcnn_peer_timing.py) reports medians; GoalSummary compares median with median
public class DetectBenchmarks
{
    private MtcnnDetector _detector = null!;
    private RgbImage _image = null!;

    [Params("faces/two_people.jpg", "faces/test/obama1.jpg", "course/kian.jpg")]
    public string File { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _detector = MtcnnDetector.Load(BenchData.PathOf("weights", "mtcnn"));
        _image = ImageDecoder.Decode(BenchData.PathOf(["images", .. File.Split('/')]));
    }

    /// <summary>The detector of the last <see cref="Setup"/> (the quick report times its stages).</summary>
    internal MtcnnDetector Detector => _detector;

    [Benchmark(Description = "MTCNN detect")]
    public int Detect() => _detector.Detect(_image).Count;
}
