namespace InceptionNet.Tensors;

/// <summary>What a pooling window computes.</summary>
internal enum PoolKind
{
    Max,
    Average,
    L2,
}

/// <summary>
/// Pooling over NHWC data with Keras semantics: window elements that fall in the padding are ignored (max) or
/// not counted (average, as TensorFlow's "same" average pooling does). The traversal is shared; the kernel set works on
/// the contiguous channels of each pixel, and every set gives bit-identical results (same operations in the same order).
/// </summary>
public static class Pooling
{
    /// <summary>Max pooling; output rows are shared among <paramref name="workers"/> when given.</summary>
    public static void MaxPool(TensorSlice input, WindowGeometry geometry, TensorSlice output, KernelSet kernels, WorkerPool? workers = null) =>
        Pool(input, geometry, output, kernels, PoolKind.Max, workers);

    /// <summary>Average pooling; the divisor is the number of window elements inside the input.</summary>
    public static void AvgPool(TensorSlice input, WindowGeometry geometry, TensorSlice output, KernelSet kernels, WorkerPool? workers = null) =>
        Pool(input, geometry, output, kernels, PoolKind.Average, workers);

    /// <summary>
    /// L2 pooling as Keras-OpenFace builds it: <c>sqrt(kh·kw · AveragePooling2D(x²))</c>
    /// (layers power2_*, average_pooling2d, mult9_*, sqrt_*).
    /// </summary>
    public static void L2Pool(TensorSlice input, WindowGeometry geometry, TensorSlice output, KernelSet kernels, WorkerPool? workers = null) =>
        Pool(input, geometry, output, kernels, PoolKind.L2, workers);

    /// <summary>GlobalAveragePooling2D: mean over H and W, output [N, 1, 1, C].</summary>
    public static void GlobalAvgPool(TensorSlice input, TensorSlice output, KernelSet kernels) =>
        Pool(input, new WindowGeometry(input.H, input.W, 1, 1, PaddingMode.Valid), output, kernels, PoolKind.Average, workers: null);

    /// <summary>Below this many output values a pooling runs on the calling thread (handing it over would cost more).</summary>
    private const int ParallelThreshold = 32 * 1024;

    [ThreadStatic]
    private static PoolJob? t_job;

    private static void Pool(TensorSlice input, WindowGeometry geometry, TensorSlice output, KernelSet kernels, PoolKind kind, WorkerPool? workers)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        var (outH, outW, top, left) = geometry.Resolve(input.H, input.W);
        if (output.N != input.N || output.H != outH || output.W != outW || output.C != input.C)
        {
            throw new ArgumentException($"Pooling output {output} should be [{input.N}, {outH}, {outW}, {input.C}] for input {input}.");
        }

        int rows = input.N * outH;
        if (rows > 0)
        {
            RejectWindowsInPadding(input, geometry, outH, outW, top, left);
        }

        if (workers is null || workers.WorkerCount == 1 || rows < 2 || (long)output.Pixels * output.C < ParallelThreshold)
        {
            for (int row = 0; row < rows; row++)
            {
                PoolRow(input, geometry, output, kind, kernels, top, left, row);
            }

            return;
        }

        var job = t_job ??= new PoolJob();
        job.Set(input, geometry, output, kind, kernels, top, left);
        try
        {
            workers.Run(job, rows);
        }
        finally
        {
            job.Set(default, default, default, kind, null, 0, 0);
        }
    }

    // One output row (n, oy) = row / outH, row % outH: each pixel's window folded by the kernel set in one call.
    private static unsafe void PoolRow(TensorSlice input, WindowGeometry geometry, TensorSlice output, PoolKind kind, KernelSet kernels, int top, int left, int row)
    {
        int n = row / output.H, oy = row % output.H;
        int y0 = Math.Max(oy * geometry.StrideH - top, 0);
        int y1 = Math.Min(oy * geometry.StrideH - top + geometry.KernelH, input.H);
        long xStride = input.PixelStride, yStride = (long)input.W * input.PixelStride;
        int windowSize = geometry.KernelH * geometry.KernelW;
        fixed (float* inBase = input.Buffer)
        fixed (float* outBase = output.Buffer)
        {
            for (int ox = 0; ox < output.W; ox++)
            {
                int x0 = Math.Max(ox * geometry.StrideW - left, 0);
                int x1 = Math.Min(ox * geometry.StrideW - left + geometry.KernelW, input.W);
                kernels.PoolWindow(inBase + input.PixelIndex(n, y0, x0), xStride, yStride, y1 - y0, x1 - x0, input.C,
                    outBase + output.PixelIndex(n, oy, ox), kind, windowSize);
            }
        }
    }

    // A window with no input element has no value: refused before any work starts (the first such window in row-major
    // order is named). Its rows and columns are independent, so one pass over each suffices.
    private static void RejectWindowsInPadding(TensorSlice input, WindowGeometry geometry, int outH, int outW, int top, int left)
    {
        int emptyColumn = -1;
        for (int ox = 0; ox < outW && emptyColumn < 0; ox++)
        {
            if (Math.Min(ox * geometry.StrideW - left + geometry.KernelW, input.W) <= Math.Max(ox * geometry.StrideW - left, 0))
            {
                emptyColumn = ox;
            }
        }

        for (int oy = 0; oy < outH; oy++)
        {
            bool emptyRow = Math.Min(oy * geometry.StrideH - top + geometry.KernelH, input.H) <= Math.Max(oy * geometry.StrideH - top, 0);
            if (emptyRow || emptyColumn >= 0)
            {
                throw new ArgumentException($"A pooling window at output ({oy}, {(emptyRow ? 0 : emptyColumn)}) lies entirely in the padding.");
            }
        }
    }

    private sealed class PoolJob : IParallelWork
    {
        private TensorSlice _input, _output;
        private WindowGeometry _geometry;
        private PoolKind _kind;
        private KernelSet? _kernels;
        private int _top, _left;

        public void Set(TensorSlice input, WindowGeometry geometry, TensorSlice output, PoolKind kind, KernelSet? kernels, int top, int left)
        {
            (_input, _geometry, _output, _kind, _kernels, _top, _left) = (input, geometry, output, kind, kernels, top, left);
        }

        public void Execute(int item, int worker) => PoolRow(_input, _geometry, _output, _kind, _kernels!, _top, _left, item);
    }
}
