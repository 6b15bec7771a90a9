namespace InceptionNet.Tensors;

/// <summary>
/// Convolution (or dense) weights prepared once at load time for <see cref="Conv2D"/>: the Keras kernel
/// (kh, kw, in, out) — which is already the row-major GEMM matrix B[K = kh·kw·in, out] — cut into panels of
/// <see cref="PanelWidth"/> output channels, each panel stored k-major and zero-padded, so the micro-kernel
/// streams it with aligned vector loads. Batch normalization is folded in before packing.
/// </summary>
public sealed class PackedConvWeights
{
    /// <summary>Output channels per panel: two 512-bit vectors.</summary>
    public const int PanelWidth = 32;

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

        KernelH = kernelH;
        KernelW = kernelW;
        InChannels = inChannels;
        OutChannels = outChannels;
        Panels = (outChannels + PanelWidth - 1) / PanelWidth;
        (Packed, Start) = AllocatePanels(Panels, k);
        for (int panel = 0; panel < Panels; panel++)
        {
            // Each panel row is a contiguous run of the kernel row: copied (or scaled) as one span, padding zeroed.
            int first = panel * PanelWidth, width = Math.Min(PanelWidth, outChannels - first);
            var panelRows = Packed.AsSpan(Start + panel * k * PanelWidth, k * PanelWidth);
            for (int row = 0; row < k; row++)
            {
                var source = kernel.Slice(row * outChannels + first, width);
                var destination = panelRows.Slice(row * PanelWidth, PanelWidth);
                if (outputScale.IsEmpty)
                {
                    source.CopyTo(destination);
                }
                else
                {
                    for (int j = 0; j < width; j++)
                    {
                        destination[j] = (float)(source[j] * outputScale[first + j]);
                    }
                }

                destination[width..].Clear();
            }
        }

        Bias = new float[Panels * PanelWidth];
        bias.CopyTo(Bias);
    }

    private PackedConvWeights(int kernelH, int kernelW, int inChannels, int outChannels, float[] packed, int start, float[] bias)
    {
        KernelH = kernelH;
        KernelW = kernelW;
        InChannels = inChannels;
        OutChannels = outChannels;
        Panels = (outChannels + PanelWidth - 1) / PanelWidth;
        Packed = packed;
        Start = start;
        Bias = bias;
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

        int k = head.ReductionLength, total = parts.Sum(p => p.OutChannels), panels = (total + PanelWidth - 1) / PanelWidth;
        var (packed, start) = AllocatePanels(panels, k);
        var bias = new float[panels * PanelWidth];
        int column = 0;
        foreach (var part in parts)
        {
            // Copy runs that stay inside one source panel and one destination panel.
            for (int done = 0; done < part.OutChannels;)
            {
                int from = done % PanelWidth, to = (column + done) % PanelWidth;
                int run = Math.Min(part.OutChannels - done, Math.Min(PanelWidth - from, PanelWidth - to));
                var source = part.Packed.AsSpan(part.Start + (done / PanelWidth) * k * PanelWidth, k * PanelWidth);
                var destination = packed.AsSpan(start + ((column + done) / PanelWidth) * k * PanelWidth, k * PanelWidth);
                for (int row = 0; row < k; row++)
                {
                    source.Slice(row * PanelWidth + from, run).CopyTo(destination.Slice(row * PanelWidth + to, run));
                }

                done += run;
            }

            part.Bias.AsSpan(0, part.OutChannels).CopyTo(bias.AsSpan(column));
            column += part.OutChannels;
        }

        if (total % PanelWidth != 0)
        {
            var last = packed.AsSpan(start + (panels - 1) * k * PanelWidth, k * PanelWidth);
            for (int row = 0; row < k; row++)
            {
                last.Slice(row * PanelWidth + total % PanelWidth, PanelWidth - total % PanelWidth).Clear();
            }
        }

        return new PackedConvWeights(head.KernelH, head.KernelW, head.InChannels, total, packed, start, bias);
    }

    // Pinned, and the panels start on a 64-byte boundary so no 512-bit load of B ever straddles two cache lines (where the
    // array happens to land would otherwise change the speed from one process to the next). Not zeroed as a whole: the
    // packers write every panel value (padding included) and only the slack around the panels is cleared here.
    private static (float[] Packed, int Start) AllocatePanels(int panels, int k)
    {
        int length = panels * k * PanelWidth;
        var packed = GC.AllocateUninitializedArray<float>(length + CacheLineFloats, pinned: true);
        int start = AlignedStart(packed);
        packed.AsSpan(0, start).Clear();
        packed.AsSpan(start + length).Clear();
        return (packed, start);
    }

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

    /// <summary>Number of <see cref="PanelWidth"/>-wide panels.</summary>
    public int Panels { get; }

    /// <summary>Packed kernel, [panel][k][PanelWidth] from <see cref="Start"/> on (pinned, so kernels can hold raw pointers).</summary>
    internal float[] Packed { get; }

    /// <summary>Index of the first packed value: the first 64-byte-aligned element of <see cref="Packed"/>.</summary>
    internal int Start { get; }

    private const int CacheLineFloats = 16;

    /// <summary>Index of the first element of a pinned array whose address is a multiple of 64 bytes.</summary>
    internal static unsafe int AlignedStart(float[] pinned)
    {
        fixed (float* p = pinned)
        {
            return (int)((64 - ((nuint)p & 63)) & 63) / sizeof(float);
        }
    }

    /// <summary>Bias, zero-padded to whole panels.</summary>
    internal float[] Bias { get; }

    /// <summary>Multiply-adds of one output pixel.</summary>
    public long MultiplyAddsPerPixel => (long)ReductionLength * OutChannels;

    /// <summary>The unpacked kernel (kh, kw, in, out) row-major, for tests and reference code.</summary>
    public float[] UnpackKernel()
    {
        int k = ReductionLength;
        var kernel = new float[k * OutChannels];
        for (int row = 0; row < k; row++)
        {
            for (int col = 0; col < OutChannels; col++)
            {
                kernel[row * OutChannels + col] = Packed[Start + ((col / PanelWidth) * k + row) * PanelWidth + (col % PanelWidth)];
            }
        }

        return kernel;
    }

    /// <summary>The bias (length out).</summary>
    public float[] UnpackBias() => Bias.AsSpan(0, OutChannels).ToArray();
}
