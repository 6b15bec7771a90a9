using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Detection;

/// <summary>
/// The three MTCNN networks of davidsandberg/facenet's detect_face.py, built from det1/det2/det3.npy on our engine:
/// all convolutions VALID with bias, PReLU, TensorFlow max pools (SAME pads low then high and never picks a padded cell).
/// Inputs are the transposed images the networks were trained on.
/// </summary>
public sealed class MtcnnNetworks
{
    private MtcnnNetworks(Net pnet, Net rnet, Net onet, string digest)
    {
        PNet = pnet;
        RNet = rnet;
        ONet = onet;
        WeightsDigest = digest;
    }

    internal Net PNet { get; }

    internal Net RNet { get; }

    internal Net ONet { get; }

    /// <summary>Digest of the three weight files' tensors.</summary>
    public string WeightsDigest { get; }

    /// <summary>Loads det1.npy, det2.npy and det3.npy from <paramref name="directory"/>.</summary>
    public static MtcnnNetworks Load(string directory)
    {
        static string Rename(string name) => name switch { "weights" => "kernel", "biases" => "bias", _ => name };
        var det1 = NpyReader.ReadLayerDictionary(Path.Combine(directory, "det1.npy"), Rename);
        var det2 = NpyReader.ReadLayerDictionary(Path.Combine(directory, "det2.npy"), Rename);
        var det3 = NpyReader.ReadLayerDictionary(Path.Combine(directory, "det3.npy"), Rename);

        var pnet = new Net(new Sequential(
                Conv(det1, "conv1", 3, 3, 10).WithPrelu(Slopes(det1, "PReLU1", 10)), PoolLayer.Max(2, 2, PaddingMode.Same),
                Conv(det1, "conv2", 10, 3, 16).WithPrelu(Slopes(det1, "PReLU2", 16)),
                Conv(det1, "conv3", 16, 3, 32).WithPrelu(Slopes(det1, "PReLU3", 32))),
            [Conv(det1, "conv4-1", 32, 1, 2), Conv(det1, "conv4-2", 32, 1, 4)]);
        var rnet = new Net(new Sequential(
                Conv(det2, "conv1", 3, 3, 28).WithPrelu(Slopes(det2, "prelu1", 28)), PoolLayer.Max(3, 2, PaddingMode.Same),
                Conv(det2, "conv2", 28, 3, 48).WithPrelu(Slopes(det2, "prelu2", 48)), PoolLayer.Max(3, 2, PaddingMode.Valid),
                Conv(det2, "conv3", 48, 2, 64).WithPrelu(Slopes(det2, "prelu3", 64)), new FlattenLayer(),
                Dense(det2, "conv4", 576, 128).WithPrelu(Slopes(det2, "prelu4", 128))),
            [Dense(det2, "conv5-1", 128, 2), Dense(det2, "conv5-2", 128, 4)]);
        var onet = new Net(new Sequential(
                Conv(det3, "conv1", 3, 3, 32).WithPrelu(Slopes(det3, "prelu1", 32)), PoolLayer.Max(3, 2, PaddingMode.Same),
                Conv(det3, "conv2", 32, 3, 64).WithPrelu(Slopes(det3, "prelu2", 64)), PoolLayer.Max(3, 2, PaddingMode.Valid),
                Conv(det3, "conv3", 64, 3, 64).WithPrelu(Slopes(det3, "prelu3", 64)), PoolLayer.Max(2, 2, PaddingMode.Same),
                Conv(det3, "conv4", 64, 2, 128).WithPrelu(Slopes(det3, "prelu4", 128)), new FlattenLayer(),
                Dense(det3, "conv5", 1152, 256).WithPrelu(Slopes(det3, "prelu5", 256))),
            [Dense(det3, "conv6-1", 256, 2), Dense(det3, "conv6-2", 256, 4), Dense(det3, "conv6-3", 256, 10)]);
        foreach (var set in new[] { det1, det2, det3 })
        {
            set.EnsureAllConsumed();
        }

        return new MtcnnNetworks(pnet, rnet, onet, det1.Digest[..16] + det2.Digest[..16] + det3.Digest[..16]);
    }

    private static ConvLayer Conv(WeightSet w, string name, int cin, int k, int cout) =>
        ConvLayer.Load(w, name, k, k, cin, cout, WindowGeometry.Square(k, 1, PaddingMode.Valid), hasBias: true, null, default, relu: false);

    private static ConvLayer Dense(WeightSet w, string name, int cin, int cout) =>
        ConvLayer.LoadDense(w, name, cin, cout, hasBias: true, null, default);

    // PReLU follows every hidden convolution and dense layer; it is fused into their store.
    private static float[] Slopes(WeightSet w, string name, int channels) => w.Take(name, "alpha", channels);

    /// <summary>A trunk and its 1×1 heads.</summary>
    internal sealed class Net(Sequential trunk, ConvLayer[] heads)
    {
        private readonly Lock _gate = new();
        private readonly ExecutionContext _context = new();

        /// <summary>Runs the net on NHWC <paramref name="input"/>; returns each head's output, [N, h, w, C] dense.</summary>
        public (float[] Data, int H, int W, int C)[] Run(float[] input, int n, int h, int w)
        {
            lock (_gate)
            {
                var x = TensorSlice.Dense(input, n, h, w, 3);
                var shape = trunk.OutputShape(new Shape(h, w, 3));
                var features = _context.Pool.Rent(n, shape.H, shape.W, shape.C);
                trunk.Forward(x, features, _context);
                var outputs = new (float[], int, int, int)[heads.Length];
                for (int i = 0; i < heads.Length; i++)
                {
                    var y = TensorSlice.Dense(new float[n * shape.H * shape.W * heads[i].OutChannels], n, shape.H, shape.W, heads[i].OutChannels);
                    heads[i].Forward(features, y, _context);
                    outputs[i] = (y.Buffer, shape.H, shape.W, heads[i].OutChannels);
                }

                _context.Pool.Return(features);
                return outputs;
            }
        }
    }
}
