using InceptionNet.Graph;
using InceptionNet.Tensors;
using InceptionNet.Vision;
using InceptionNet.Weights;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models;

/// <summary>
/// A face model: its preprocessing, its graph (stages from the input image to the 128-d raw output) and its
/// identity (name, weights digest, default threshold). <see cref="Encode(string)"/> does the right preprocessing
/// for the model. Instances are thread-safe; passes are serialized and use all cores inside each layer.
/// </summary>
public abstract class FaceEncoder : IFaceEncoder
{
    private readonly Lock _gate = new();
    private readonly ExecutionContext _context;

    // An array, so the forward pass's foreach does not box an enumerator.
    private readonly (string Name, ILayer Layer)[] _stages;

    /// <summary>Creates the encoder from its stages; <paramref name="weights"/> must be fully consumed already.</summary>
    protected FaceEncoder(WeightSet weights, IReadOnlyList<(string Name, ILayer Layer)> stages, ExecutionContext? context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        weights.EnsureAllConsumed();
        _stages = [.. stages];
        WeightsDigest = weights.Digest;
        WeightsSource = weights.Source;
        _context = context ?? new ExecutionContext();
        var output = OutputShapeOf(new Shape(InputSize, InputSize, 3));
        if (output != new Shape(1, 1, EmbeddingSize))
        {
            throw new InvalidOperationException($"{GetType().Name} produces {output}, expected [1, 1, {EmbeddingSize}].");
        }

        // Counting the products performed reads every convolution's Winograd form, so this waits for those still being
        // made on other threads (PackedConvWeights.PrepareWinograd in the background): a form that could not be made
        // fails the load here rather than every pass, and no request waits on one.
        _ = PerformedMultiplyAddsPerImage;
    }

    /// <summary>Model id as the CLI names it (<c>facenet</c>, <c>openface</c>, <c>openface-keras</c>).</summary>
    public abstract string ModelId { get; }

    /// <summary>Side of the square RGB input.</summary>
    public abstract int InputSize { get; }

    /// <summary>Identifies the preprocessing, so a gallery never mixes vectors made differently.</summary>
    public abstract string PreprocessingId { get; }

    /// <summary>Distance below which two faces are the same person (course: 0.7).</summary>
    public virtual double DefaultThreshold => 0.7;

    /// <summary>Length of the encoding.</summary>
    public virtual int EmbeddingSize => 128;

    /// <summary>SHA-256 digest of the weights (see <see cref="WeightSet.Digest"/>).</summary>
    public string WeightsDigest { get; }

    /// <summary>Where the weights came from.</summary>
    public string WeightsSource { get; }

    /// <summary>The graph, stage by stage, named as the Keras layers whose output each stage produces.</summary>
    public IReadOnlyList<(string Name, ILayer Layer)> Stages => _stages;

    /// <summary>Vector width in use.</summary>
    public SimdLevel Level => _context.Level;

    /// <summary>Multiply-adds per image, derived from the architecture (convolutions and dense layers).</summary>
    public long MultiplyAddsPerImage => SumOverStages(performed: false);

    /// <summary>
    /// Multiply-adds per image as the engine performs them: <see cref="MultiplyAddsPerImage"/> with every convolution that
    /// runs through a Winograd form counted by its transformed products (<see cref="ILayer.PerformedMultiplyAdds"/>).
    /// Throughput against this count is what the FMA units do; against the nominal one, what a user sees.
    /// </summary>
    public long PerformedMultiplyAddsPerImage => SumOverStages(performed: true);

    private long SumOverStages(bool performed)
    {
        long total = 0;
        var shape = new Shape(InputSize, InputSize, 3);
        foreach (var (_, layer) in Stages)
        {
            total += performed ? layer.PerformedMultiplyAdds(shape) : layer.MultiplyAdds(shape);
            shape = layer.OutputShape(shape);
        }

        return total;
    }

    /// <summary>
    /// Whether <see cref="FaceEncoding.Embedding"/> is the L2-normalized output (FaceNet, OpenFace) or the raw output as
    /// is (face-api's descriptor is compared unnormalized).
    /// </summary>
    public virtual bool NormalizesEmbedding => true;

    /// <summary>When set, called after every stage with its name and output (for debugging and checkpoint tests).</summary>
    public Action<string, TensorSlice>? StageObserver { get; set; }

    /// <summary>
    /// Turns an RGB image into the model input, [InputSize, InputSize, 3] floats, in a new array (through
    /// <see cref="PreprocessInto"/>, which a model overrides).
    /// </summary>
    public float[] Preprocess(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var input = new float[InputSize * InputSize * 3];
        PreprocessInto(image, input);
        return input;
    }

    /// <summary>
    /// Writes the model input for <paramref name="image"/> into <paramref name="destination"/>, exactly
    /// [InputSize, InputSize, 3] floats. By default: resized with PIL NEAREST when its size differs (the Keras
    /// <c>load_img</c> default), then <c>(float)v / 255f</c>, which equals the course's <c>np.around(v / 255.0, 12)</c>
    /// cast to float32 for every byte value. <see cref="Encode(IReadOnlyList{RgbImage}, int)"/> calls it for the faces
    /// of a batch on several workers at once, straight into the forward pass's input: an override must not share state
    /// between calls.
    /// </summary>
    public virtual void PreprocessInto(RgbImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        var pixels = Resize.PilNearest(image, InputSize, InputSize).Pixels;
        if (destination.Length != pixels.Length)
        {
            throw new ArgumentException($"The input of {ModelId} is {pixels.Length} values, not {destination.Length}.", nameof(destination));
        }

        for (int i = 0; i < pixels.Length; i++)
        {
            destination[i] = pixels[i] / 255f;
        }
    }

    /// <summary>Decodes, preprocesses and encodes one image file.</summary>
    public FaceEncoding Encode(string imagePath) => Encode(ImageDecoder.Decode(imagePath));

    /// <summary>Encodes one decoded image.</summary>
    public FaceEncoding Encode(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image); // as before the batched route: a null image is an ArgumentNullException
        return Encode([image], 1)[0];
    }

    /// <summary>Encodes images in batches of <paramref name="batchSize"/>.</summary>
    public IReadOnlyList<FaceEncoding> Encode(IReadOnlyList<RgbImage> images, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i] is null)
            {
                throw new ArgumentException($"Image {i} of {images.Count} is null.", nameof(images));
            }
        }

        // Each batch is preprocessed on the workers straight into the pass's pooled input: no array per face or per
        // batch, so a long run neither waits on one thread's preprocessing nor feeds the collector 10 MB a batch.
        var results = new List<FaceEncoding>(images.Count);
        for (int start = 0; start < images.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, images.Count - start);
            var raw = new float[n * EmbeddingSize];
            int first = start;
            lock (_gate)
            {
                var input = _context.Pool.Rent(n, InputSize, InputSize, 3);
                float[] buffer = input.Buffer;
                int per = InputSize * InputSize * 3;
                try
                {
                    _context.Workers.For(n, i => PreprocessInto(images[first + i], buffer.AsSpan(i * per, per)));
                }
                catch (Exception ex)
                {
                    _context.Pool.Return(input);
                    // The override's own exception, as a caller of Preprocess would see it, not the workers' wrapper.
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex is AggregateException { InnerExceptions.Count: 1 } one ? one.InnerExceptions[0] : ex);
                }

                Run(input, n, raw);
            }

            results.AddRange(ToEncodings(raw, n));
        }

        return results;
    }

    /// <summary>Encodes preprocessed inputs: <paramref name="inputs"/> is [n, InputSize, InputSize, 3] NHWC.</summary>
    public FaceEncoding[] EncodeInputs(ReadOnlySpan<float> inputs, int n)
    {
        var raw = new float[n * EmbeddingSize];
        Forward(inputs, n, raw);
        return ToEncodings(raw, n);
    }

    // The encodings of a pass's raw outputs: each row, and its L2-normalized copy when the model normalizes.
    private FaceEncoding[] ToEncodings(float[] raw, int n)
    {
        var embeddings = new float[raw.Length];
        if (NormalizesEmbedding)
        {
            ElementwiseOps.L2NormalizeRows(raw, n, EmbeddingSize, embeddings);
        }
        else
        {
            raw.CopyTo(embeddings, 0);
        }

        var result = new FaceEncoding[n];
        for (int i = 0; i < n; i++)
        {
            result[i] = new FaceEncoding(raw.AsSpan(i * EmbeddingSize, EmbeddingSize).ToArray(), embeddings.AsSpan(i * EmbeddingSize, EmbeddingSize).ToArray());
        }

        return result;
    }

    /// <summary>Runs the graph: <paramref name="inputs"/> [n, S, S, 3] → <paramref name="raw"/> [n, 128]. Allocation-free after warm-up.</summary>
    public void Forward(ReadOnlySpan<float> inputs, int n, Span<float> raw)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int per = InputSize * InputSize * 3;
        if (inputs.Length != n * per)
        {
            throw new ArgumentException($"Expected {n}x{InputSize}x{InputSize}x3 = {n * per} input values, got {inputs.Length}.");
        }

        if (raw.Length < n * EmbeddingSize)
        {
            throw new ArgumentException($"Output needs {n * EmbeddingSize} values.");
        }

        lock (_gate)
        {
            var input = _context.Pool.Rent(n, InputSize, InputSize, 3);
            inputs.CopyTo(input.Buffer);
            Run(input, n, raw);
        }
    }

    // The stages over a rented input of n images (returned to the pool here), the raw outputs into raw. Under _gate.
    private void Run(TensorSlice input, int n, Span<float> raw)
    {
        var pool = _context.Pool;
        var current = input;
        var shape = new Shape(InputSize, InputSize, 3);
        foreach (var (name, layer) in _stages)
        {
            shape = layer.OutputShape(shape);
            var next = pool.Rent(n, shape.H, shape.W, shape.C);
            layer.Forward(current, next, _context);
            pool.Return(current);
            current = next;
            StageObserver?.Invoke(name, current);
        }

        current.Buffer.AsSpan(0, n * EmbeddingSize).CopyTo(raw);
        pool.Return(current);
    }

    private Shape OutputShapeOf(Shape input)
    {
        foreach (var (_, layer) in Stages)
        {
            input = layer.OutputShape(input);
        }

        return input;
    }
}
