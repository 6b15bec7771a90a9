using InceptionNet.Tensors;

namespace InceptionNet.Graph;

/// <summary>What a forward pass runs on: the activation pool, the worker threads and the vector width.</summary>
public sealed class ExecutionContext
{
    /// <summary>Creates a context; defaults are the shared worker pool and <see cref="Simd.Default"/>.</summary>
    public ExecutionContext(WorkerPool? workers = null, SimdLevel? level = null)
    {
        Workers = workers ?? WorkerPool.Shared;
        Level = Simd.Clamp(level ?? Simd.Default);
    }

    /// <summary>Activation buffers, reused across passes.</summary>
    public TensorPool Pool { get; } = new();

    /// <summary>Threads that run the kernels.</summary>
    public WorkerPool Workers { get; }

    /// <summary>Vector width the kernels use.</summary>
    public SimdLevel Level { get; }
}
