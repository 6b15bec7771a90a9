using BenchmarkDotNet.Attributes;
using InceptionNet.Models;

namespace InceptionNet.Bench;

/// <summary>
/// face-api's ResNet-34 descriptor (150×150, real weights) on our engine. The peer numbers are face-api's own, measured by
/// the fixture on this machine class (tfjs wasm backend 18.1 ms, CPU backend 374 ms, single-threaded) — tfjs cannot run in
/// this process, so they are quoted, not re-measured.
/// </summary>
[MedianColumn] // the peer (faceapi_peer) reports a median; GoalSummary compares median with median
public class FaceApiBenchmarks : EncoderBenchmarks
{
    public override FaceEncoder Load() => FaceApiResNet34.Load(BenchData.PathOf("weights", "faceapi"));

    [Benchmark(Description = "face-api ResNet-34 (InceptionNet)")]
    public float Descriptor() => Encode();
}
