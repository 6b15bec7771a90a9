using BenchmarkDotNet.Attributes;
using InceptionNet.Vision;
using InceptionNet.Vision.Jpeg;
using StbImageSharp;

namespace InceptionNet.Bench;

/// <summary>JPEG decoding to RGB: our libjpeg-turbo-exact decoder against StbImageSharp, same files, one thread.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private byte[] _bytes = [];

    [Params("faces/test/obama_and_biden.jpg", "faces/test/obama1.jpg", "faces/misc/obama3.jpg")]
    public string File { get; set; } = "";

    [GlobalSetup]
    public void Setup() => _bytes = System.IO.File.ReadAllBytes(BenchData.PathOf(["images", .. File.Split('/')]));

    [Benchmark(Baseline = true, Description = "StbImageSharp")]
    public int Stb() => ImageResult.FromMemory(_bytes, ColorComponents.RedGreenBlue).Data.Length;

    [Benchmark(Description = "InceptionNet JpegDecoder")]
    public int Ours() => JpegDecoder.Decode(_bytes, File).Pixels.Length;
}
