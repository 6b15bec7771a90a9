using System.Runtime.CompilerServices;

namespace InceptionNet.Tensors;

/// <summary>
/// What happens to each convolution output before it is stored: <c>y = act(residual + scale·(conv + bias))</c>, where
/// <c>act</c> is nothing, ReLU, or a parametric ReLU with one negative slope per output channel.
/// </summary>
public readonly record struct ConvEpilogue
{
    /// <summary>Plain bias, optionally followed by ReLU.</summary>
    public static ConvEpilogue Bias(bool relu) => new() { Relu = relu, Scale = 1f };

    /// <summary>Residual scale-add (Inception-ResNet): <c>act(residual + scale·(conv + bias))</c>.</summary>
    public static ConvEpilogue ScaledResidual(TensorSlice residual, float scale, bool relu) =>
        new() { Relu = relu, Scale = scale, Residual = residual, HasResidual = true };

    /// <summary>Parametric ReLU (MTCNN): <c>y = v &gt; 0 ? v : slope[c]·v</c>, one slope per output channel.</summary>
    public static ConvEpilogue Prelu(float[] slopes) => new() { Scale = 1f, NegativeSlopes = slopes };

    /// <summary>Apply ReLU last.</summary>
    public bool Relu { get; init; }

    /// <summary>Per-output-channel slopes of a parametric ReLU applied last (null: none).</summary>
    public float[]? NegativeSlopes { get; init; }

    /// <summary>Multiplier of conv + bias (1 unless residual scaling).</summary>
    public float Scale { get; init; }

    /// <summary>Tensor added after scaling, same shape as the output (may be the output itself).</summary>
    public TensorSlice Residual { get; init; }

    /// <summary>Whether <see cref="Residual"/> is used.</summary>
    public bool HasResidual { get; init; }

    /// <summary>
    /// Output channels from this index on (a multiple of the weights' <see cref="PackedConvWeights.Width"/>) are written to
    /// <see cref="SplitOutput"/> instead of the main output (0: no split). Lets sibling 1×1 convolutions of one input run
    /// as a single convolution whose channels land in different tensors.
    /// </summary>
    public int SplitAt { get; init; }

    /// <summary>Destination of output channels SplitAt and up (as its channels 0, 1, …).</summary>
    public TensorSlice SplitOutput { get; init; }

    /// <summary>This epilogue with output channels <paramref name="at"/> and up sent to <paramref name="rest"/>.</summary>
    public ConvEpilogue WithSplit(int at, TensorSlice rest) => this with { SplitAt = at, SplitOutput = rest };
}

/// <summary>
/// 2-D convolution on NHWC float32 as a GEMM: C[N·OH·OW, out] = A[N·OH·OW, kh·kw·in] · B[kh·kw·in, out], where the
/// rows of A are gathered tile by tile from the input (1×1 stride-1 convolutions read the input in place) and B
/// is pre-packed (<see cref="PackedConvWeights"/>). The kernel set's register-tiled micro-kernel computes each
/// <see cref="KernelSet.TileRows"/> × 32 tile (<see cref="KernelSet.NarrowTileRows"/> × 16 on narrow panels), the first
/// tile of each reduction slice prefetching the panel ahead (<see cref="KernelSet.PrefetchFloats"/>); a map of a few more
/// pixels than that, up to the set's <see cref="KernelSet.TallTileRows"/>, goes through its tall tile in one pass over each
/// panel. Bias, residual scale-add and ReLU are fused into the store (the set's epilogue). Output may be a channel slice
/// of a wider tensor, which is how concatenation is done without copies.
/// Weights given a Winograd form (<see cref="PackedConvWeights.PrepareWinograd"/>, which <c>ConvLayer</c> does for its
/// stride-1 3×3, 1×7 and 7×1 layers, and a model for the stride-2 3×3s it chooses) run windows of that form's stride
/// through it instead: the same epilogue and outputs, to rounding. Stride-1 windows inside a dense input of at most four
/// channels, into at most 16 (P-Net's first layer), run through a direct kernel (<see cref="PackedConvWeights.DirectForm"/>)
/// that gives the GEMM's values bit for bit.
/// </summary>
public static partial class Conv2D
{
    /// <summary>Rows (output pixels) gathered per work item; a multiple of every micro-kernel height (1, 3, 6, 8).</summary>
    internal const int RowBlock = 48;

    /// <summary>
    /// Up to this many rows (small spatial maps at batch 1: 8×8, 3×3) form a single row block, so each weight panel is
    /// streamed once and the work is split over output channels only.
    /// </summary>
    internal const int MaxSingleRowBlock = 96;

    /// <summary>Reduction slice: 256 × 32 floats of B (32 KiB) fit the L1 cache next to the A rows in use.</summary>
    internal const int KBlock = 256;

    [ThreadStatic]
    private static ConvJob? t_job;

    /// <summary>Runs the convolution; see the type summary. Allocation-free after the pool's scratch has grown.</summary>
    public static void Forward(TensorSlice input, PackedConvWeights weights, WindowGeometry geometry, TensorSlice output,
        ConvEpilogue epilogue, KernelSet kernels, WorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(pool);
        if (geometry.KernelH != weights.KernelH || geometry.KernelW != weights.KernelW)
        {
            throw new ArgumentException($"Geometry window {geometry.KernelH}x{geometry.KernelW} does not match kernel {weights.KernelH}x{weights.KernelW}.");
        }

        if (input.C != weights.InChannels)
        {
            throw new ArgumentException($"Input {input} has {input.C} channels, the kernel expects {weights.InChannels}.");
        }

        var (outH, outW, top, left) = geometry.Resolve(input.H, input.W);
        int split = epilogue.SplitAt;
        int mainChannels = split > 0 ? split : weights.OutChannels;
        if (output.N != input.N || output.H != outH || output.W != outW || output.C != mainChannels)
        {
            throw new ArgumentException($"Output {output} should be [{input.N}, {outH}, {outW}, {mainChannels}] for input {input}.");
        }

        if (split > 0)
        {
            var rest = epilogue.SplitOutput;
            if (split % weights.Width != 0 || split >= weights.OutChannels || epilogue.HasResidual || rest.Buffer is null
                || rest.N != input.N || rest.H != outH || rest.W != outW || rest.C != weights.OutChannels - split)
            {
                throw new ArgumentException($"Split at channel {split} of {weights.OutChannels} into {rest}: the split must be a multiple of " +
                    $"{weights.Width} below the channel count, the second output [{input.N}, {outH}, {outW}, {weights.OutChannels - split}], and no residual.");
            }
        }

        if (epilogue.NegativeSlopes is { } slopes && slopes.Length != weights.OutChannels)
        {
            throw new ArgumentException($"PReLU has {slopes.Length} slopes for {weights.OutChannels} output channels.");
        }

        if (epilogue.HasResidual && (epilogue.Residual.N != output.N || epilogue.Residual.H != outH || epilogue.Residual.W != outW || epilogue.Residual.C != output.C))
        {
            throw new ArgumentException($"Residual {epilogue.Residual} does not match output {output}.");
        }

        int m = output.Pixels;
        if (m == 0)
        {
            return;
        }

        if (WinogradEnabled && weights.Winograd is { } transformed && geometry.StrideH == transformed.Stride && geometry.StrideW == transformed.Stride)
        {
            ForwardWinograd(input, weights, transformed, outH, outW, top, left, output, epilogue, kernels, pool);
            return;
        }

        if (FitsDirectSmallInput(input, weights, geometry, outH, outW, top, left, epilogue))
        {
            ForwardDirectSmallInput(input, weights, outH, outW, output, epilogue, kernels, pool);
            return;
        }

        var job = t_job ??= new ConvJob();
        job.Set(input, weights, geometry, outH, outW, top, left, output, epilogue, kernels, pool);
        try
        {
            if (job.PreGather)
            {
                job.Phase = ConvJob.GatherPhase;
                pool.Run(job, job.GatherItems);
            }

            job.Phase = ConvJob.ComputePhase;
            pool.Run(job, job.ItemCount);
        }
        finally
        {
            job.Clear();
        }
    }

    // What both convolution jobs hold for the length of one call: the tensors, weights, epilogue, kernels and pool, and the
    // output geometry; cleared afterwards so a thread's cached job keeps nothing alive.
    private abstract unsafe class ConvWork : IParallelWork
    {
        private protected TensorSlice _input;
        private protected TensorSlice _output;
        private protected PackedConvWeights? _weights;
        private protected ConvEpilogue _epilogue;
        private protected WorkerPool? _pool;
        private protected KernelSet? _kernels;
        private protected int _outH, _outW, _top, _left;
        private protected int _panelGroups, _panelsPerGroup;

        // Items are blocks of rows × groups of output panels: enough groups that `blocks` of them give about `target`
        // items, each group the same number of panels (the last one possibly fewer).
        private protected void SplitPanels(int blocks, int target)
        {
            int panels = _weights!.Panels;
            _panelGroups = Math.Clamp((target + blocks - 1) / blocks, 1, panels);
            _panelsPerGroup = (panels + _panelGroups - 1) / _panelGroups;
            _panelGroups = (panels + _panelsPerGroup - 1) / _panelsPerGroup;
        }

        // Item `item`'s block and panels [firstPanel, lastPanel).
        private protected (int Block, int FirstPanel, int LastPanel) ItemRange(int item)
        {
            int firstPanel = item % _panelGroups * _panelsPerGroup;
            return (item / _panelGroups, firstPanel, Math.Min(_weights!.Panels, firstPanel + _panelsPerGroup));
        }

        private protected void Bind(TensorSlice input, PackedConvWeights weights, int outH, int outW, int top, int left,
            TensorSlice output, ConvEpilogue epilogue, KernelSet kernels, WorkerPool pool)
        {
            _input = input;
            _weights = weights;
            _outH = outH;
            _outW = outW;
            _top = top;
            _left = left;
            _output = output;
            _epilogue = epilogue;
            _kernels = kernels;
            _pool = pool;
        }

        public virtual void Clear()
        {
            _input = default;
            _output = default;
            _epilogue = default;
            _weights = null;
            _kernels = null;
            _pool = null;
        }

        public abstract void Execute(int item, int worker);

        // Writes `rows` consecutive output pixels from m, whose accumulators are TileColumns apart from `tile`, for the
        // output channels of `panel` (cols of them), through the kernel set's epilogue: act(residual + scale·(acc + bias)).
        private protected void Store(float* tile, int m, int rows, int panel, int cols)
        {
            var weights = _weights!;
            var epilogue = _epilogue;
            int first = panel * weights.Width;
            var (output, channel) = epilogue.SplitAt > 0 && first >= epilogue.SplitAt ? (epilogue.SplitOutput, first - epilogue.SplitAt) : (_output, first);
            var residual = epilogue.Residual;
            fixed (float* biasBase = weights.Bias)
            fixed (float* outBase = output.Buffer)
            fixed (float* resBase = epilogue.HasResidual ? residual.Buffer : null)
            fixed (float* slopeBase = epilogue.NegativeSlopes)
            {
                var target = new EpilogueTarget(
                    outBase + output.Offset + (long)m * output.PixelStride + channel, output.PixelStride,
                    biasBase + first,
                    epilogue.HasResidual ? resBase + residual.Offset + (long)m * residual.PixelStride + first : null, residual.PixelStride,
                    epilogue.Scale,
                    slopeBase == null ? null : slopeBase + first,
                    epilogue.Relu);
                _kernels!.Epilogue(tile, rows, cols, target);
            }
        }
    }

    private sealed unsafe class ConvJob : ConvWork
    {
        private WindowGeometry _geometry;
        private int _rows, _rowBlock, _rowBlocks;
        private bool _direct;
        private bool _inPlace;
        private bool _tall;
        private float[] _gathered = [];

        public const int GatherPhase = 0;
        public const int ComputePhase = 1;

        // Rows per item of the shared gather phase.
        private const int GatherChunk = 16;

        public int Phase { get; set; }

        public int ItemCount => _rowBlocks * _panelGroups;

        // The shared gather is cut finer than the row blocks, so a single row block (small maps) is still gathered on all cores.
        public int GatherItems => (_rows + GatherChunk - 1) / GatherChunk;

        // When the output channels are split over several items, gather the receptive fields once into a shared buffer
        // (first phase) instead of once per item.
        public bool PreGather => !_direct && !_inPlace && _panelGroups > 1;

        public void Set(TensorSlice input, PackedConvWeights weights, WindowGeometry geometry, int outH, int outW, int top, int left,
            TensorSlice output, ConvEpilogue epilogue, KernelSet kernels, WorkerPool pool)
        {
            Bind(input, weights, outH, outW, top, left, output, epilogue, kernels, pool);
            _geometry = geometry;
            _rows = output.Pixels;
            _direct = weights.KernelH == 1 && weights.KernelW == 1 && geometry.StrideH == 1 && geometry.StrideW == 1
                && top == 0 && left == 0 && outH == input.H && outW == input.W;
            // Windows that never leave a dense input (valid padding): each kernel row's taps of an output pixel are one
            // contiguous run of the input, and the next pixel's run starts a stride of pixels later, so the micro-kernel
            // reads them in place, kernel row by kernel row, instead of from gathered receptive fields.
            _inPlace = !_direct && input.IsDense && top == 0 && left == 0
                && (outH - 1) * geometry.StrideH + weights.KernelH <= input.H && (outW - 1) * geometry.StrideW + weights.KernelW <= input.W;
            // A few pixels more than the micro-kernel's height (Block8's 3×3 maps at batch 1): the set's tall tile takes them
            // in one pass over each panel, where the short one would pass twice and leave the memory idle on the second.
            // Its rows are gathered once for all items (PreGather) rather than read in place.
            _tall = kernels.TallTileRows > 0 && weights.Width == PackedConvWeights.PanelWidth
                && _rows > kernels.TileRows && _rows <= kernels.TallTileRows;
            _inPlace &= !_tall;
            _rowBlock = _rows <= MaxSingleRowBlock ? _rows : RowBlock;
            _rowBlocks = (_rows + _rowBlock - 1) / _rowBlock;
            SplitPanels(_rowBlocks, 8 * pool.WorkerCount); // enough items that dynamic claiming evens out the cores
            if (PreGather && _gathered.Length < _rows * weights.ReductionLength)
            {
                _gathered = new float[_rows * weights.ReductionLength];
            }

            // Every worker's buffers sized for this job up front (see WorkerPool.ReserveScratch): the gather buffer when
            // each item gathers its own rows, and the zero-padded tail when a row block ends short of a full tile.
            int k = weights.ReductionLength, tile = TileRowsFor(weights, kernels), lastBlock = _rows - (_rowBlocks - 1) * _rowBlock;
            bool tails = !_tall && (_rowBlock % tile != 0 || lastBlock % tile != 0);
            // Reading in place, the scratch holds the block's tiles that are gathered: at most the block rounded up to tiles.
            int scratch = _inPlace ? (_rowBlock + tile - 1) / tile * tile * k : !_direct && !PreGather ? _rowBlock * k : 0;
            pool.ReserveScratch(scratch, tails ? tile * k : 0);
        }

        // The micro-kernel height for these weights: narrow panels have their own tile.
        private static int TileRowsFor(PackedConvWeights weights, KernelSet kernels) =>
            weights.Width == PackedConvWeights.NarrowPanelWidth ? kernels.NarrowTileRows : kernels.TileRows;

        // Not zero-initialised: the 13 KB accumulator block is written by the micro-kernel before anything reads it, and
        // clearing it cost a pass over 13 KB for every item.
        [SkipLocalsInit]
        public override void Execute(int item, int worker)
        {
            var weights = _weights!;
            var kernels = _kernels!;
            if (Phase == GatherPhase)
            {
                int start = item * GatherChunk;
                GatherRows(start, Math.Min(GatherChunk, _rows - start), _gathered.AsSpan(start * weights.ReductionLength), weights.ReductionLength);
                return;
            }

            var (rowBlock, firstPanel, lastPanel) = ItemRange(item);
            int m0 = rowBlock * _rowBlock;
            int rows = Math.Min(_rowBlock, _rows - m0);
            int k = weights.ReductionLength;
            if (_inPlace)
            {
                ExecuteInPlace(m0, rows, firstPanel, lastPanel, worker);
                return;
            }

            float[] aBuffer;
            int aOffset, lda;
            if (_direct)
            {
                aBuffer = _input.Buffer;
                aOffset = _input.Offset + m0 * _input.PixelStride;
                lda = _input.PixelStride;
            }
            else if (PreGather)
            {
                aBuffer = _gathered;
                aOffset = m0 * k;
                lda = k;
            }
            else
            {
                aBuffer = _pool!.Scratch(worker, _rowBlock * k);
                aOffset = 0;
                lda = k;
                GatherRows(m0, rows, aBuffer, k);
            }

            if (_tall)
            {
                ExecuteTall(aBuffer, aOffset, lda, rows, firstPanel, lastPanel);
                return;
            }

            // A tail of fewer rows than the micro-kernel height is copied into zero-padded rows, so the full-height
            // kernel runs on it (the padding rows' results are discarded) instead of a slow one-row kernel.
            bool narrow = weights.Width == PackedConvWeights.NarrowPanelWidth;
            int kernelRows = TileRowsFor(weights, kernels);
            int fullRows = rows - rows % kernelRows;
            float[]? tail = null;
            if (fullRows < rows)
            {
                tail = _pool!.TailScratch(worker, kernelRows * k);
                Array.Clear(tail, 0, kernelRows * k);
                for (int r = fullRows; r < rows; r++)
                {
                    aBuffer.AsSpan(aOffset + r * lda, k).CopyTo(tail.AsSpan((r - fullRows) * k, k));
                }
            }

            // Accumulators of every row tile of this block (rows TileColumns apart, whatever the panel width); the
            // reduction is cut into KBlock-long slices so the slice of the B panel (KBlock × its width) stays in L1 while
            // all row tiles use it.
            const int tc = KernelSet.TileColumns;
            int nr = weights.Width;
            int tiles = (rows + kernelRows - 1) / kernelRows;
            // 64-byte aligned, like the panels, so the tile's 512-bit loads and stores never split a cache line.
            float* accBase = stackalloc float[(MaxSingleRowBlock + KernelSet.MaxTileRows) * tc + 16];
            float* acc = (float*)(((nuint)accBase + 63) & ~(nuint)63);
            fixed (float* tailBase = tail)
            fixed (float* aBase = aBuffer)
            {
                float* a = aBase + aOffset;
                float* packed = weights.Values; // native; the job holds the weights (and so the memory) until it is cleared
                for (int panel = firstPanel; panel < lastPanel; panel++)
                {
                    float* b = packed + (long)panel * k * nr;
                    int cols = Math.Min(nr, weights.OutChannels - panel * nr);
                    for (int k0 = 0; k0 < k; k0 += KBlock)
                    {
                        int kl = Math.Min(KBlock, k - k0);
                        bool accumulate = k0 > 0;
                        for (int t = 0; t < tiles; t++)
                        {
                            int r = t * kernelRows;
                            float* tileA = r < fullRows ? a + (long)r * lda + k0 : tailBase + k0;
                            // The first tile streams the slice from memory (prefetching ahead); the others find it in L1.
                            MicroKernel(kernels, narrow, tileA, r < fullRows ? lda : k, b + (long)k0 * nr, kl, acc + t * kernelRows * tc, accumulate,
                                t == 0 ? KernelSet.PrefetchFloats : 0);
                        }
                    }

                    // The tiles' accumulators are the block's rows one after another (row stride tc): one epilogue
                    // call stores the whole block for this panel, the same values as a call per tile.
                    Store(acc, m0, rows, panel, cols);
                }
            }
        }

        // The whole map (rows of A at a, lda apart, from output pixel 0) against panels [firstPanel, lastPanel), one call of
        // the tall tile over each whole panel: nothing is reused from L1, so the reduction is not cut into slices.
        [SkipLocalsInit]
        private void ExecuteTall(float[] aBuffer, int aOffset, int lda, int rows, int firstPanel, int lastPanel)
        {
            var weights = _weights!;
            var kernels = _kernels!;
            int k = weights.ReductionLength;
            const int tc = KernelSet.TileColumns;
            float* accBase = stackalloc float[KernelSet.MaxTallTileRows * tc + 16];
            float* acc = (float*)(((nuint)accBase + 63) & ~(nuint)63);
            fixed (float* aBase = aBuffer)
            {
                float* packed = weights.Values; // native; the job holds the weights (and so the memory) until it is cleared
                for (int panel = firstPanel; panel < lastPanel; panel++)
                {
                    kernels.TallMicroKernel(aBase + aOffset, lda, rows, packed + (long)panel * k * tc, k, acc, accumulate: false);
                    Store(acc, 0, rows, panel, Math.Min(tc, weights.OutChannels - panel * tc));
                }
            }
        }

        // The block [m0, m0 + rows) with A read from the input in place (see _inPlace): for each tile of output pixels in
        // one output row, the micro-kernel runs once per kernel row, on that row's taps (lda: the input stride between
        // neighbouring output pixels) and the matching rows of the panel, accumulating. Every output is the same chain of
        // multiply-adds in the same (kernel row, column, channel) order as from gathered fields — a reduction cut in more
        // places only stores and reloads its running sums — so the values are the gathered path's bit for bit. A tile
        // that would run past its output row (or is the block's short last one) is gathered into the zero-padded scratch.
        [SkipLocalsInit] // as Execute: the accumulators and the per-tile tables are written before they are read
        private void ExecuteInPlace(int m0, int rows, int firstPanel, int lastPanel, int worker)
        {
            var weights = _weights!;
            var kernels = _kernels!;
            var input = _input;
            bool narrow = weights.Width == PackedConvWeights.NarrowPanelWidth;
            int kernelRows = TileRowsFor(weights, kernels);
            int k = weights.ReductionLength, run = weights.KernelW * input.C, perImage = _outH * _outW;
            const int tc = KernelSet.TileColumns;
            int nr = weights.Width;
            int tiles = (rows + kernelRows - 1) / kernelRows;
            float* accBase = stackalloc float[(MaxSingleRowBlock + KernelSet.MaxTileRows) * tc + 16];
            float* acc = (float*)(((nuint)accBase + 63) & ~(nuint)63);

            // Per tile, where its A starts, the stride between its rows and between its kernel rows: in the input for a
            // tile read in place; in the worker's scratch for the others, gathered once per block (zero rows past the
            // block's end), where a kernel row's taps are `run` apart in a k-long field. Worked out once per block: three
            // divisions per tile and slice cost as much as P-Net's 9-tap slices themselves.
            long* start = stackalloc long[MaxSingleRowBlock]; // tiles ≤ rows ≤ MaxSingleRowBlock
            bool* gathered = stackalloc bool[MaxSingleRowBlock];
            float[] scratch = [];
            for (int t = 0; t < tiles; t++)
            {
                int m = m0 + t * kernelRows, count = Math.Min(kernelRows, rows - t * kernelRows);
                gathered[t] = !InPlaceTile(m, count, kernelRows, perImage, out int n, out int oy, out int ox);
                if (!gathered[t])
                {
                    start[t] = input.PixelIndex(n, oy * _geometry.StrideH, ox * _geometry.StrideW);
                    continue;
                }

                if (scratch.Length == 0)
                {
                    scratch = _pool!.Scratch(worker, tiles * kernelRows * k);
                }

                start[t] = (long)t * kernelRows * k;
                GatherRows(m, count, scratch.AsSpan((int)start[t], count * k), k);
                Array.Clear(scratch, (int)start[t] + count * k, (kernelRows - count) * k);
            }

            int inPlaceLda = _geometry.StrideW * input.C;
            long inputRow = (long)input.W * input.C;
            fixed (float* inBase = input.Buffer)
            fixed (float* scratchBase = scratch)
            {
                float* packed = weights.Values; // native; the job holds the weights (and so the memory) until it is cleared
                for (int panel = firstPanel; panel < lastPanel; panel++)
                {
                    float* b = packed + (long)panel * k * nr;
                    int cols = Math.Min(nr, weights.OutChannels - panel * nr);
                    // Slice by slice of the reduction (a kernel row's taps, cut at KBlock) across all tiles: the slice of the
                    // panel stays in L1 while every tile uses it, as in the gathered path.
                    for (int ky = 0; ky < weights.KernelH; ky++)
                    {
                        for (int k0 = 0; k0 < run; k0 += KBlock)
                        {
                            int kl = Math.Min(KBlock, run - k0);
                            float* bSlice = b + ((long)ky * run + k0) * nr;
                            for (int t = 0; t < tiles; t++)
                            {
                                float* a = gathered[t] ? scratchBase + start[t] + (long)ky * run + k0 : inBase + start[t] + ky * inputRow + k0;
                                MicroKernel(kernels, narrow, a, gathered[t] ? k : inPlaceLda, bSlice, kl, acc + t * kernelRows * tc, ky > 0 || k0 > 0,
                                    t == 0 ? KernelSet.PrefetchFloats : 0);
                            }
                        }
                    }

                    Store(acc, m0, rows, panel, cols);
                }
            }
        }

        // Whether the tile of output pixels from m (left: pixels left in the block) is read in place: a full tile inside
        // one output row. Returns the first pixel's image, row and column.
        private bool InPlaceTile(int m, int left, int kernelRows, int perImage, out int n, out int oy, out int ox)
        {
            n = m / perImage;
            oy = m % perImage / _outW;
            ox = m % _outW;
            return left >= kernelRows && ox + kernelRows <= _outW;
        }

        private static void MicroKernel(KernelSet kernels, bool narrow, float* a, int lda, float* b, int k, float* tile, bool accumulate, int prefetch)
        {
            if (narrow)
            {
                kernels.NarrowMicroKernel(a, lda, b, k, tile, accumulate);
            }
            else
            {
                kernels.MicroKernel(a, lda, b, k, tile, accumulate, prefetch);
            }
        }

        // Copies the receptive fields of output pixels [m0, m0 + rows) into rows of length k (zeros where padded).
        private void GatherRows(int m0, int rows, Span<float> a, int k)
        {
            var input = _input;
            int c = input.C;
            int kh = _geometry.KernelH, kw = _geometry.KernelW, sh = _geometry.StrideH, sw = _geometry.StrideW;
            int perImage = _outH * _outW;
            for (int r = 0; r < rows; r++)
            {
                int m = m0 + r;
                int n = m / perImage;
                int oy = (m % perImage) / _outW;
                int ox = m % _outW;
                var row = a.Slice(r * k, k);
                int dst = 0;
                for (int ky = 0; ky < kh; ky++)
                {
                    int iy = oy * sh - _top + ky;
                    if ((uint)iy >= (uint)input.H)
                    {
                        row.Slice(dst, kw * c).Clear();
                        dst += kw * c;
                        continue;
                    }

                    // The taps of one kernel row are neighbouring input pixels (whatever the stride), so away from the left
                    // and right padding they are one contiguous run of kw·c values.
                    int ix0 = ox * sw - _left;
                    if (ix0 >= 0 && ix0 + kw <= input.W && input.IsDense)
                    {
                        input.Buffer.AsSpan(input.PixelIndex(n, iy, ix0), kw * c).CopyTo(row.Slice(dst, kw * c));
                        dst += kw * c;
                        continue;
                    }

                    for (int kx = 0; kx < kw; kx++)
                    {
                        int ix = ix0 + kx;
                        var target = row.Slice(dst, c);
                        if ((uint)ix >= (uint)input.W)
                        {
                            target.Clear();
                        }
                        else
                        {
                            input.Buffer.AsSpan(input.PixelIndex(n, iy, ix), c).CopyTo(target);
                        }

                        dst += c;
                    }
                }
            }
        }
    }
}
