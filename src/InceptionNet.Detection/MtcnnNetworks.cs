using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Detection;

/// <summary>
/// The three MTCNN networks of davidsandberg/facenet's detect_face.py, built from det1/det2/det3.npy on our engine:
/// all convolutions VALID with bias, PReLU, TensorFlow max pools (SAME pads low then high and never picks a padded cell).
/// Inputs are the transposed images the networks were trained on. The three networks run one at a time (thread-safe) on
/// the workers and vector width of the context given at load; their activations come from a pool of their own that lets
/// a buffer serve any smaller tensor, because every photo brings its own pyramid sizes and candidate counts.
/// </summary>
public sealed class MtcnnNetworks
{
    private readonly ExecutionContext _context;

    private MtcnnNetworks(Net pnet, Net rnet, Net onet, string digest, ExecutionContext context)
    {
        PNet = pnet;
        RNet = rnet;
        ONet = onet;
        WeightsDigest = digest;
        _context = context;
    }

    /// <summary>Threads the networks (and the detector's pyramid and crops) run on.</summary>
    internal WorkerPool Workers => _context.Workers;

    /// <summary>The vector width the networks (and the detector's resizes) run at.</summary>
    internal SimdLevel Level => _context.Level;

    internal Net PNet { get; }

    internal Net RNet { get; }

    internal Net ONet { get; }

    /// <summary>Digest of the three weight files' tensors.</summary>
    public string WeightsDigest { get; }

    /// <summary>
    /// Loads det1.npy, det2.npy and det3.npy from <paramref name="directory"/>; the networks run on
    /// <paramref name="context"/>'s workers and vector width (default: a new <see cref="ExecutionContext"/>).
    /// </summary>
    public static MtcnnNetworks Load(string directory, ExecutionContext? context = null)
    {
        static string Rename(string name) => name switch { "weights" => "kernel", "biases" => "bias", _ => name };
        var det1 = NpyReader.ReadLayerDictionary(Path.Combine(directory, "det1.npy"), Rename);
        var det2 = NpyReader.ReadLayerDictionary(Path.Combine(directory, "det2.npy"), Rename);
        var det3 = NpyReader.ReadLayerDictionary(Path.Combine(directory, "det3.npy"), Rename);
        context ??= new ExecutionContext();
        // The same threads; a private activation pool whose buffers also serve smaller tensors (sizes change with every photo).
        var own = new ExecutionContext(context.Workers, context.Level, new TensorPool(reuseLarger: true));
        var gate = new Lock();

        var pnet = new Net(new Sequential(
                Conv(det1, "conv1", 3, 3, 10).WithPrelu(Slopes(det1, "PReLU1", 10)), PoolLayer.Max(2, 2, PaddingMode.Same),
                Conv(det1, "conv2", 10, 3, 16).WithPrelu(Slopes(det1, "PReLU2", 16)),
                Conv(det1, "conv3", 16, 3, 32).WithPrelu(Slopes(det1, "PReLU3", 32))),
            Heads(det1, dense: false, 32, ("conv4-1", 2), ("conv4-2", 4)), [2, 4], gate, own);
        var rnet = new Net(new Sequential(
                Conv(det2, "conv1", 3, 3, 28).WithPrelu(Slopes(det2, "prelu1", 28)), PoolLayer.Max(3, 2, PaddingMode.Same),
                Conv(det2, "conv2", 28, 3, 48).WithPrelu(Slopes(det2, "prelu2", 48)), PoolLayer.Max(3, 2, PaddingMode.Valid),
                Conv(det2, "conv3", 48, 2, 64).WithPrelu(Slopes(det2, "prelu3", 64)), new FlattenLayer(),
                Dense(det2, "conv4", 576, 128).WithPrelu(Slopes(det2, "prelu4", 128))),
            Heads(det2, dense: true, 128, ("conv5-1", 2), ("conv5-2", 4)), [2, 4], gate, own);
        var onet = new Net(new Sequential(
                Conv(det3, "conv1", 3, 3, 32).WithPrelu(Slopes(det3, "prelu1", 32)), PoolLayer.Max(3, 2, PaddingMode.Same),
                Conv(det3, "conv2", 32, 3, 64).WithPrelu(Slopes(det3, "prelu2", 64)), PoolLayer.Max(3, 2, PaddingMode.Valid),
                Conv(det3, "conv3", 64, 3, 64).WithPrelu(Slopes(det3, "prelu3", 64)), PoolLayer.Max(2, 2, PaddingMode.Same),
                Conv(det3, "conv4", 64, 2, 128).WithPrelu(Slopes(det3, "prelu4", 128)), new FlattenLayer(),
                Dense(det3, "conv5", 1152, 256).WithPrelu(Slopes(det3, "prelu5", 256))),
            Heads(det3, dense: true, 256, ("conv6-1", 2), ("conv6-2", 4), ("conv6-3", 10)), [2, 4, 10], gate, own);
        foreach (var set in new[] { det1, det2, det3 })
        {
            set.EnsureAllConsumed();
        }

        return new MtcnnNetworks(pnet, rnet, onet, det1.Digest[..16] + det2.Digest[..16] + det3.Digest[..16], own);
    }

    private static ConvLayer Conv(WeightSet w, string name, int cin, int k, int cout) =>
        ConvLayer.Load(w, name, k, k, cin, cout, WindowGeometry.Square(k, 1, PaddingMode.Valid), hasBias: true, null, default, relu: false);

    private static ConvLayer Dense(WeightSet w, string name, int cin, int cout) =>
        ConvLayer.LoadDense(w, name, cin, cout, hasBias: true, null, default);

    // A net's 1×1 heads (P-Net's are 1×1 convolutions, R-Net's and O-Net's dense layers: the same thing on a 1×1 map) as
    // one convolution whose output channels are the heads' side by side: one pass over the features instead of one per
    // head, each of which filled 2, 4 or 10 columns of a 32-wide weight panel (on P-Net's largest level the two heads
    // cost a fifth of its multiply-adds that way). Every output column is its own sum over the same inputs in the same
    // order whatever columns sit beside it, so each head's values are the separate head's bit for bit.
    private static ConvLayer Heads(WeightSet w, bool dense, int cin, params (string Name, int Channels)[] heads)
    {
        int cout = heads.Sum(h => h.Channels);
        var kernel = new float[cin * cout]; // [cin, cout]: Keras (1, 1, cin, cout) and Dense (cin, cout) alike
        var bias = new float[cout];
        int first = 0;
        foreach (var (name, channels) in heads)
        {
            var k = dense ? w.Take(name, "kernel", cin, channels) : w.Take(name, "kernel", 1, 1, cin, channels);
            for (int i = 0; i < cin; i++)
            {
                Array.Copy(k, i * channels, kernel, i * cout + first, channels);
            }

            w.Take(name, "bias", channels).CopyTo(bias, first);
            first += channels;
        }

        return ConvLayer.FromArrays(string.Join('+', heads.Select(h => h.Name)), kernel, bias, 1, 1, cin, cout,
            WindowGeometry.Square(1, 1, PaddingMode.Valid), relu: false);
    }

    // PReLU follows every hidden convolution and dense layer; it is fused into their store.
    private static float[] Slopes(WeightSet w, string name, int channels) => w.Take(name, "alpha", channels);

    /// <summary>A trunk and its 1×1 heads, run as one convolution whose channels are split among the heads.</summary>
    internal sealed class Net(Sequential trunk, ConvLayer heads, int[] headChannels, Lock gate, ExecutionContext context)
    {
        /// <summary>Number of heads (outputs).</summary>
        public int HeadCount => headChannels.Length;

        /// <summary>
        /// Runs the net on NHWC <paramref name="input"/> ([n, h, w, 3], possibly inside a longer buffer); head i's output,
        /// [n, H, W, C_i] dense, is written to the start of <paramref name="outputs"/>[i], which is replaced by a larger
        /// array when too short (the caller keeps it for the next photo). Returns the output map size.
        /// </summary>
        public (int H, int W) Run(float[] input, int n, int h, int w, float[][] outputs) => Run(input, 0, n, h, w, outputs);

        /// <summary>Channels of head <paramref name="i"/>.</summary>
        public int HeadChannels(int i) => headChannels[i];

        /// <summary>
        /// As <see cref="Run(float[], int, int, int, float[][])"/> on a batch of <paramref name="n"/> crops, <paramref name="chunk"/>
        /// at a time: the activations take the memory of one chunk, not of every candidate a crowded photo yields
        /// (R-Net's first layer alone holds 54 KB per candidate). Each crop's outputs depend only on that crop, so the
        /// result is the one-batch result bit for bit. <paramref name="scratch"/> receives each chunk's outputs.
        /// </summary>
        public void RunInChunks(float[] input, int n, int h, int w, int chunk, float[][] outputs, float[][] scratch)
        {
            var (mapH, mapW) = MapSize(h, w);
            for (int i = 0; i < headChannels.Length; i++)
            {
                int length = n * mapH * mapW * headChannels[i];
                if (outputs[i] is null || outputs[i].Length < length)
                {
                    outputs[i] = new float[length];
                }
            }

            for (int start = 0; start < n; start += chunk)
            {
                int count = Math.Min(chunk, n - start);
                Run(input, start * h * w * 3, count, h, w, scratch);
                for (int i = 0; i < headChannels.Length; i++)
                {
                    int per = mapH * mapW * headChannels[i];
                    Array.Copy(scratch[i], 0, outputs[i], start * per, count * per);
                }
            }
        }

        /// <summary>The output map size for an [h, w] input.</summary>
        public (int H, int W) MapSize(int h, int w)
        {
            var shape = trunk.OutputShape(new Shape(h, w, 3));
            return (shape.H, shape.W);
        }

        /// <summary>As <see cref="Run(float[], int, int, int, float[][])"/>, on the input starting at <paramref name="offset"/>.</summary>
        public (int H, int W) Run(float[] input, int offset, int n, int h, int w, float[][] outputs)
        {
            lock (gate)
            {
                var x = new TensorSlice(input, offset, n, h, w, 3, 3);
                var shape = trunk.OutputShape(new Shape(h, w, 3));
                var features = context.Pool.Rent(n, shape.H, shape.W, shape.C);
                trunk.Forward(x, features, context);
                // all: [n, H, W, Σ heads' channels], split per cell into the heads' dense outputs.
                var all = context.Pool.Rent(n, shape.H, shape.W, heads.OutChannels);
                heads.Forward(features, all, context);
                context.Pool.Return(features);
                int cells = n * shape.H * shape.W, first = 0;
                for (int i = 0; i < headChannels.Length; i++)
                {
                    int channels = headChannels[i];
                    if (outputs[i] is null || outputs[i].Length < cells * channels)
                    {
                        outputs[i] = new float[cells * channels];
                    }

                    var source = all.Buffer.AsSpan(all.Offset);
                    var target = outputs[i].AsSpan();
                    for (int cell = 0; cell < cells; cell++)
                    {
                        source.Slice(cell * heads.OutChannels + first, channels).CopyTo(target.Slice(cell * channels, channels));
                    }

                    first += channels;
                }

                context.Pool.Return(all);
                return (shape.H, shape.W);
            }
        }
    }
}
