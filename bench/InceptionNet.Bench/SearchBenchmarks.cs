using BenchmarkDotNet.Attributes;
using InceptionNet.Recognition;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>
/// 1:N identification over N random unit vectors (one identity each), all cores: the gallery's search (through its int8
/// shadow from <see cref="QuantizedRows.MinRows"/> rows on), the float scan, and the float scan through a shadow.
/// </summary>
[MemoryDiagnoser]
public class SearchBenchmarks
{
    private GalleryIndex _index = null!;
    private float[] _query = [];

    [Params(10_000, 100_000, 1_000_000)]
    public int N { get; set; }

    private float[] _vectors = [];
    private int[] _owner = [];
    private float[] _distances = [];
    private QuantizedRows _shadow = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_index, _query) = Build(N);
        _vectors = RandomUnitVectors(N, 128);
        _owner = Enumerable.Range(0, N).ToArray();
        _distances = new float[N];
        _shadow = new QuantizedRows(_vectors, 128);
    }

    [Benchmark(Description = "identify (top two identities)")]
    public double Identify() => _index.TopTwo(_query).Best!.Value.Distance;

    [Benchmark(Description = "VectorSearch.NearestTwo (inline below 2^21 values)")]
    public int NearestTwo() => VectorSearch.NearestTwo(_vectors, 128, _query, _owner, _distances, KernelSet.Default, WorkerPool.Shared).Nearest;

    [Benchmark(Description = "VectorSearch.NearestTwo, int8 first pass")]
    public int NearestTwoInt8() => VectorSearch.NearestTwo(_vectors, 128, _query, _owner, _distances, _shadow, KernelSet.Default, WorkerPool.Shared).Nearest;

    internal static (GalleryIndex Index, float[] Query) Build(int n)
    {
        const int dim = 128;
        var vectors = RandomUnitVectors(n, dim);
        var owner = Enumerable.Range(0, n).ToArray();
        var names = owner.Select(i => $"person{i}").ToArray();
        return (new GalleryIndex(vectors, owner, names, dim), vectors.AsSpan(0, dim).ToArray());
    }

    /// <summary>n random unit vectors of dim values, one after the other (the same ones for the same n and dim).</summary>
    internal static float[] RandomUnitVectors(int n, int dim)
    {
        var random = new Random(1234);
        var vectors = new float[n * dim];
        for (int r = 0; r < n; r++)
        {
            double norm = 0;
            for (int j = 0; j < dim; j++)
            {
                float v = (float)(random.NextDouble() * 2 - 1);
                vectors[r * dim + j] = v;
                norm += v * v;
            }

            for (int j = 0; j < dim; j++)
            {
                vectors[r * dim + j] = (float)(vectors[r * dim + j] / Math.Sqrt(norm));
            }
        }

        return vectors;
    }
}
