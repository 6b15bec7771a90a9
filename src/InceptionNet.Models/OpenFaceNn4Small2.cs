using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models;

/// <summary>Which published graph of OpenFace nn4.small2 to build on the same weights.</summary>
public enum OpenFaceVariant
{
    /// <summary>
    /// The deeplearning.ai course's <c>faceRecoModel</c> (inception_blocks_v2 + fr_utils.conv2d_bn): no LRN, average
    /// pooling in the 3b/4a/5a pool branches, bn1 ε = 1e-3 (Keras default), all other BN ε = 1e-5.
    /// </summary>
    Course,

    /// <summary>
    /// Keras-OpenFace nn4.small2.v1: adds lrn_1 / lrn_2 (tf.nn.lrn over channels), L2 pooling in the 3b/4a/5a pool
    /// branches, and bn1 ε = 1e-5.
    /// </summary>
    KerasOpenFace,
}

/// <summary>
/// OpenFace nn4.small2 (96×96×3 → 128), layer names as in the course and Keras-OpenFace h5 files (conv1, bn1, …,
/// inception_5b_*, dense_layer). The course graph is channels-first; we run NHWC with every axis mapped, which is
/// exact here because the tensor before Flatten is 1×1 spatially.
/// </summary>
public sealed class OpenFaceNn4Small2 : FaceEncoder
{
    private OpenFaceNn4Small2(WeightSet weights, OpenFaceVariant variant, ExecutionContext? context)
        : base(weights, Build(weights, variant), context)
    {
        Variant = variant;
    }

    /// <summary>The graph variant.</summary>
    public OpenFaceVariant Variant { get; }

    /// <inheritdoc />
    public override string ModelId => Variant == OpenFaceVariant.Course ? "openface" : "openface-keras";

    /// <inheritdoc />
    public override int InputSize => 96;

    /// <inheritdoc />
    public override string PreprocessingId => "rgb-96-div255";

    /// <summary>Loads a Keras h5 file or a course CSV weight directory with strict binding.</summary>
    public static OpenFaceNn4Small2 Load(string path, OpenFaceVariant variant, ExecutionContext? context = null) =>
        new(WeightsLoader.Load(path), variant, context);

    /// <summary>Builds the model from already-read weights (all must be consumed).</summary>
    public static OpenFaceNn4Small2 FromWeights(WeightSet weights, OpenFaceVariant variant, ExecutionContext? context = null) =>
        new(weights, variant, context);

    private static List<(string, ILayer)> Build(WeightSet w, OpenFaceVariant variant)
    {
        bool keras = variant == OpenFaceVariant.KerasOpenFace;
        var bn1 = new BatchNormSpec(keras ? 1e-5 : 1e-3, HasGamma: true); // course: BatchNormalization(name='bn1') without epsilon
        ILayer BranchPool(int size, int stride) => keras ? PoolLayer.L2(size, stride) : PoolLayer.Average(size, stride);

        // Stage names are the fixture's checkpoint keys; in the course graph lrn_1/lrn_2 name the tensors where LRN would be.
        var stages = new List<(string, ILayer)>
        {
            // Stem: x: [96, 96, 3] → [12, 12, 192]
            ("bn1_relu", ConvBn(w, "conv1", "bn1", 7, 7, 3, 64, stride: 2, pad: 3, bn1)),    // pad 3 → [102, 102, 3] → [48, 48, 64]
            (keras ? "max_pooling2d_1" : "lrn_1", new Sequential(new ZeroPadLayer(1), PoolLayer.Max(3, 2))),             // [24, 24, 64]
        };
        if (keras)
        {
            stages.Add(("lrn_1", new LrnLayer()));
        }

        stages.Add(("bn2_relu", ConvBn(w, "conv2", "bn2", 1, 1, 64, 64)));                     // [24, 24, 64]
        stages.Add((keras ? "bn3_relu" : "lrn_2", ConvBn(w, "conv3", "bn3", 3, 3, 64, 192, pad: 1)));             // [24, 24, 192]
        if (keras)
        {
            stages.Add(("lrn_2", new LrnLayer()));
        }

        stages.Add(("pool_2", new Sequential(new ZeroPadLayer(1), PoolLayer.Max(3, 2))));    // [12, 12, 192]

        stages.Add(("inception_3a", FusedConcatenate.TryFuse(new Concatenate( // [12, 12, 256]
            Reduce(w, "inception_3a_3x3", 192, 96, 128, 3, stride: 1, pad: 1),
            Reduce(w, "inception_3a_5x5", 192, 16, 32, 5, stride: 1, pad: 2),
            new Sequential(PoolLayer.Max(3, 2), ConvBn(w, "inception_3a_pool_conv", "inception_3a_pool_bn", 1, 1, 192, 32),
                new ZeroPadLayer(3, 4, 3, 4)),                                                 // 12 → 5 → 12
            Head(w, "inception_3a_1x1_conv", "inception_3a_1x1_bn", 192, 64)))));

        stages.Add(("inception_3b", FusedConcatenate.TryFuse(new Concatenate( // [12, 12, 320]
            Reduce(w, "inception_3b_3x3", 256, 96, 128, 3, stride: 1, pad: 1),
            Reduce(w, "inception_3b_5x5", 256, 32, 64, 5, stride: 1, pad: 2),
            new Sequential(BranchPool(3, 3), ConvBn(w, "inception_3b_pool_conv", "inception_3b_pool_bn", 1, 1, 256, 64),
                new ZeroPadLayer(4)),                                                          // 12 → 4 → 12
            Head(w, "inception_3b_1x1_conv", "inception_3b_1x1_bn", 256, 64)))));

        stages.Add(("inception_3c", FusedConcatenate.TryFuse(new Concatenate( // [6, 6, 640]
            Reduce(w, "inception_3c_3x3", 320, 128, 256, 3, stride: 2, pad: 1),
            Reduce(w, "inception_3c_5x5", 320, 32, 64, 5, stride: 2, pad: 2),
            new Sequential(PoolLayer.Max(3, 2), new ZeroPadLayer(0, 1, 0, 1))))));             // 12 → 5 → 6

        stages.Add(("inception_4a", FusedConcatenate.TryFuse(new Concatenate( // [6, 6, 640]
            Reduce(w, "inception_4a_3x3", 640, 96, 192, 3, stride: 1, pad: 1),
            Reduce(w, "inception_4a_5x5", 640, 32, 64, 5, stride: 1, pad: 2),
            new Sequential(BranchPool(3, 3), ConvBn(w, "inception_4a_pool_conv", "inception_4a_pool_bn", 1, 1, 640, 128),
                new ZeroPadLayer(2)),                                                          // 6 → 2 → 6
            Head(w, "inception_4a_1x1_conv", "inception_4a_1x1_bn", 640, 256)))));

        stages.Add(("inception_4e", FusedConcatenate.TryFuse(new Concatenate( // [3, 3, 1024]
            Reduce(w, "inception_4e_3x3", 640, 160, 256, 3, stride: 2, pad: 1),
            Reduce(w, "inception_4e_5x5", 640, 64, 128, 5, stride: 2, pad: 2),
            new Sequential(PoolLayer.Max(3, 2), new ZeroPadLayer(0, 1, 0, 1))))));             // 6 → 2 → 3

        stages.Add(("inception_5a", FusedConcatenate.TryFuse(new Concatenate( // [3, 3, 736]
            Reduce(w, "inception_5a_3x3", 1024, 96, 384, 3, stride: 1, pad: 1),
            new Sequential(BranchPool(3, 3), ConvBn(w, "inception_5a_pool_conv", "inception_5a_pool_bn", 1, 1, 1024, 96),
                new ZeroPadLayer(1)),                                                          // 3 → 1 → 3
            Head(w, "inception_5a_1x1_conv", "inception_5a_1x1_bn", 1024, 256)))));

        stages.Add(("inception_5b", FusedConcatenate.TryFuse(new Concatenate( // [3, 3, 736]
            Reduce(w, "inception_5b_3x3", 736, 96, 384, 3, stride: 1, pad: 1),
            new Sequential(PoolLayer.Max(3, 2), ConvBn(w, "inception_5b_pool_conv", "inception_5b_pool_bn", 1, 1, 736, 96),
                new ZeroPadLayer(1)),                                                          // 3 → 1 → 3
            Head(w, "inception_5b_1x1_conv", "inception_5b_1x1_bn", 736, 256)))));

        stages.Add(("avg_pool", PoolLayer.Average(3, 1)));                                     // [1, 1, 736]
        stages.Add(("dense_layer", ConvLayer.LoadDense(w, "dense_layer", 736, 128,     // Flatten → Dense 736→128
            hasBias: true, null, default)));
        return stages;
    }

    // fr_utils.conv2d_bn with two convolutions: 1×1 (name_conv1, name_bn1) → ZeroPadding2D(pad) → k×k/stride (name_conv2, name_bn2).
    private static Sequential Reduce(WeightSet w, string name, int cin, int reduce, int cout, int kernel, int stride, int pad) => new(
        Head(w, $"{name}_conv1", $"{name}_bn1", cin, reduce),
        ConvBn(w, $"{name}_conv2", $"{name}_bn2", kernel, kernel, reduce, cout, stride, pad));

    // A 1×1 convolution that begins a branch, which FusedConcatenate.TryFuse copies into the fused convolution and then
    // drops: packed as interim, apart from the weights the model keeps.
    private static ConvLayer Head(WeightSet w, string conv, string bn, int cin, int cout)
    {
        using var interim = PackedConvWeights.Interim();
        return ConvBn(w, conv, bn, 1, 1, cin, cout);
    }

    // Conv2D (with bias) → BatchNormalization(ε = 1e-5 unless given) → ReLU; a preceding ZeroPadding2D(pad) is folded in.
    private static ConvLayer ConvBn(WeightSet w, string conv, string bn, int kh, int kw, int cin, int cout, int stride = 1, int pad = 0,
        BatchNormSpec? spec = null) =>
        ConvLayer.Load(w, conv, kh, kw, cin, cout, new WindowGeometry(kh, kw, stride, stride, PaddingMode.Explicit, pad, pad, pad, pad),
            hasBias: true, bn, spec ?? new BatchNormSpec(1e-5, HasGamma: true), relu: true);
}
