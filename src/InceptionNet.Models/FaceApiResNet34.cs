using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.Vision;
using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models;

/// <summary>
/// face-api's face recognition network (<c>faceRecognitionNet</c>, the ResNet-34-like descriptor of dlib's
/// <c>dlib_face_recognition_resnet_model_v1</c>): 150×150 RGB → 128-d descriptor, compared unnormalized with euclidean
/// distance, threshold 0.6. Weights: the tfjs manifest <c>face_recognition_model-weights_manifest.json</c> and its shard.
/// Each face-api conv unit (conv + bias, then a per-channel scale layer) is one convolution with the scale folded in.
/// </summary>
public sealed class FaceApiResNet34 : FaceEncoder
{
    /// <summary>Name prefix of the manifest face-api ships for this network.</summary>
    public const string ManifestPrefix = "face_recognition_model";

    /// <summary>Channel means subtracted before dividing by 255 (R, G, B), from <c>NetInput.toBatchTensor</c>.</summary>
    public static IReadOnlyList<float> MeanRgb { get; } = [122.782f, 117.001f, 104.298f];

    private FaceApiResNet34(WeightSet weights, ExecutionContext? context)
        : base(weights, Build(weights), context)
    {
    }

    /// <inheritdoc />
    public override string ModelId => "faceapi";

    /// <inheritdoc />
    public override int InputSize => 150;

    /// <inheritdoc />
    public override string PreprocessingId => "rgb-padsquare-tfbilinear-150-mean-div255";

    /// <inheritdoc />
    public override double DefaultThreshold => 0.6;

    /// <inheritdoc />
    public override bool NormalizesEmbedding => false;

    /// <summary>Loads the manifest at <paramref name="path"/> (or the face_recognition_model manifest in that folder).</summary>
    public static FaceApiResNet34 Load(string path, ExecutionContext? context = null) =>
        new(TfjsWeightReader.Read(TfjsWeightReader.FindManifest(path, ManifestPrefix)), context);

    /// <summary>Builds the model from already-read weights (all must be consumed).</summary>
    public static FaceApiResNet34 FromWeights(WeightSet weights, ExecutionContext? context = null) => new(weights, context);

    /// <summary>
    /// face-api's input: zero-pad to a centred square (<c>round(|H−W|/2)</c> after the image, the rest before), resize to
    /// 150×150 with <c>tf.image.resizeBilinear</c> (no half-pixel centres, double arithmetic, float32 result) unless the
    /// side is already 150, then <c>(x − mean) / 255</c> as two float32 operations.
    /// </summary>
    public override void PreprocessInto(RgbImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        // At side 150 the resize is the identity (every source coordinate is whole, every weight 0), which is face-api's
        // "no resize" case exactly.
        var input = Resize.TfBilinear(PadToSquare(image), InputSize, InputSize);
        if (destination.Length != input.Length)
        {
            throw new ArgumentException($"The input of {ModelId} is {input.Length} values, not {destination.Length}.", nameof(destination));
        }

        Normalize(input);
        input.CopyTo(destination);
    }

    /// <summary>Applies <c>(x − mean[c]) / 255</c> in place to RGB-interleaved values in 0..255.</summary>
    public static void Normalize(Span<float> rgb)
    {
        float r = MeanRgb[0], g = MeanRgb[1], b = MeanRgb[2];
        for (int i = 0; i + 2 < rgb.Length; i += 3)
        {
            rgb[i] = (rgb[i] - r) / 255f;
            rgb[i + 1] = (rgb[i + 1] - g) / 255f;
            rgb[i + 2] = (rgb[i + 2] - b) / 255f;
        }
    }

    /// <summary>face-api's <c>padToSquare(isCenterImage = true)</c> on bytes: black rows or columns on the short axis.</summary>
    public static RgbImage PadToSquare(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Width == image.Height)
        {
            return image;
        }

        int side = Math.Max(image.Width, image.Height);
        int diff = side - Math.Min(image.Width, image.Height);
        int after = (int)Math.Round(diff / 2.0, MidpointRounding.AwayFromZero); // JavaScript Math.round for positive halves
        int before = diff - after;
        int left = image.Width < side ? before : 0, top = image.Height < side ? before : 0;
        var pixels = new byte[side * side * 3];
        for (int y = 0; y < image.Height; y++)
        {
            image.Pixels.AsSpan(y * image.Width * 3, image.Width * 3).CopyTo(pixels.AsSpan(((top + y) * side + left) * 3));
        }

        return new RgbImage(side, side, pixels);
    }

    private static List<(string, ILayer)> Build(WeightSet w)
    {
        ConvLayer Unit(string prefix, int cin, int cout, int kernel, int stride, PaddingMode padding, bool relu)
        {
            string conv = prefix + "/conv", scale = prefix + "/scale";
            return ConvLayer.FromArrays(prefix, w.Take(conv, "filters", kernel, kernel, cin, cout), w.Take(conv, "bias", cout),
                kernel, kernel, cin, cout, WindowGeometry.Square(kernel, stride, padding), relu,
                w.Take(scale, "weights", cout), w.Take(scale, "biases", cout));
        }

        ILayer Residual(string block, int channels) => new FaceApiResidual(
            Unit(block + "/conv1", channels, channels, 3, 1, PaddingMode.Same, relu: true),
            Unit(block + "/conv2", channels, channels, 3, 1, PaddingMode.Same, relu: false));

        ILayer Down(string block, int cin, int cout) => new FaceApiResidualDown(
            Unit(block + "/conv1", cin, cout, 3, 2, PaddingMode.Valid, relu: true),
            Unit(block + "/conv2", cout, cout, 3, 1, PaddingMode.Same, relu: false));

        return
        [
            ("conv32_down", Unit("conv32_down", 3, 32, 7, 2, PaddingMode.Valid, relu: true)),
            ("max_pool", PoolLayer.Max(3, 2)),
            ("conv32_1", Residual("conv32_1", 32)),
            ("conv32_2", Residual("conv32_2", 32)),
            ("conv32_3", Residual("conv32_3", 32)),
            ("conv64_down", Down("conv64_down", 32, 64)),
            ("conv64_1", Residual("conv64_1", 64)),
            ("conv64_2", Residual("conv64_2", 64)),
            ("conv64_3", Residual("conv64_3", 64)),
            ("conv128_down", Down("conv128_down", 64, 128)),
            ("conv128_1", Residual("conv128_1", 128)),
            ("conv128_2", Residual("conv128_2", 128)),
            ("conv256_down", Down("conv256_down", 128, 256)),
            ("conv256_1", Residual("conv256_1", 256)),
            ("conv256_2", Residual("conv256_2", 256)),
            ("conv256_down_out", Down("conv256_down_out", 256, 256)),
            ("global_avg", new GlobalAveragePoolLayer()),
            ("fc", ConvLayer.FromArrays("fc", w.Take("fc", "fc", 256, 128), new float[128], 1, 1, 256, 128,
                WindowGeometry.Square(1, 1, PaddingMode.Valid), relu: false)),
        ];
    }
}

/// <summary>face-api <c>residual</c>: <c>relu(conv2(conv1(x)) + x)</c>, the sum and ReLU fused into conv2's store.</summary>
public sealed class FaceApiResidual(ConvLayer conv1, ConvLayer conv2) : ILayer
{
    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        var output = conv2.OutputShape(conv1.OutputShape(input));
        return output == input ? output : throw new InvalidOperationException($"{conv1.Name}: residual block maps {input} to {output}.");
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input) => conv1.MultiplyAdds(input) + conv2.MultiplyAdds(conv1.OutputShape(input));

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input) => conv1.PerformedMultiplyAdds(input) + conv2.PerformedMultiplyAdds(conv1.OutputShape(input));

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var a = conv1.Forward(input, context);
        conv2.ForwardResidual(a, input, 1f, output, context, relu: true);
        context.Pool.Return(a);
    }
}

/// <summary>
/// face-api <c>residualDown</c>: <c>b = conv2(conv1(x))</c> (conv1 stride 2, valid), <c>q = avgPool2×2/2(x)</c> with zero
/// channels appended up to b's channel count; when b is one row and column smaller than q it is zero-padded at the bottom
/// and right; output <c>relu(q + b)</c>.
/// </summary>
public sealed class FaceApiResidualDown(ConvLayer conv1, ConvLayer conv2) : ILayer
{
    private static readonly WindowGeometry PoolGeometry = WindowGeometry.Square(2, 2, PaddingMode.Valid);

    /// <inheritdoc />
    public Shape OutputShape(Shape input)
    {
        var b = conv2.OutputShape(conv1.OutputShape(input));
        var (qh, qw, _, _) = PoolGeometry.Resolve(input.H, input.W);
        if (qh < b.H || qw < b.W || qh - b.H > 1 || qw - b.W > 1 || b.C < input.C)
        {
            throw new InvalidOperationException($"{conv1.Name}: down-sampling block cannot join [{qh}, {qw}, {input.C}] and {b}.");
        }

        return new Shape(qh, qw, b.C);
    }

    /// <inheritdoc />
    public long MultiplyAdds(Shape input) => conv1.MultiplyAdds(input) + conv2.MultiplyAdds(conv1.OutputShape(input));

    /// <inheritdoc />
    public long PerformedMultiplyAdds(Shape input) => conv1.PerformedMultiplyAdds(input) + conv2.PerformedMultiplyAdds(conv1.OutputShape(input));

    /// <inheritdoc />
    public void Forward(TensorSlice input, TensorSlice output, ExecutionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // q: pooled input in the first channels, zeros after.
        var q = context.Pool.Rent(output.N, output.H, output.W, output.C, clear: true);
        Pooling.AvgPool(input, PoolGeometry, q.Channels(0, input.C), context.Kernels, context.Workers);
        var a = conv1.Forward(input, context);
        var (bh, bw) = conv2.OutputSize(a.H, a.W);
        if (bh == output.H && bw == output.W)
        {
            conv2.ForwardResidual(a, q, 1f, output, context, relu: true);
        }
        else
        {
            var b = conv2.Forward(a, context);
            for (int n = 0; n < output.N; n++)
            {
                for (int y = 0; y < output.H; y++)
                {
                    for (int x = 0; x < output.W; x++)
                    {
                        var o = output.Pixel(n, y, x);
                        var qp = q.Pixel(n, y, x);
                        bool inside = y < bh && x < bw;
                        var bp = inside ? b.Pixel(n, y, x) : default;
                        for (int c = 0; c < o.Length; c++)
                        {
                            o[c] = Math.Max(0f, inside ? qp[c] + bp[c] : qp[c]);
                        }
                    }
                }
            }

            context.Pool.Return(b);
        }

        context.Pool.Return(a);
        context.Pool.Return(q);
    }
}
