using BenchmarkDotNet.Attributes;
using InceptionNet.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace InceptionNet.Bench;

/// <summary>FaceNet-160 forward pass: our engine against ONNX Runtime on the same synthetic weights, 2 threads each.</summary>
public class FaceNetBenchmarks : EncoderBenchmarks
{
    private InferenceSession _ort = null!;
    private DenseTensor<float> _ortInput = null!;

    public override FaceEncoder Load() => FaceNetInceptionResNetV1.Load(BenchData.PathOf("fixtures", "facenet-synthetic", "weights.h5"));

    public override void Setup()
    {
        base.Setup();
        var options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _ort = new InferenceSession(BenchData.PathOf("fixtures", "facenet-synthetic", "model.onnx"), options);
        _ortInput = new DenseTensor<float>(Input, [Batch, 160, 160, 3]);
    }

    [GlobalCleanup]
    public void Cleanup() => _ort.Dispose();

    [Benchmark(Baseline = true, Description = "ONNX Runtime")]
    public float OnnxRuntime()
    {
        using var results = _ort.Run([NamedOnnxValue.CreateFromTensor("input", _ortInput)]);
        return results[0].AsTensor<float>().GetValue(0);
    }

    [Benchmark(Description = "InceptionNet")]
    public float InceptionNet() => Encode();
}
