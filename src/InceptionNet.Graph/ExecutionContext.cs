using InceptionNet.Tensors;

namespace InceptionNet.Graph;

/// <summary>What a forward pass runs on: the activation pool, the worker threads and the kernel set.</summary>
public sealed class ExecutionContext
{
    /// <summary>
    /// Creates a context; defaults are the shared worker pool (the one place the process-wide pool is chosen), a new
    /// activation pool and the kernel set of <see cref="Simd.Default"/>. The kernel set is chosen here, once, for every
    /// layer that runs on this context.
    /// </summary>
    /// <remarks>
    /// The default activation pool lets a buffer serve shorter tensors: batches change size (the last batch of a run, a
    /// service's micro-batches of 1 to 16 faces), and an exact-length pool kept a full set of activations for every batch
    /// size it had seen.
    /// </remarks>
    public ExecutionContext(WorkerPool? workers = null, SimdLevel? level = null, TensorPool? pool = null)
    {
        Workers = workers ?? WorkerPool.Shared;
        Kernels = KernelSet.For(level ?? Simd.Default);
        Pool = pool ?? new TensorPool(reuseLarger: true);
    }

    /// <summary>Activation buffers, reused across passes (not thread-safe: used under the lock of the model running).</summary>
    public TensorPool Pool { get; }

    /// <summary>Threads that run the kernels.</summary>
    public WorkerPool Workers { get; }

    /// <summary>The kernels every layer on this context uses (the requested level lowered to what the hardware has).</summary>
    public KernelSet Kernels { get; }

    /// <summary>Vector width the kernels use.</summary>
    public SimdLevel Level => Kernels.Level;
}
