using BenchmarkDotNet.Attributes;
using InceptionNet.Models;

namespace InceptionNet.Bench;

/// <summary>A benchmark of one network; the GFLOP/s column loads it to count its multiply-adds.</summary>
public interface IModelBenchmark
{
    /// <summary>Loads the network under test.</summary>
    FaceEncoder Load();
}

/// <summary>
/// What every face-encoder benchmark shares: the model (from <see cref="Load"/>), a batch of course images and the output
/// buffer. Derived classes name their own [Benchmark] method, which calls <see cref="Encode"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ModelBenchConfig))]
public abstract class EncoderBenchmarks : IModelBenchmark
{
    private FaceEncoder _model = null!;
    private float[] _raw = [];

    [Params(1, 16)]
    public int Batch { get; set; }

    /// <summary>The course batch, preprocessed for the model.</summary>
    protected float[] Input { get; private set; } = [];

    /// <summary>Loads the network under test (also used by the GFLOP/s column to count its multiply-adds).</summary>
    public abstract FaceEncoder Load();

    [GlobalSetup]
    public virtual void Setup()
    {
        _model = Load();
        Input = BenchData.Batch(_model, Batch);
        _raw = new float[Batch * 128];
    }

    /// <summary>One forward pass of the batch on our engine.</summary>
    protected float Encode()
    {
        _model.Forward(Input, Batch, _raw);
        return _raw[0];
    }
}
