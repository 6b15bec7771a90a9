using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models;

/// <summary>
/// FaceNet Inception-ResNet-v1 as in keras-facenet (the course's keras-facenet-h5/model.h5): 160×160×3 input,
/// 128-d output of <c>Bottleneck_BatchNorm</c>. Every convolution is conv (no bias) → BatchNormalization
/// (scale=False, ε = 1e-3) → ReLU, folded into one kernel at load time; residual up-projections have a bias and no BN.
/// </summary>
public sealed class FaceNetInceptionResNetV1 : FaceEncoder
{
    /// <summary>Keras BatchNormalization in keras-facenet: epsilon 0.001, scale=False (no gamma).</summary>
    private static readonly BatchNormSpec Bn = new(1e-3, HasGamma: false);

    private FaceNetInceptionResNetV1(WeightSet weights, ExecutionContext? context)
        : base(weights, Build(weights), context)
    {
    }

    /// <inheritdoc />
    public override string ModelId => "facenet";

    /// <inheritdoc />
    public override int InputSize => 160;

    /// <inheritdoc />
    public override string PreprocessingId => "rgb-pil-nearest-160-div255";

    /// <summary>Loads a Keras h5 file (save_weights or full model) with strict binding.</summary>
    public static FaceNetInceptionResNetV1 Load(string path, ExecutionContext? context = null) => new(WeightsLoader.Load(path), context);

    /// <summary>Builds the model from already-read weights (all must be consumed).</summary>
    public static FaceNetInceptionResNetV1 FromWeights(WeightSet weights, ExecutionContext? context = null) => new(weights, context);

    private static List<(string, ILayer)> Build(WeightSet w)
    {
        var stages = new List<(string, ILayer)>
        {
            // Stem: x: [160, 160, 3] → [17, 17, 256]
            ("Conv2d_1a_3x3_Activation", Conv(w, "Conv2d_1a_3x3", 3, 3, 3, 32, stride: 2, PaddingMode.Valid)),   // [79, 79, 32]
            ("Conv2d_2a_3x3_Activation", Conv(w, "Conv2d_2a_3x3", 3, 3, 32, 32, stride: 1, PaddingMode.Valid)),  // [77, 77, 32]
            ("Conv2d_2b_3x3_Activation", Conv(w, "Conv2d_2b_3x3", 3, 3, 32, 64)),                                // [77, 77, 64]
            ("MaxPool_3a_3x3", PoolLayer.Max(3, 2)),                                                              // [38, 38, 64]
            ("Conv2d_3b_1x1_Activation", Conv(w, "Conv2d_3b_1x1", 1, 1, 64, 80, stride: 1, PaddingMode.Valid)),  // [38, 38, 80]
            ("Conv2d_4a_3x3_Activation", Conv(w, "Conv2d_4a_3x3", 3, 3, 80, 192, stride: 1, PaddingMode.Valid)), // [36, 36, 192]
            ("Conv2d_4b_3x3_Activation", AtStride2(Conv(w, "Conv2d_4b_3x3", 3, 3, 192, 256, stride: 2, PaddingMode.Valid))), // [17, 17, 256]
        };

        for (int i = 1; i <= 5; i++)
        {
            stages.Add(($"Block35_{i}_Activation", Block35(w, i))); // [17, 17, 256]
        }

        stages.Add(("Mixed_6a", Mixed6a(w))); // [8, 8, 896]
        for (int i = 1; i <= 10; i++)
        {
            stages.Add(($"Block17_{i}_Activation", Block17(w, i))); // [8, 8, 896]
        }

        stages.Add(("Mixed_7a", Mixed7a(w))); // [3, 3, 1792]
        for (int i = 1; i <= 5; i++)
        {
            stages.Add(($"Block8_{i}_Activation", Block8(w, i, scale: 0.20f, relu: true))); // [3, 3, 1792]
        }

        stages.Add(("add_21", Block8(w, 6, scale: 1.0f, relu: false))); // last block: linear, scale 1; Keras names its output add_21
        stages.Add(("AvgPool", new GlobalAveragePoolLayer()));                       // [1, 1, 1792]; Dropout is identity at inference
        stages.Add(("Bottleneck_BatchNorm", ConvLayer.LoadDense(w, "Bottleneck", 1792, 128, // Dense 1792→128, no bias, + BN
            hasBias: false, "Bottleneck_BatchNorm", Bn)));
        return stages;
    }

    private static ResidualBlock Block35(WeightSet w, int i)
    {
        string p = $"Block35_{i}";
        var branches = new Concatenate(
            Head(w, $"{p}_Branch_0_Conv2d_1x1", 256, 32),
            new Sequential(Head(w, $"{p}_Branch_1_Conv2d_0a_1x1", 256, 32), Conv(w, $"{p}_Branch_1_Conv2d_0b_3x3", 3, 3, 32, 32)),
            new Sequential(Head(w, $"{p}_Branch_2_Conv2d_0a_1x1", 256, 32), Conv(w, $"{p}_Branch_2_Conv2d_0b_3x3", 3, 3, 32, 32),
                Conv(w, $"{p}_Branch_2_Conv2d_0c_3x3", 3, 3, 32, 32)));                     // concat: [17, 17, 96]
        return new ResidualBlock(FusedConcatenate.TryFuse(branches), Up(w, $"{p}_Conv2d_1x1", 96, 256, relu: true), 0.17f);
    }

    private static Concatenate Mixed6a(WeightSet w) => new(
        AtStride2(Conv(w, "Mixed_6a_Branch_0_Conv2d_1a_3x3", 3, 3, 256, 384, stride: 2, PaddingMode.Valid)),      // [8, 8, 384]
        new Sequential(
            Conv(w, "Mixed_6a_Branch_1_Conv2d_0a_1x1", 1, 1, 256, 192),
            Conv(w, "Mixed_6a_Branch_1_Conv2d_0b_3x3", 3, 3, 192, 192),
            AtStride2(Conv(w, "Mixed_6a_Branch_1_Conv2d_1a_3x3", 3, 3, 192, 256, stride: 2, PaddingMode.Valid))), // [8, 8, 256]
        PoolLayer.Max(3, 2));                                                                           // [8, 8, 256]

    private static ResidualBlock Block17(WeightSet w, int i)
    {
        string p = $"Block17_{i}";
        var branches = new Concatenate(
            Head(w, $"{p}_Branch_0_Conv2d_1x1", 896, 128),
            new Sequential(Head(w, $"{p}_Branch_1_Conv2d_0a_1x1", 896, 128), Conv(w, $"{p}_Branch_1_Conv2d_0b_1x7", 1, 7, 128, 128),
                Conv(w, $"{p}_Branch_1_Conv2d_0c_7x1", 7, 1, 128, 128)));                   // concat: [8, 8, 256]
        return new ResidualBlock(FusedConcatenate.TryFuse(branches), Up(w, $"{p}_Conv2d_1x1", 256, 896, relu: true), 0.10f);
    }

    // The three 1×1 896→256 heads run as one convolution (FusedConcatenate).
    private static ILayer Mixed7a(WeightSet w) => FusedConcatenate.TryFuse(new Concatenate(
        new Sequential(Head(w, "Mixed_7a_Branch_0_Conv2d_0a_1x1", 896, 256),
            Conv(w, "Mixed_7a_Branch_0_Conv2d_1a_3x3", 3, 3, 256, 384, stride: 2, PaddingMode.Valid)), // [3, 3, 384]
        new Sequential(Head(w, "Mixed_7a_Branch_1_Conv2d_0a_1x1", 896, 256),
            Conv(w, "Mixed_7a_Branch_1_Conv2d_1a_3x3", 3, 3, 256, 256, stride: 2, PaddingMode.Valid)), // [3, 3, 256]
        new Sequential(Head(w, "Mixed_7a_Branch_2_Conv2d_0a_1x1", 896, 256),
            OnWholeTiles(Conv(w, "Mixed_7a_Branch_2_Conv2d_0b_3x3", 3, 3, 256, 256)),
            Conv(w, "Mixed_7a_Branch_2_Conv2d_1a_3x3", 3, 3, 256, 256, stride: 2, PaddingMode.Valid)), // [3, 3, 256]
        PoolLayer.Max(3, 2)));                                                                          // [3, 3, 896]

    private static ResidualBlock Block8(WeightSet w, int i, float scale, bool relu)
    {
        string p = $"Block8_{i}";
        var branches = new Concatenate(
            Head(w, $"{p}_Branch_0_Conv2d_1x1", 1792, 192),
            new Sequential(Head(w, $"{p}_Branch_1_Conv2d_0a_1x1", 1792, 192), Conv(w, $"{p}_Branch_1_Conv2d_0b_1x3", 1, 3, 192, 192),
                Conv(w, $"{p}_Branch_1_Conv2d_0c_3x1", 3, 1, 192, 192)));                   // concat: [3, 3, 384]
        return new ResidualBlock(FusedConcatenate.TryFuse(branches), Up(w, $"{p}_Conv2d_1x1", 384, 1792, relu), scale);
    }

    // A stride-1 3×3 past the default Winograd cap (192 × 192 channels) whose maps are 8×8 at 160 px: 16 whole 2×2 tiles
    // per image, so the transform halves its time (bench --quick --winograd-layers-ab: 0.94 → 0.46 ms at batch 1 on Zen 3) for 4 MiB more.
    private static ConvLayer OnWholeTiles(ConvLayer conv)
    {
        conv.Weights.PrepareWinograd(evenIfLarge: true, inBackground: true);
        return conv;
    }

    // A stride-2 3×3 whose output holds whole tiles, or nearly (Conv2d_4b's 17×17 is 81 tiles, 324 outputs for 289; Mixed_6a's
    // 8×8 whole tiles), through the stride-2 Winograd form: 25 products per 2×2 outputs instead of 36. Past the default
    // cap, so asked for here; Mixed_7a's 3×3 outputs (four tiles, 100 products per channel pair against 81 direct) stay direct.
    private static ConvLayer AtStride2(ConvLayer conv)
    {
        if (!conv.Weights.PrepareWinograd(evenIfLarge: true, stride: 2, inBackground: true))
        {
            throw new InvalidOperationException($"{conv.Name}: no stride-2 Winograd form for its kernel."); // the architecture fixes these shapes
        }

        return conv;
    }

    // keras-facenet conv2d_bn: Conv2D(use_bias=False) → BatchNormalization(name + "_BatchNorm") → ReLU; "same" by default.
    private static ConvLayer Conv(WeightSet w, string name, int kh, int kw, int cin, int cout, int stride = 1, PaddingMode padding = PaddingMode.Same) =>
        ConvLayer.Load(w, name, kh, kw, cin, cout, new WindowGeometry(kh, kw, stride, stride, padding), hasBias: false, $"{name}_BatchNorm", Bn, relu: true);

    // A 1×1 head of a branch that FusedConcatenate.TryFuse copies into the fused convolution and then drops: packed as
    // interim, apart from the weights the model keeps (29 of FaceNet's 152 MB of packed weights).
    private static ConvLayer Head(WeightSet w, string name, int cin, int cout)
    {
        using var interim = PackedConvWeights.Interim();
        return Conv(w, name, 1, 1, cin, cout);
    }

    // Residual up-projection: 1×1 Conv2D with bias, no BN; the activation (if any) follows the residual add.
    private static ConvLayer Up(WeightSet w, string name, int cin, int cout, bool relu) =>
        ConvLayer.Load(w, name, 1, 1, cin, cout, WindowGeometry.Square(1, 1, PaddingMode.Valid), hasBias: true, null, default, relu);
}
