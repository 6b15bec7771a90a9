using BenchmarkDotNet.Attributes;
using InceptionNet.Models;

namespace InceptionNet.Bench;

/// <summary>
/// face-api's ResNet-34 descriptor (150×150, real weights) on our engine. The peer numbers are face-api's own, measured by
/// the fixture on this machine class (tfjs wasm backend 18.1 ms, CPU backend 374 ms, single-threaded) — tfjs cannot run in
/// this process, so they are quoted, not re-measured.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ModelBenchConfig))]
public class FaceApiBenchmarks
{
    private FaceApiResNet34 _model = null!;
    private float[] _input = [];
    private float[] _raw = [];

    [Params(1, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = FaceApiResNet34.Load(BenchData.PathOf("weights", "faceapi"));
        _input = BenchData.Batch(_model, Batch);
        _raw = new float[Batch * 128];
    }

    [Benchmark(Description = "face-api ResNet-34 (InceptionNet)")]
    public float Descriptor()
    {
        _model.Forward(_input, Batch, _raw);
        return _raw[0];
    }
}
