using BenchmarkDotNet.Attributes;
using InceptionNet.Detection;
using InceptionNet.Vision;

namespace InceptionNet.Bench;

/// <summary>MTCNN on a 1126×661 photo (two_people.jpg) and on a 96×96 course face.</summary>
[MemoryDiagnoser]
public class DetectBenchmarks
{
    private MtcnnDetector _detector = null!;
    private RgbImage _image = null!;

    [Params("faces/two_people.jpg", "course/kian.jpg")]
    public string File { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _detector = MtcnnDetector.Load(BenchData.PathOf("weights", "mtcnn"));
        _image = ImageDecoder.Decode(BenchData.PathOf(["images", .. File.Split('/')]));
    }

    [Benchmark(Description = "MTCNN detect")]
    public int Detect() => _detector.Detect(_image).Count;
}
