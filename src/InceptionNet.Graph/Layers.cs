using InceptionNet.Tensors;

namespace InceptionNet.Graph;

/// <summary>Per-image spatial shape of an activation, H × W × C (NHWC without the batch).</summary>
public readonly record struct Shape(int H, int W, int C)
{
    /// <inheritdoc />
    public override string ToString() => $"[{H}, {W}, {C}]";
}

/// <summary>A graph node with one input and one output, run batch-wise on NHWC tensors.</summary>
public interface ILayer
{
    /// <summary>Output shape for an input shape; throws when the input does not fit.</summary>
    Shape OutputShape(Shape input);

    /// <summary>Writes the output for <paramref name="input"/> into <paramref name="output"/> (possibly a channel slice).</summary>
    void Forward(TensorSlice input, TensorSlice output, ExecutionContext context);

    /// <summary>Multiply-adds per image (convolutions and dense layers only), counted as a direct convolution does them.</summary>
    long MultiplyAdds(Shape input) => 0;

    /// <summary>
    /// Multiply-adds per image as they are performed: convolutions that run through a Winograd form count its products
    /// (<see cref="PackedConvWeights.PerformedMultiplyAdds"/>), fewer than <see cref="MultiplyAdds"/>. Layers that hold
    /// others sum theirs.
    /// </summary>
    long PerformedMultiplyAdds(Shape input) => MultiplyAdds(input);
}

/// <summary>Keras MaxPooling2D / AveragePooling2D, or the L2 pooling of Keras-OpenFace.</summary>
public sealed class PoolLayer(PoolLayer.Kind kind, WindowGeometry geometry) : ILayer
{
    /// <summary>Which reduction.</summary>
    public enum Kind
    {
        /// <summary>Maximum.</summary>
        Max,

        /// <summary>Mean over the elements inside the input.</summary>
        Average,

        /// <summary>sqrt(k² · mean(x²)).</summary>
        L2,
    }

    /// <summary>Max pooling, square window.</summary>
    public static PoolLayer Max(int size, int stride, PaddingMode padding = PaddingMode.Valid) => new(Kind.Max, WindowGeometry.Square(size, stride, padding));

    /// <summary>Average pooling, square window.</summary>
    public static PoolLayer Average(int size, int stride, PaddingMode padding = PaddingMode.Valid) => new(Kind.Average, WindowGeometry.Square(size, stride, padding));

    /// <summary>L2 pooling, square window.</summary>
    public static PoolLayer L2(int size, int stride) => new(Kind.L2, WindowGeometry.Square(size, stride, PaddingMode.Valid));

    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        var (h, w, _, _) = geometry.Resolve(input.H, input.W);
        return new Shape(h, w, input.C);
    }

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        switch (kind)
        {
            case Kind.Max:
                Pooling.MaxPool(input, geometry, output, context.Kernels, context.Workers);
                break;
            case Kind.Average:
                Pooling.AvgPool(input, geometry, output, context.Kernels, context.Workers);
                break;
            default:
                Pooling.L2Pool(input, geometry, output, context.Kernels, context.Workers);
                break;
        }
    }
}

/// <summary>Keras ZeroPadding2D((top, bottom), (left, right)).</summary>
public sealed class ZeroPadLayer(int top, int bottom, int left, int right) : ILayer
{
    /// <summary>Symmetric padding.</summary>
    public ZeroPadLayer(int pad)
        : this(pad, pad, pad, pad)
    {
    }

    /// <inheritdoc />
    public Shape OutputShape(Shape input) => new(input.H + top + bottom, input.W + left + right, input.C);

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context) => ElementwiseOps.ZeroPad(input, top, left, output);
}

/// <summary>Channel LRN as <c>tf.nn.lrn(depth_radius=5, bias=1, alpha=1e-4, beta=0.75)</c> (Keras-OpenFace lrn_1/lrn_2).</summary>
public sealed class LrnLayer : ILayer
{
    private const int DepthRadius = 5; // 11-channel window; Keras-OpenFace LRN2D
    private const float Bias = 1f;
    private const float Alpha = 1e-4f; // not divided by the window size (tf.nn.lrn semantics)
    private const float Beta = 0.75f;

    /// <inheritdoc />
    public Shape OutputShape(Shape input) => input;

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context) =>
        ElementwiseOps.LocalResponseNorm(input, output, DepthRadius, Bias, Alpha, Beta);
}

/// <summary>Layers applied one after the other; intermediates come from the context's pool.</summary>
public sealed class Sequential(params ILayer[] layers) : ILayer
{
    // An array, not the interface: foreach over IReadOnlyList boxes an enumerator on every forward pass.
    private readonly ILayer[] _layers = layers;

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<ILayer> Layers => _layers;

    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        foreach (var layer in _layers)
        {
            input = layer.OutputShape(input);
        }

        return input;
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input) => Sum(input, performed: false);

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input) => Sum(input, performed: true);

    private long Sum(Shape input, bool performed)
    {
        long total = 0;
        foreach (var layer in _layers)
        {
            total += performed ? layer.PerformedMultiplyAdds(input) : layer.MultiplyAdds(input);
            input = layer.OutputShape(input);
        }

        return total;
    }

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        var current = input;
        bool rented = false;
        var shape = new Shape(input.H, input.W, input.C);
        for (int i = 0; i < _layers.Length; i++)
        {
            shape = _layers[i].OutputShape(shape);
            var next = i == _layers.Length - 1 ? output : context.Pool.Rent(input.N, shape.H, shape.W, shape.C);
            _layers[i].Forward(current, next, context);
            if (rented)
            {
                context.Pool.Return(current);
            }

            current = next;
            rented = i != _layers.Length - 1;
        }
    }
}

/// <summary>Branches run on the same input and concatenated on channels, in order (Keras <c>concatenate(axis=channels)</c>).</summary>
public sealed class Concatenate(params ILayer[] branches) : ILayer
{
    private readonly ILayer[] _branches = branches;

    /// <summary>The branches in concatenation order.</summary>
    public IReadOnlyList<ILayer> Branches => _branches;

    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        var first = _branches[0].OutputShape(input);
        int channels = 0;
        foreach (var branch in _branches)
        {
            var shape = branch.OutputShape(input);
            if (shape.H != first.H || shape.W != first.W)
            {
                throw new InvalidOperationException($"Concatenated branches disagree on spatial size: {first} and {shape}.");
            }

            channels += shape.C;
        }

        return first with { C = channels };
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input) => _branches.Sum(b => b.MultiplyAdds(input));

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input) => _branches.Sum(b => b.PerformedMultiplyAdds(input));

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        int offset = 0;
        var shape = new Shape(input.H, input.W, input.C);
        foreach (var branch in _branches)
        {
            int channels = branch.OutputShape(shape).C;
            branch.Forward(input, output.Channels(offset, channels), context);
            offset += channels;
        }
    }
}

/// <summary>
/// A <see cref="Concatenate"/> whose branches begin with 1×1 stride-1 convolutions of the same input (Inception blocks),
/// with those first convolutions run as one wider convolution: the input is read once and the cores share one larger
/// job instead of several small ones. Adjacent branches that are a single 1×1 convolution write their channels straight
/// to the output; the other branches' first results go to a temporary tensor that the rest of each branch reads. Outputs are
/// bit-identical to the unfused block (each channel is the same dot product in the same order).
/// </summary>
public sealed class FusedConcatenate : ILayer
{
    // Not the original concatenation: its first convolutions' packed weights now live in _fused, and holding both would
    // keep those weights twice (~25 MB of FaceNet's 91). Shapes and multiply-adds are derived from the parts below.
    private readonly int _outChannels;
    private readonly ConvLayer _fused;
    private readonly int _directOffset;    // output channels [offset, offset + direct) come from the fused convolution itself
    private readonly int _direct;
    private readonly int _headChannels;    // channels of the temporary tensor
    private readonly Tail[] _tails;
    private readonly Other[] _others;

    private FusedConcatenate(int outChannels, ConvLayer fused, int directOffset, int direct, int headChannels, Tail[] tails, Other[] others)
    {
        _outChannels = outChannels;
        _fused = fused;
        _directOffset = directOffset;
        _direct = direct;
        _headChannels = headChannels;
        _tails = tails;
        _others = others;
    }

    /// <summary>The fused form of <paramref name="concat"/>, or <paramref name="concat"/> itself when fewer than two branches qualify.</summary>
    public static ILayer TryFuse(Concatenate concat)
    {
        ArgumentNullException.ThrowIfNull(concat);
        var branches = concat.Branches;
        // Plain loops over the branches (no LINQ over ints or tuples): a cold start compiles every such instantiation.
        var heads = new ConvLayer?[branches.Count];
        ConvLayer? first = null;
        for (int i = 0; i < heads.Length; i++)
        {
            heads[i] = (branches[i] is Sequential seq ? seq.Layers[0] : branches[i]) is ConvLayer conv && IsPointwise(conv) ? conv : null;
            first ??= heads[i];
        }

        bool Joins(int i) => heads[i] is { } h && h.Relu == first!.Relu && h.Weights.InChannels == first.Weights.InChannels;
        if (first is null)
        {
            return concat;
        }

        // Branches that are a single 1×1 convolution write straight to the output: the first run of adjacent ones, if it
        // fills whole panels (the split between output and temporary falls on a panel boundary).
        int runStart = -1;
        for (int i = 0; i < branches.Count && runStart < 0; i++)
        {
            runStart = branches[i] is ConvLayer && Joins(i) ? i : -1;
        }

        int runEnd = runStart;
        int direct = 0;
        while (runEnd >= 0 && runEnd < branches.Count && branches[runEnd] is ConvLayer && Joins(runEnd))
        {
            direct += heads[runEnd]!.OutChannels;
            runEnd++;
        }

        if (direct % PackedConvWeights.PanelWidth != 0)
        {
            runStart = runEnd = -1;
            direct = 0;
        }

        var columns = new List<ConvLayer>(); // fused output channels: the direct branches, then the heads
        var tails = new List<Tail>();
        var others = new List<Other>();
        int outOffset = 0, headOffset = 0, directOffset = 0;
        for (int i = 0; i < branches.Count; i++)
        {
            int outChannels = branches[i].OutputShape(new Shape(256, 256, first.Weights.InChannels)).C; // any size the windows fit
            if (i == runStart)
            {
                directOffset = outOffset;
            }

            if (i >= runStart && i < runEnd)
            {
                columns.Insert(i - runStart, heads[i]!);
            }
            else if (Joins(i) && branches[i] is Sequential seq)
            {
                columns.Add(heads[i]!);
                var rest = seq.Layers.Skip(1).ToArray();
                tails.Add(new Tail(headOffset, heads[i]!.OutChannels, rest.Length == 1 ? rest[0] : new Sequential(rest), outOffset, outChannels));
                headOffset += heads[i]!.OutChannels;
            }
            else
            {
                others.Add(new Other(branches[i], outOffset, outChannels));
            }

            outOffset += outChannels;
        }

        if (tails.Count == 0 || columns.Count < 2)
        {
            return concat;
        }

        var fused = ConvLayer.Concatenate(string.Join("+", columns.Select(c => c.Name)), columns);
        return new FusedConcatenate(outOffset, fused, directOffset, direct, headOffset, [.. tails], [.. others]);
    }

    private static bool IsPointwise(ConvLayer conv) =>
        conv.Weights.KernelH == 1 && conv.Weights.KernelW == 1 && conv.PreluSlopes is null && conv.Geometry.Resolve(8, 8) == (8, 8, 0, 0);

    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        // Every branch gives the same height and width; the fused heads are pointwise, stride 1 (and check the channels).
        var heads = _fused.OutputShape(input);
        var size = _tails.Length > 0 ? _tails[0].Layer.OutputShape(new Shape(heads.H, heads.W, _tails[0].HeadChannels))
            : _others.Length > 0 ? _others[0].Branch.OutputShape(input)
            : heads;
        return new Shape(size.H, size.W, _outChannels);
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input)
    {
        var heads = _fused.OutputShape(input);
        return _fused.MultiplyAdds(input)
            + _tails.Sum(t => t.Layer.MultiplyAdds(new Shape(heads.H, heads.W, t.HeadChannels)))
            + _others.Sum(o => o.Branch.MultiplyAdds(input));
    }

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input)
    {
        var heads = _fused.OutputShape(input);
        return _fused.PerformedMultiplyAdds(input)
            + _tails.Sum(t => t.Layer.PerformedMultiplyAdds(new Shape(heads.H, heads.W, t.HeadChannels)))
            + _others.Sum(o => o.Branch.PerformedMultiplyAdds(input));
    }

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        var heads = context.Pool.Rent(input.N, input.H, input.W, _headChannels);
        if (_direct > 0)
        {
            _fused.ForwardSplit(input, output.Channels(_directOffset, _direct), heads, context);
        }
        else
        {
            _fused.Forward(input, heads, context);
        }

        foreach (var (headOffset, headChannels, tail, outOffset, outChannels) in _tails)
        {
            tail.Forward(heads.Channels(headOffset, headChannels), output.Channels(outOffset, outChannels), context);
        }

        foreach (var (branch, outOffset, outChannels) in _others)
        {
            branch.Forward(input, output.Channels(outOffset, outChannels), context);
        }

        context.Pool.Return(heads);
    }

    // A branch whose first 1×1 convolution joined the fused one: its channels in the temporary tensor, the rest of the
    // branch, and where its output goes. Classes, not tuples or structs: a JIT build has the framework's List<T> precompiled
    // for reference types only.
    private sealed record Tail(int HeadOffset, int HeadChannels, ILayer Layer, int OutOffset, int OutChannels);

    // A branch run as it is, and where its output goes.
    private sealed record Other(ILayer Branch, int OutOffset, int OutChannels);
}

/// <summary>
/// Inception-ResNet residual block (Block35 / Block17 / Block8 of keras-facenet):
/// <c>y = act(x + scale · up(concat(branches(x))))</c>, where <c>up</c> is a 1×1 convolution with bias and no BN.
/// The sum is fused into <c>up</c>'s store.
/// </summary>
public sealed class ResidualBlock(ILayer branches, ConvLayer up, float scale) : ILayer
{
    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        var mixed = branches.OutputShape(input);
        var output = up.OutputShape(mixed);
        return output == input ? output : throw new InvalidOperationException($"Residual block maps {input} to {output}.");
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input) => branches.MultiplyAdds(input) + up.MultiplyAdds(branches.OutputShape(input));

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input) =>
        branches.PerformedMultiplyAdds(input) + up.PerformedMultiplyAdds(branches.OutputShape(input));

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        var mixedShape = branches.OutputShape(new Shape(input.H, input.W, input.C));
        var mixed = context.Pool.Rent(input.N, mixedShape.H, mixedShape.W, mixedShape.C);
        branches.Forward(input, mixed, context);
        up.ForwardResidual(mixed, input, scale, output, context);
        context.Pool.Return(mixed);
    }
}

/// <summary>Keras GlobalAveragePooling2D (kept 4-D: output [N, 1, 1, C]).</summary>
public sealed class GlobalAveragePoolLayer : ILayer
{
    /// <inheritdoc />
    public Shape OutputShape(Shape input) => new(1, 1, input.C);

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context) =>
        Pooling.GlobalAvgPool(input, output, context.Kernels);
}

/// <summary>
/// Parametric ReLU with one slope per channel: <c>y = x &gt; 0 ? x : αc·x</c> (TF: relu(x) − α·relu(−x)). The plain
/// form of the PReLU that <see cref="ConvLayer.WithPrelu"/> fuses into a convolution's store (MTCNN).
/// </summary>
public sealed class PReluLayer(float[] alpha) : ILayer
{
    /// <inheritdoc />
    public Shape OutputShape(Shape input) =>
        input.C == alpha.Length ? input : throw new InvalidOperationException($"PReLU has {alpha.Length} slopes for {input.C} channels.");

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        int c = input.C;
        for (int p = 0; p < input.Pixels; p++)
        {
            var src = input.Buffer.AsSpan(input.Offset + p * input.PixelStride, c);
            var dst = output.Buffer.AsSpan(output.Offset + p * output.PixelStride, c);
            for (int i = 0; i < c; i++)
            {
                float v = src[i];
                dst[i] = v > 0f ? v : alpha[i] * v;
            }
        }
    }
}

/// <summary>A flattening view: [N, H, W, C] → [N, 1, 1, H·W·C] in row-major (NHWC) order, as the MTCNN dense layers read it.</summary>
public sealed class FlattenLayer : ILayer
{
    /// <inheritdoc />
    public Shape OutputShape(Shape input) => new(1, 1, input.H * input.W * input.C);

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        int pixels = input.H * input.W, c = input.C;
        for (int n = 0; n < input.N; n++)
        {
            var target = output.Pixel(n, 0, 0); // [H·W·C]
            for (int p = 0; p < pixels; p++)
            {
                input.Buffer.AsSpan(input.Offset + (n * pixels + p) * input.PixelStride, c).CopyTo(target.Slice(p * c, c));
            }
        }
    }
}
