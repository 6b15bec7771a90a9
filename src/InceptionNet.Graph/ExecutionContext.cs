using InceptionNet.Tensors;

namespace InceptionNet.Graph;

/// <summary>What a forward pass runs on: the activation pool, the worker threads and the vector width.</summary>
public sealed class ExecutionContext
{
    /// <summary>
    /// Creates a context; defaults are the shared worker pool (the one place the process-wide pool is chosen), a new
    /// activation pool and <see cref="Simd.Default"/>.
    /// </summary>
    /// <remarks>
    /// The default activation pool lets a buffer serve shorter tensors: batches change size (the last batch of a run, a
    /// service's micro-batches of 1 to 16 faces), and an exact-length pool kept a full set of activations for every batch
    /// size it had seen.
    /// </remarks>
    public ExecutionContext(WorkerPool? workers = null, SimdLevel? level = null, TensorPool? pool = null)
    {
        Workers = workers ?? WorkerPool.Shared;
        Level = Simd.Clamp(level ?? Simd.Default);
        Pool = pool ?? new TensorPool(reuseLarger: true);
    }

    /// <summary>Activation buffers, reused across passes (not thread-safe: used under the lock of the model running).</summary>
    public TensorPool Pool { get; }

    /// <summary>Threads that run the kernels.</summary>
    public WorkerPool Workers { get; }

    /// <summary>Vector width the kernels use.</summary>
    public SimdLevel Level { get; }
}
