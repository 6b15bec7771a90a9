using BenchmarkDotNet.Attributes;
using InceptionNet.Models;

namespace InceptionNet.Bench;

/// <summary>OpenFace nn4.small2 (96×96, course graph, fixture's synthetic weights) on our engine. No ONNX file of it exists to run a peer on.</summary>
[MemoryDiagnoser]
[Config(typeof(ModelBenchConfig))]
public class OpenFaceBenchmarks
{
    private OpenFaceNn4Small2 _model = null!;
    private float[] _input = [];
    private float[] _raw = [];

    [Params(1, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = OpenFaceNn4Small2.Load(BenchData.PathOf("fixtures", "openface-synthetic", "weights.h5"), OpenFaceVariant.Course);
        _input = BenchData.Batch(_model, Batch);
        _raw = new float[Batch * 128];
    }

    [Benchmark(Description = "OpenFace-96 (InceptionNet)")]
    public float Encode()
    {
        _model.Forward(_input, Batch, _raw);
        return _raw[0];
    }
}
