namespace InceptionNet.Tensors;

/// <summary>How a convolution or pooling window is padded.</summary>
public enum PaddingMode
{
    /// <summary>No padding; the output is floor((in − k) / s) + 1.</summary>
    Valid,

    /// <summary>
    /// Keras/TensorFlow "same": output ceil(in / s); the total padding max((out − 1)·s + k − in, 0) is split with the
    /// extra row/column at the bottom/right.
    /// </summary>
    Same,

    /// <summary>Explicit padding given by the caller (ZeroPadding2D folded into the next layer).</summary>
    Explicit,
}

/// <summary>Window size, stride and padding of a 2-D convolution or pooling over NHWC data.</summary>
public readonly record struct WindowGeometry
{
    /// <summary>Creates a geometry; explicit pads are used only with <see cref="PaddingMode.Explicit"/>.</summary>
    public WindowGeometry(int kernelH, int kernelW, int strideH, int strideW, PaddingMode padding,
        int padTop = 0, int padBottom = 0, int padLeft = 0, int padRight = 0)
    {
        if (kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1 || padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0)
        {
            throw new ArgumentException($"Invalid window {kernelH}x{kernelW} stride {strideH}x{strideW} pads ({padTop},{padBottom},{padLeft},{padRight}).");
        }

        if (padding != PaddingMode.Explicit && (padTop | padBottom | padLeft | padRight) != 0)
        {
            throw new ArgumentException("Explicit pads need PaddingMode.Explicit.");
        }

        KernelH = kernelH;
        KernelW = kernelW;
        StrideH = strideH;
        StrideW = strideW;
        Padding = padding;
        PadTop = padTop;
        PadBottom = padBottom;
        PadLeft = padLeft;
        PadRight = padRight;
    }

    /// <summary>Square window with equal strides.</summary>
    public static WindowGeometry Square(int kernel, int stride, PaddingMode padding) => new(kernel, kernel, stride, stride, padding);

    /// <summary>Window height.</summary>
    public int KernelH { get; }

    /// <summary>Window width.</summary>
    public int KernelW { get; }

    /// <summary>Vertical stride.</summary>
    public int StrideH { get; }

    /// <summary>Horizontal stride.</summary>
    public int StrideW { get; }

    /// <summary>Padding rule.</summary>
    public PaddingMode Padding { get; }

    /// <summary>Explicit top padding.</summary>
    public int PadTop { get; }

    /// <summary>Explicit bottom padding.</summary>
    public int PadBottom { get; }

    /// <summary>Explicit left padding.</summary>
    public int PadLeft { get; }

    /// <summary>Explicit right padding.</summary>
    public int PadRight { get; }

    /// <summary>Output height and width, and the top/left padding, for an input of <paramref name="inH"/>×<paramref name="inW"/>.</summary>
    public (int OutH, int OutW, int Top, int Left) Resolve(int inH, int inW)
    {
        var (outH, top) = Axis(inH, KernelH, StrideH, PadTop, PadBottom);
        var (outW, left) = Axis(inW, KernelW, StrideW, PadLeft, PadRight);
        if (outH < 1 || outW < 1)
        {
            throw new ArgumentException($"A {KernelH}x{KernelW} window with stride {StrideH}x{StrideW} and {Padding} padding does not fit an input of {inH}x{inW}.");
        }

        return (outH, outW, top, left);
    }

    private (int Out, int Before) Axis(int input, int kernel, int stride, int before, int after)
    {
        switch (Padding)
        {
            case PaddingMode.Valid:
                return (input < kernel ? 0 : ((input - kernel) / stride) + 1, 0);
            case PaddingMode.Same:
                int output = (input + stride - 1) / stride;
                int total = Math.Max(((output - 1) * stride) + kernel - input, 0);
                return (output, total / 2);
            default:
                int padded = input + before + after;
                return (padded < kernel ? 0 : ((padded - kernel) / stride) + 1, before);
        }
    }
}
