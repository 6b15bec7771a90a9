using System.Runtime.Intrinsics;

namespace InceptionNet.Tensors;

/// <summary>
/// Convolution (or dense) weights prepared once at load time for <see cref="Conv2D"/>: the Keras kernel
/// (kh, kw, in, out) — which is already the row-major GEMM matrix B[K = kh·kw·in, out] — cut into panels of
/// <see cref="Width"/> output channels, each panel stored k-major and zero-padded, so the micro-kernel
/// streams it with aligned vector loads. Batch normalization is folded in before packing.
/// </summary>
/// <remarks>
/// Panels are <see cref="PanelWidth"/> (32) channels wide, or <see cref="NarrowPanelWidth"/> (16) when there are no more
/// than 16 output channels: MTCNN's 10- and 16-channel convolutions and its heads would otherwise spend half or more of
/// their multiply-adds on the zero columns of a 32-wide panel. Each output channel is the same sum over the same inputs
/// in the same order either way, so the width changes the speed, never a value.
/// </remarks>
public sealed class PackedConvWeights
{
    private readonly PanelMemory _memory;

    /// <summary>Output channels per panel: two 512-bit vectors.</summary>
    public const int PanelWidth = 32;

    /// <summary>Output channels per panel of weights with at most this many output channels: one 512-bit vector.</summary>
    public const int NarrowPanelWidth = 16;

    /// <summary>Packs a Keras kernel (kh, kw, in, out) row-major, with an optional bias (zero when null).</summary>
    public PackedConvWeights(ReadOnlySpan<float> kernel, int kernelH, int kernelW, int inChannels, int outChannels, ReadOnlySpan<float> bias)
        : this(kernel, kernelH, kernelW, inChannels, outChannels, bias, default)
    {
    }

    /// <summary>
    /// Packs a Keras kernel (kh, kw, in, out) row-major with every output channel <c>o</c> multiplied by
    /// <paramref name="outputScale"/>[o] on the way (in double, rounded once to float32: a batch normalization folded in
    /// without a scaled copy of the kernel), and an optional bias (zero when empty, used as given). An empty
    /// <paramref name="outputScale"/> packs the values unchanged.
    /// </summary>
    public PackedConvWeights(ReadOnlySpan<float> kernel, int kernelH, int kernelW, int inChannels, int outChannels, ReadOnlySpan<float> bias,
        ReadOnlySpan<double> outputScale)
        : this(kernel, kernelH, kernelW, inChannels, outChannels, bias, outputScale, WidthFor(outChannels))
    {
    }

    /// <summary>As the public constructor, with the panel width given (tests pack the same weights both ways).</summary>
    internal PackedConvWeights(ReadOnlySpan<float> kernel, int kernelH, int kernelW, int inChannels, int outChannels, ReadOnlySpan<float> bias,
        ReadOnlySpan<double> outputScale, int width)
    {
        if (kernelH < 1 || kernelW < 1 || inChannels < 1 || outChannels < 1)
        {
            throw new ArgumentException($"Invalid kernel shape ({kernelH}, {kernelW}, {inChannels}, {outChannels}).");
        }

        int k = kernelH * kernelW * inChannels;
        if (kernel.Length != k * outChannels)
        {
            throw new ArgumentException($"Kernel has {kernel.Length} values, expected {kernelH}x{kernelW}x{inChannels}x{outChannels} = {k * outChannels}.");
        }

        if (!bias.IsEmpty && bias.Length != outChannels)
        {
            throw new ArgumentException($"Bias has {bias.Length} values, expected {outChannels}.");
        }

        if (!outputScale.IsEmpty && outputScale.Length != outChannels)
        {
            throw new ArgumentException($"Scale has {outputScale.Length} values, expected {outChannels}.");
        }

        if (width is not (PanelWidth or NarrowPanelWidth) || (width == NarrowPanelWidth && outChannels > NarrowPanelWidth))
        {
            throw new ArgumentException($"A panel is {PanelWidth} channels wide, or {NarrowPanelWidth} for at most {NarrowPanelWidth} output channels; not {width} for {outChannels}.");
        }

        KernelH = kernelH;
        KernelW = kernelW;
        InChannels = inChannels;
        OutChannels = outChannels;
        Width = width;
        Panels = (outChannels + width - 1) / width;
        _memory = PanelMemory.Allocate(Panels * k * width); // zeroed: the padding columns need no writes
        var panels = _memory.Span;
        bool vector = !outputScale.IsEmpty && Simd.Default >= SimdLevel.Vector128 && Vector128.IsHardwareAccelerated;
        // Kernel row by kernel row, each split across the panels: the kernel is read in order (panel by panel read a strip of
        // it a row apart, 20-35 % slower into warm memory on FaceNet's shapes).
        for (int row = 0; row < k; row++)
        {
            var kernelRow = kernel.Slice(row * outChannels, outChannels);
            for (int panel = 0; panel < Panels; panel++)
            {
                // Each panel row is a contiguous run of the kernel row: copied (or scaled) as one span.
                int first = panel * width, columns = Math.Min(width, outChannels - first);
                var source = kernelRow.Slice(first, columns);
                var destination = panels.Slice((panel * k + row) * width, columns);
                var scale = outputScale.IsEmpty ? default : outputScale.Slice(first, columns);
                if (scale.IsEmpty)
                {
                    source.CopyTo(destination);
                }
                else if (vector)
                {
                    ScaleVector128(source, scale, destination);
                }
                else
                {
                    ScaleScalar(source, scale, destination);
                }
            }
        }

        Bias = new float[Panels * width];
        bias.CopyTo(Bias);
    }

    // Narrow panels for at most 16 output channels, else full ones.
    private static int WidthFor(int outChannels) => outChannels <= NarrowPanelWidth ? NarrowPanelWidth : PanelWidth;

    private PackedConvWeights(int kernelH, int kernelW, int inChannels, int outChannels, PanelMemory memory, float[] bias)
    {
        KernelH = kernelH;
        KernelW = kernelW;
        InChannels = inChannels;
        OutChannels = outChannels;
        Width = WidthFor(outChannels);
        Panels = (outChannels + Width - 1) / Width;
        _memory = memory;
        Bias = bias;
    }

    // destination[j] = (float)(source[j]·scale[j]) in double. The reference; the vector form below gives the same bits.
    internal static void ScaleScalar(ReadOnlySpan<float> source, ReadOnlySpan<double> scale, Span<float> destination)
    {
        for (int j = 0; j < source.Length; j++)
        {
            destination[j] = (float)(source[j] * scale[j]);
        }
    }

    // The same, four at a time: widening float→double is exact, the double product is the scalar one, and narrowing rounds
    // to nearest-even exactly as the cast does, so every bit matches ScaleScalar (tested at awkward lengths).
    internal static void ScaleVector128(ReadOnlySpan<float> source, ReadOnlySpan<double> scale, Span<float> destination)
    {
        int j = 0;
        for (; j <= source.Length - Vector128<float>.Count; j += Vector128<float>.Count)
        {
            var (low, high) = Vector128.Widen(Vector128.Create(source.Slice(j, Vector128<float>.Count)));
            low *= Vector128.Create(scale.Slice(j, Vector128<double>.Count));
            high *= Vector128.Create(scale.Slice(j + Vector128<double>.Count, Vector128<double>.Count));
            Vector128.Narrow(low, high).CopyTo(destination[j..]);
        }

        ScaleScalar(source[j..], scale[j..], destination[j..]);
    }

    /// <summary>
    /// Marks the weights packed on this thread, until the returned scope is disposed, as interim: parts that
    /// <see cref="Concatenate"/> will copy and then drop, such as the 1×1 heads of an Inception block's branches that
    /// <c>FusedConcatenate</c> runs as one convolution. They are kept apart from the weights a model keeps, so that giving
    /// their memory back once they are collected leaves the others on whole huge pages. Weights packed as interim that are
    /// kept after all work the same; they only share memory with other interim weights. Scopes nest. The scope belongs to
    /// the thread that began it (no <c>await</c> inside): disposing it on another thread throws and ends nothing.
    /// </summary>
    public static InterimScope Interim()
    {
        PanelMemory.EnterInterim();
        return new InterimScope(Environment.CurrentManagedThreadId);
    }

    /// <summary>The scope of <see cref="Interim"/>: disposing it (once, on its thread) ends interim packing there.</summary>
    public sealed class InterimScope : IDisposable
    {
        private readonly int _thread;
        private bool _ended;

        internal InterimScope(int thread)
        {
            _thread = thread;
        }

        /// <summary>Ends the scope; a second call does nothing.</summary>
        /// <exception cref="InvalidOperationException">Called on a thread other than the one that began the scope.</exception>
        public void Dispose()
        {
            if (_ended)
            {
                return;
            }

            if (Environment.CurrentManagedThreadId != _thread)
            {
                throw new InvalidOperationException(
                    $"An interim packing scope begun on thread {_thread} cannot be ended on thread {Environment.CurrentManagedThreadId}.");
            }

            _ended = true;
            PanelMemory.ExitInterim();
        }
    }

    /// <summary>
    /// The weights of convolutions that read the same input side by side, as one convolution whose output channels are
    /// <paramref name="parts"/>' in order (a fused concatenation of 1×1 branches). Built from the packed values directly,
    /// bit for bit, without unpacking: loading a model packs each weight once.
    /// </summary>
    public static PackedConvWeights Concatenate(IReadOnlyList<PackedConvWeights> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0)
        {
            throw new ArgumentException("Nothing to concatenate.", nameof(parts));
        }

        var head = parts[0];
        if (parts.Any(p => p.KernelH != head.KernelH || p.KernelW != head.KernelW || p.InChannels != head.InChannels))
        {
            throw new ArgumentException("Concatenated weights must share kernel size and input channels: " +
                string.Join(", ", parts.Select(p => $"({p.KernelH}, {p.KernelW}, {p.InChannels}, {p.OutChannels})")) + ".", nameof(parts));
        }

        int total = 0;
        foreach (var part in parts)
        {
            total = checked(total + part.OutChannels);
        }

        int k = head.ReductionLength, width = WidthFor(total), panels = (total + width - 1) / width;
        var memory = PanelMemory.Allocate(panels * k * width); // zeroed, so the last panel's padding stays zero
        var packed = memory.Span;
        var bias = new float[panels * width];
        int column = 0;
        foreach (var part in parts)
        {
            // Copy runs that stay inside one source panel and one destination panel.
            var partPanels = part.PanelValues;
            int partWidth = part.Width;
            for (int done = 0; done < part.OutChannels;)
            {
                int from = done % partWidth, to = (column + done) % width;
                int run = Math.Min(part.OutChannels - done, Math.Min(partWidth - from, width - to));
                var source = partPanels.Slice((done / partWidth) * k * partWidth, k * partWidth);
                var destination = packed.Slice(((column + done) / width) * k * width, k * width);
                for (int row = 0; row < k; row++)
                {
                    source.Slice(row * partWidth + from, run).CopyTo(destination.Slice(row * width + to, run));
                }

                done += run;
            }

            part.Bias.AsSpan(0, part.OutChannels).CopyTo(bias.AsSpan(column));
            column += part.OutChannels;
        }

        return new PackedConvWeights(head.KernelH, head.KernelW, head.InChannels, total, memory, bias);
    }

    /// <summary>Input channels at most of weights that have a <see cref="DirectForm"/>.</summary>
    internal const int DirectMaxInChannels = 4;

    /// <summary>Taps (kernel height × width × input channels) at most of weights that have a <see cref="DirectForm"/>: a 7×7 kernel over four channels.</summary>
    internal const int DirectMaxTaps = 7 * 7 * DirectMaxInChannels;

    /// <summary>
    /// The weights regrouped for <see cref="KernelSet.DirectSmallInput"/>, made on first use and kept: groups of
    /// <see cref="KernelSet.DirectGroup"/> output channels, each group [tap][channel] with the taps in the GEMM's reduction
    /// order (kernel row, column, input channel), channels past the last zero. Null for weights with more than
    /// <see cref="DirectMaxInChannels"/> input channels, more than <see cref="DirectMaxTaps"/> taps, or not packed in
    /// <see cref="NarrowPanelWidth"/>-wide panels (more than 16 output channels, or the tests' wide packing), which never
    /// run through it (at R-Net's and O-Net's 28 and 32 channels the GEMM's full panels were faster: 1.46 against 1.84 ms
    /// for R-Net's first layer over 64 crops' worth of rows).
    /// </summary>
    internal float[]? DirectForm
    {
        get
        {
            if (InChannels > DirectMaxInChannels || Width != NarrowPanelWidth || ReductionLength > DirectMaxTaps)
            {
                return null;
            }

            if (Volatile.Read(ref _direct) is { } made)
            {
                return made;
            }

            int k = ReductionLength, groups = (OutChannels + KernelSet.DirectGroup - 1) / KernelSet.DirectGroup;
            var form = new float[groups * k * KernelSet.DirectGroup];
            var panel = PanelValues;
            for (int g = 0; g < groups; g++)
            {
                for (int t = 0; t < k; t++)
                {
                    for (int j = 0; j < KernelSet.DirectGroup; j++)
                    {
                        int channel = g * KernelSet.DirectGroup + j;
                        form[(g * k + t) * KernelSet.DirectGroup + j] = channel < OutChannels ? panel[t * Width + channel] : 0f;
                    }
                }
            }

            GC.KeepAlive(this);
            Interlocked.CompareExchange(ref _direct, form, null);
            return _direct;
        }
    }

    private float[]? _direct;

    /// <summary>
    /// The Winograd form of these weights (F(2×2, 3×3), F(2, 7) or the stride-2 3×3 form), once
    /// <see cref="PrepareWinograd"/> has asked for it: <see cref="Conv2D"/> then runs windows of its stride through it
    /// (null: always the direct GEMM). A form still being made on another thread is waited for, and one no thread has
    /// started is made here, so every pass sees the same form; a failure to make it is thrown here, every time.
    /// </summary>
    internal WinogradWeights? Winograd => Volatile.Read(ref _making)?.Form.Value;

    /// <summary>Whether the Winograd form asked for has been made (tests: without waiting for it).</summary>
    internal bool WinogradMade => Volatile.Read(ref _making)?.Form.IsValueCreated == true;

    // The form asked for: the first request decides its stride; made by whoever reads it first (a thread-pool item when
    // asked for in the background, or the caller), the others wait for it (Lazy, ExecutionAndPublication).
    private Making? _making;

    private sealed class Making(int stride, Lazy<WinogradWeights> form)
    {
        public int Stride { get; } = stride;

        public Lazy<WinogradWeights> Form { get; } = form;

        // The thread-pool item: a failure stays in the Lazy, for whoever reads the form (it must not end the process).
        public void Run()
        {
            try
            {
                _ = Form.Value;
            }
            catch (Exception)
            {
                // thrown again to every reader of Winograd
            }
        }
    }

    /// <summary>
    /// Prepares the Winograd form of a 3×3, 1×7 or 7×1 kernel, which <see cref="Conv2D"/> then uses for windows of
    /// <paramref name="stride"/> (both ways).
    /// <list type="bullet">
    /// <item>3×3, F(2×2, 3×3): 16 transformed 1×1 kernels (16/9 of these weights' memory again); 16 multiply-adds per
    /// input and output channel for each 2×2 block of outputs instead of 36.</item>
    /// <item>1×7 and 7×1, F(2, 7) along the long side: 8 transformed 1×1 kernels (8/7 of the memory again); 8 multiply-adds
    /// for each pair of outputs instead of 14.</item>
    /// <item>3×3 at stride 2, split by row and column parity with F(2, 2) on the even taps: 16 transformed 1×1 kernels
    /// (16/9 of the memory again); 25 multiply-adds per input and output channel for each 2×2 block of outputs instead of
    /// 36. Its transforms only add and subtract, with coefficients 0 and ±1.</item>
    /// </list>
    /// Results differ from the direct convolution by rounding only: the transforms combine a patch's inputs and the
    /// products, and each product sum runs over the input channels alone instead of all taps (at 300 input channels,
    /// inputs and weights in [−1, 1], F(2×2, 3×3) is within 5.3e-5 of a double reference, the direct path within 1.3e-4;
    /// F(2, 7), whose input transform weighs inputs by up to 21, within 1.03e-4 at 128 and at 300 input channels).
    /// Returns false, and changes nothing, for kernels where it does not pay: other shapes, fewer than 32 input or output
    /// channels, or input × output channels above 192 × 192 = 36 864 unless <paramref name="evenIfLarge"/> (the largest
    /// kernels usually run on the smallest maps, where the transform saves least for the most memory; FaceNet's Mixed_7a
    /// 3×3 256 → 256 runs on 8×8 maps and asks for it). Safe to call from several threads; the first request decides
    /// the form.
    /// </summary>
    /// <param name="evenIfLarge">Prepare kernels past 192 × 192 channels too (the caller knows their maps hold whole tiles).</param>
    /// <param name="stride">The stride of the windows these weights run at: 1, or 2 for a 3×3 kernel.</param>
    /// <param name="inBackground">
    /// Make the form on the thread pool and return at once: a model's load goes on binding the next layers meanwhile, on a
    /// machine whose other core would otherwise wait (the forms were about half of FaceNet's build on one thread). The
    /// first convolution through these weights waits for the form, or makes it if no thread has started it; a later call
    /// here in the background returns at once. <see cref="PerformedMultiplyAdds"/> reads the form too: a model's load
    /// that counts them waits for every form, and fails if one could not be made.
    /// </param>
    /// <returns>Whether these weights now have a form for <paramref name="stride"/>, or will have once it is made (false also when they already hold one for another stride).</returns>
    public bool PrepareWinograd(bool evenIfLarge = false, int stride = 1, bool inBackground = false)
    {
        var making = Volatile.Read(ref _making);
        if (making is null)
        {
            if (WinogradWeights.KindOf(this, evenIfLarge, stride) is null)
            {
                return false;
            }

            var mine = new Making(stride, new Lazy<WinogradWeights>(() => new WinogradWeights(this, evenIfLarge, stride), LazyThreadSafetyMode.ExecutionAndPublication));
            making = Interlocked.CompareExchange(ref _making, mine, null) ?? mine;
            if (making == mine && inBackground)
            {
                if (HeldForTests.Value is { } held)
                {
                    held.Add(mine.Run);
                }
                else
                {
                    ThreadPool.UnsafeQueueUserWorkItem(static m => m.Run(), mine, preferLocal: false);
                }
            }
        }

        if (!inBackground)
        {
            _ = making.Form.Value; // made here, or waited for
        }

        return making.Stride == stride;
    }

    // Tests hold the background work back (it flows to the test's calls and to nothing else).
    internal static readonly AsyncLocal<List<Action>?> HeldForTests = new();

    /// <summary>Kernel height.</summary>
    public int KernelH { get; }

    /// <summary>Kernel width.</summary>
    public int KernelW { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Reduction length K = kh·kw·in.</summary>
    public int ReductionLength => KernelH * KernelW * InChannels;

    /// <summary>Output channels per panel: <see cref="NarrowPanelWidth"/> for at most that many output channels, else <see cref="PanelWidth"/>.</summary>
    public int Width { get; }

    /// <summary>Number of <see cref="Width"/>-wide panels.</summary>
    public int Panels { get; }

    /// <summary>
    /// The packed kernel, [panel][k][Width], in native memory whose first value is 64-byte aligned: a 512-bit load of
    /// a panel never straddles two cache lines (where the values happen to land would otherwise change the speed from one
    /// process to the next). Valid while these weights are reachable: a kernel holding the pointer keeps them alive.
    /// </summary>
    internal unsafe float* Values => _memory.Values;

    /// <summary>
    /// The packed kernel as a span (see <see cref="Values"/>). The span does not keep these weights alive: a caller that
    /// does not use them after taking it must <see cref="GC.KeepAlive"/> them past its last use of the span.
    /// </summary>
    internal Span<float> PanelValues => _memory.Span;

    /// <summary>Bias, zero-padded to whole panels.</summary>
    internal float[] Bias { get; }

    /// <summary>Multiply-adds of one output pixel.</summary>
    public long MultiplyAddsPerPixel => (long)ReductionLength * OutChannels;

    /// <summary>
    /// Multiply-adds <see cref="Conv2D"/> performs for one image's <paramref name="outH"/> × <paramref name="outW"/> output
    /// with these weights: through the Winograd form when there is one (<see cref="PrepareWinograd"/>) and the window has
    /// its stride — every output tile, the partial ones at the edges counted whole, times the transformed tile's elements
    /// times input × output channels; the transforms' own arithmetic not counted — else <see cref="MultiplyAddsPerPixel"/>
    /// per output pixel. Set against the nominal count, it shows what the transform saves and what the FMA units really do.
    /// </summary>
    /// <param name="outH">Output height.</param>
    /// <param name="outW">Output width.</param>
    /// <param name="strideH">Vertical stride of the window.</param>
    /// <param name="strideW">Horizontal stride of the window.</param>
    public long PerformedMultiplyAdds(int outH, int outW, int strideH, int strideW)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outH);
        ArgumentOutOfRangeException.ThrowIfNegative(outW);
        return Conv2D.WinogradEnabled && Winograd is { } transformed && strideH == transformed.Stride && strideW == transformed.Stride
            ? transformed.MultiplyAdds(outH, outW)
            : (long)outH * outW * MultiplyAddsPerPixel;
    }

    /// <summary>The unpacked kernel (kh, kw, in, out) row-major, for tests and reference code.</summary>
    public float[] UnpackKernel()
    {
        var kernel = new float[ReductionLength * OutChannels];
        UnpackKernel(kernel);
        return kernel;
    }

    /// <summary>
    /// <see cref="UnpackKernel()"/> into <paramref name="kernel"/> (at least kh·kw·in·out long), without allocating:
    /// Winograd preparation unpacks every kernel it transforms while a model loads.
    /// </summary>
    internal void UnpackKernel(Span<float> kernel)
    {
        int k = ReductionLength;
        var panels = PanelValues;
        // Kernel row by kernel row, as the constructor packs: the kernel is written in order (panel by panel wrote a strip
        // of it a row apart).
        for (int row = 0; row < k; row++)
        {
            var kernelRow = kernel.Slice(row * OutChannels, OutChannels);
            for (int panel = 0, first = 0; first < OutChannels; panel++, first += Width)
            {
                panels.Slice((panel * k + row) * Width, Math.Min(Width, OutChannels - first)).CopyTo(kernelRow[first..]);
            }
        }

        GC.KeepAlive(this); // the span does not keep the native memory alive; these weights do
    }

    /// <summary>The bias (length out).</summary>
    public float[] UnpackBias() => Bias.AsSpan(0, OutChannels).ToArray();
}
