using InceptionNet.Tensors;
using InceptionNet.Weights;

namespace InceptionNet.Graph;

/// <summary>How a batch normalization layer is parameterized in the weights file.</summary>
/// <param name="Epsilon">Added to the moving variance.</param>
/// <param name="HasGamma">False for Keras <c>scale=False</c> (no gamma stored; gamma = 1).</param>
public readonly record struct BatchNormSpec(double Epsilon, bool HasGamma);

/// <summary>
/// A Keras Conv2D (or Dense, as a 1×1 convolution) with the BatchNormalization that follows it folded in at load time:
/// <c>w' = w·γ/√(σ²+ε)</c>, <c>b' = (b − μ)·γ/√(σ²+ε) + β</c>, computed in double, then packed for <see cref="Conv2D"/>.
/// </summary>
public sealed class ConvLayer : ILayer
{
    private ConvLayer(string name, PackedConvWeights weights, WindowGeometry geometry, bool relu)
    {
        Name = name;
        Weights = weights;
        Geometry = geometry;
        Relu = relu;
        if (geometry.StrideH == 1 && geometry.StrideW == 1)
        {
            // A 3×3, 1×7 or 7×1 kernel wide enough gets its Winograd form, made on another thread while the load goes on
            // (whoever reads it first makes it or waits for it: a FaceEncoder before its load returns); others are left
            // as they are.
            weights.PrepareWinograd(inBackground: true);
        }
    }

    /// <summary>Keras name of the convolution.</summary>
    public string Name { get; }

    /// <summary>Packed weights with BN folded.</summary>
    public PackedConvWeights Weights { get; }

    /// <summary>Window, stride and padding.</summary>
    public WindowGeometry Geometry { get; }

    /// <summary>Whether ReLU follows.</summary>
    public bool Relu { get; }

    /// <summary>Per-output-channel slopes of a parametric ReLU fused into the store (null: none).</summary>
    public float[]? PreluSlopes { get; private init; }

    /// <summary>The same convolution with a parametric ReLU (one slope per output channel) fused into its store.</summary>
    public ConvLayer WithPrelu(float[] slopes)
    {
        ArgumentNullException.ThrowIfNull(slopes);
        if (slopes.Length != OutChannels)
        {
            throw new ArgumentException($"{Name}: {slopes.Length} PReLU slopes for {OutChannels} output channels.");
        }

        return new ConvLayer(Name, Weights, Geometry, relu: false) { PreluSlopes = slopes };
    }

    /// <summary>Output channels.</summary>
    public int OutChannels => Weights.OutChannels;

    /// <summary>
    /// Binds <paramref name="conv"/> (kernel, and bias when <paramref name="hasBias"/>) and, when given,
    /// <paramref name="batchNorm"/> from <paramref name="weights"/>.
    /// </summary>
    public static ConvLayer Load(WeightSet weights, string conv, int kernelH, int kernelW, int inChannels, int outChannels,
        WindowGeometry geometry, bool hasBias, string? batchNorm, BatchNormSpec bn, bool relu) =>
        Bind(weights, conv, [kernelH, kernelW, inChannels, outChannels], kernelH, kernelW, inChannels, outChannels, geometry, hasBias, batchNorm, bn, relu);

    /// <summary>
    /// Binds a Keras Dense layer (kernel (in, out)) and optionally the BatchNormalization after it, as a 1×1 convolution
    /// over a [N, 1, 1, in] tensor (Flatten of a 1×1 map is the identity).
    /// </summary>
    public static ConvLayer LoadDense(WeightSet weights, string dense, int inputs, int outputs, bool hasBias, string? batchNorm, BatchNormSpec bn) =>
        Bind(weights, dense, [inputs, outputs], 1, 1, inputs, outputs, WindowGeometry.Square(1, 1, PaddingMode.Valid), hasBias, batchNorm, bn, relu: false);

    // storedShape: the kernel's shape in the file (a Dense kernel is (in, out), the same values as (1, 1, in, out)).
    private static ConvLayer Bind(WeightSet weights, string conv, int[] storedShape, int kernelH, int kernelW, int inChannels, int outChannels,
        WindowGeometry geometry, bool hasBias, string? batchNorm, BatchNormSpec bn, bool relu)
    {
        ArgumentNullException.ThrowIfNull(weights);
        // The kernel goes from the file through a pooled buffer straight into the packed panels: the only new memory a
        // convolution costs is its packed weights (fresh pages are most of a cold start's load time).
        int length = checked(kernelH * kernelW * inChannels * outChannels);
        var buffer = RentKernelBuffer(length);
        try
        {
            var kernel = buffer.AsSpan(0, length);
            weights.Take(conv, "kernel", kernel, storedShape);
            return Fold(weights, conv, kernel, kernelH, kernelW, inChannels, outChannels, geometry, hasBias, batchNorm, bn, relu);
        }
        finally
        {
            ReturnKernelBuffer(buffer);
        }
    }

    // The last binding's kernel buffer, for the next one; weakly held, so the GC may take it once a model has loaded. Not
    // ArrayPool<float>.Shared: a JIT build compiles that pool's generic code at run time, some 8 ms of a cold start.
    private static WeakReference<float[]>? s_spareKernelBuffer;

    // Keeps `buffer` as the spare unless a concurrent load left a longer one meanwhile.
    private static void ReturnKernelBuffer(float[] buffer)
    {
        var spare = Volatile.Read(ref s_spareKernelBuffer);
        if (spare is null || !spare.TryGetTarget(out var kept) || kept.Length < buffer.Length)
        {
            Volatile.Write(ref s_spareKernelBuffer, new WeakReference<float[]>(buffer));
        }
    }

    // At least `length` floats (a power of two when new, so growing kernels reuse it), taken from the spare if it is long
    // enough; concurrent loads each take their own.
    private static float[] RentKernelBuffer(int length)
    {
        var spare = Interlocked.Exchange(ref s_spareKernelBuffer, null);
        return spare is not null && spare.TryGetTarget(out var buffer) && buffer.Length >= length
            ? buffer
            : new float[length <= 1 << 30 ? (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 1)) : length];
    }

    /// <summary>
    /// A convolution from arrays already in Keras layout (kernel (kh, kw, in, out), HWIO), with an optional per-output-channel
    /// affine <c>y = (conv + bias)·scale + shift</c> folded in (in double): face-api's conv + scale layers.
    /// </summary>
    public static ConvLayer FromArrays(string name, float[] kernel, float[] bias, int kernelH, int kernelW, int inChannels, int outChannels,
        WindowGeometry geometry, bool relu, float[]? scale = null, float[]? shift = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(bias);
        if (scale is null)
        {
            return new ConvLayer(name, new PackedConvWeights(kernel, kernelH, kernelW, inChannels, outChannels, bias), geometry, relu);
        }

        var factors = Array.ConvertAll(scale, v => (double)v);
        var foldedBias = new float[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            foldedBias[o] = (float)(bias[o] * factors[o] + (shift?[o] ?? 0.0));
        }

        return new ConvLayer(name, new PackedConvWeights(kernel, kernelH, kernelW, inChannels, outChannels, foldedBias, factors), geometry, relu);
    }

    /// <summary>
    /// Pointwise convolutions that read the same input, as one whose output channels are <paramref name="parts"/>' side by
    /// side (named <paramref name="name"/>, with the first part's window and activation): the packed weights are
    /// concatenated as they are, bit for bit.
    /// </summary>
    public static ConvLayer Concatenate(string name, IReadOnlyList<ConvLayer> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0 || parts.Any(p => p.PreluSlopes is not null || p.Relu != parts[0].Relu))
        {
            throw new ArgumentException($"{name}: only convolutions with the same activation, without PReLU, can be concatenated.", nameof(parts));
        }

        return new ConvLayer(name, PackedConvWeights.Concatenate([.. parts.Select(p => p.Weights)]), parts[0].Geometry, parts[0].Relu);
    }

    // w'[…, o] = w[…, o]·γ/√(σ²+ε) in double, rounded once to float32 as the kernel is packed (Keras layout: the output
    // channel is the last axis).
    private static ConvLayer Fold(WeightSet weights, string conv, ReadOnlySpan<float> kernel, int kernelH, int kernelW, int inChannels, int outChannels,
        WindowGeometry geometry, bool hasBias, string? batchNorm, BatchNormSpec bn, bool relu)
    {
        float[] bias = hasBias ? weights.Take(conv, "bias", outChannels) : new float[outChannels];
        if (batchNorm is null)
        {
            return new ConvLayer(conv, new PackedConvWeights(kernel, kernelH, kernelW, inChannels, outChannels, bias), geometry, relu);
        }

        float[]? gamma = bn.HasGamma ? weights.Take(batchNorm, "gamma", outChannels) : null;
        float[] beta = weights.Take(batchNorm, "beta", outChannels);
        float[] mean = weights.Take(batchNorm, "moving_mean", outChannels);
        float[] variance = weights.Take(batchNorm, "moving_variance", outChannels);
        var foldedBias = new float[outChannels];
        var scale = new double[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            if (!(variance[o] + bn.Epsilon > 0))
            {
                throw new InvalidWeightsException(weights.Source, $"'{batchNorm}/moving_variance' [{o}] = {variance[o]} makes the normalization undefined.");
            }

            scale[o] = (gamma?[o] ?? 1.0) / Math.Sqrt(variance[o] + bn.Epsilon);
            foldedBias[o] = (float)(((double)bias[o] - mean[o]) * scale[o] + beta[o]);
        }

        return new ConvLayer(conv, new PackedConvWeights(kernel, kernelH, kernelW, inChannels, outChannels, foldedBias, scale), geometry, relu);
    }

    /// <summary>Output size for an input of <paramref name="h"/>×<paramref name="w"/>.</summary>
    public (int H, int W) OutputSize(int h, int w)
    {
        var (outH, outW, _, _) = Geometry.Resolve(h, w);
        return (outH, outW);
    }

    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        if (input.C != Weights.InChannels)
        {
            throw new InvalidOperationException($"{Name} expects {Weights.InChannels} input channels, the graph gives {input.C}.");
        }

        var (h, w) = OutputSize(input.H, input.W);
        return new Shape(h, w, OutChannels);
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input)
    {
        var output = OutputShape(input);
        return (long)output.H * output.W * Weights.MultiplyAddsPerPixel;
    }

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input)
    {
        var output = OutputShape(input);
        return Weights.PerformedMultiplyAdds(output.H, output.W, Geometry.StrideH, Geometry.StrideW);
    }

    /// <summary>Runs into <paramref name="output"/> (may be a channel slice of a concatenation).</summary>
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context) =>
        Conv2D.Forward(input, Weights, Geometry, output, PreluSlopes is null ? ConvEpilogue.Bias(Relu) : ConvEpilogue.Prelu(PreluSlopes),
            context.Kernels, context.Workers);

    /// <summary>
    /// Runs with output channels [0, <paramref name="first"/>.C) written to <paramref name="first"/> and the rest to
    /// <paramref name="rest"/> (the split must fall on a panel boundary).
    /// </summary>
    public void ForwardSplit(TensorSlice input, TensorSlice first, TensorSlice rest, ExecutionContext context) =>
        Conv2D.Forward(input, Weights, Geometry, first, ConvEpilogue.Bias(Relu).WithSplit(first.C, rest), context.Kernels, context.Workers);

    /// <summary>Runs into a new tensor rented from the context's pool.</summary>
    public TensorSlice Forward(TensorSlice input, ExecutionContext context)
    {
        var (h, w) = OutputSize(input.H, input.W);
        var output = context.Pool.Rent(input.N, h, w, OutChannels);
        Forward(input, output, context);
        return output;
    }

    /// <summary>
    /// Residual form: <c>output = act(residual + scale·conv(input))</c>, where <c>act</c> is ReLU when
    /// <paramref name="relu"/> says so (default: the layer's own activation); <paramref name="output"/> may be
    /// <paramref name="residual"/>.
    /// </summary>
    public void ForwardResidual(TensorSlice input, TensorSlice residual, float scale, TensorSlice output, ExecutionContext context, bool? relu = null) =>
        Conv2D.Forward(input, Weights, Geometry, output, ConvEpilogue.ScaledResidual(residual, scale, relu ?? Relu), context.Kernels, context.Workers);
}
