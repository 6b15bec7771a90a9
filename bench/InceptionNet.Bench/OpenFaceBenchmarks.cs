using BenchmarkDotNet.Attributes;
using InceptionNet.Models;

namespace InceptionNet.Bench;

/// <summary>OpenFace nn4.small2 (96×96, course graph, fixture's synthetic weights) on our engine. No ONNX file of it exists to run a peer on.</summary>
public class OpenFaceBenchmarks : EncoderBenchmarks
{
    public override FaceEncoder Load() =>
        OpenFaceNn4Small2.Load(BenchData.PathOf("fixtures", "openface-synthetic", "weights.h5"), OpenFaceVariant.Course);

    [Benchmark(Description = "OpenFace-96 (InceptionNet)")]
    public float Run() => Encode();
}
