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

        KernelH = kernelH;
        KernelW = kernelW;
        InChannels = inChannels;
        OutChannels = outChannels;
        Panels = (outChannels + PanelWidth - 1) / PanelWidth;
        // Pinned, and the panels start on a 64-byte boundary so no 512-bit load of B ever straddles two cache lines
        // (where the array happens to land would otherwise change the speed from one process to the next).
        Packed = GC.AllocateUninitializedArray<float>(Panels * k * PanelWidth + CacheLineFloats, pinned: true);
        Array.Clear(Packed);
        Start = AlignedStart(Packed);
        for (int row = 0; row < k; row++)
        {
            for (int col = 0; col < outChannels; col++)
            {
                int panel = col / PanelWidth;
                Packed[Start + (panel * k + row) * PanelWidth + (col % PanelWidth)] = kernel[row * outChannels + col];
            }
        }

        Bias = new float[Panels * PanelWidth];
        bias.CopyTo(Bias);
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
