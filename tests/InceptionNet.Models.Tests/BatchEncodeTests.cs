using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Models.Tests;

/// <summary>
/// <see cref="FaceEncoder.Encode(IReadOnlyList{RgbImage}, int)"/> preprocesses each batch on the workers straight into
/// the pass's pooled input. It must give the bits of the plain route (<see cref="FaceEncoder.Preprocess"/> per image,
/// the arrays concatenated, <see cref="FaceEncoder.EncodeInputs"/> on each batch of the same size), and it must not
/// allocate a float array per face or per batch.
/// </summary>
public sealed class BatchEncodeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("facenet")]
    [InlineData("faceapi")]
    public void A_batched_encode_gives_the_bits_of_preprocess_then_encode_inputs(string model)
    {
        using var pool = new WorkerPool(3); // three workers share each batch's preprocessing
        var encoder = Load(model, pool);
        // Seven images of four sizes (resized up, down, not at all; face-api also pads the non-square ones), in batches of
        // 3, 3 and 1, so a batch's faces sit at every position and the last batch is short.
        int side = encoder.InputSize;
        int[][] sizes = [[96, 96], [side, side], [200, 140], [77, 123], [96, 96], [side + 1, side - 1], [31, 31]];
        var images = sizes.Select((s, i) => Image(s[0], s[1], seed: i)).ToList();

        var batched = encoder.Encode(images, batchSize: 3);

        Assert.Equal(images.Count, batched.Count);
        for (int start = 0; start < images.Count; start += 3)
        {
            int n = Math.Min(3, images.Count - start);
            var inputs = images.Skip(start).Take(n).SelectMany(encoder.Preprocess).ToArray();
            var plain = encoder.EncodeInputs(inputs, n);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(plain[i].Raw, batched[start + i].Raw);
                Assert.Equal(plain[i].Embedding, batched[start + i].Embedding);
            }
        }
    }

    [Fact]
    public void A_warm_batched_encode_allocates_no_float_array_per_face()
    {
        using var pool = new WorkerPool(2);
        var encoder = Load("facenet", pool);
        var images = Enumerable.Range(0, 16).Select(i => Image(96, 96, seed: i)).ToList();
        encoder.Encode(images, 16); // sizes the pools
        var counter = new PerThreadAllocations(pool);
        long allocated = counter.Measure(() => encoder.Encode(images, 16));
        // Before, each face's input was a float array, copied into a batch array of its own: 2 × 16 × 160·160·3 × 4 bytes
        // = 9.8 MB. Now the 16 resized byte images (16 × 160·160·3 = 1.2 MB) and the encodings are what is left; the bound
        // is one float input for every two faces, which either extra array alone exceeds.
        long bound = 16 / 2 * 160 * 160 * 3 * sizeof(float);
        output.WriteLine($"{allocated} bytes allocated by a warm Encode of 16 faces, on the caller and the pool's helper (bound {bound})");
        Assert.True(allocated < bound, $"{allocated} bytes allocated (bound {bound})");
    }

    private static FaceEncoder Load(string model, WorkerPool pool) => model switch
    {
        "facenet" => FaceNetInceptionResNetV1.Load(SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5"), new ExecutionContext(pool)),
        "faceapi" => FaceApiResNet34.Load(SharedData.PathOf("weights", "faceapi"), new ExecutionContext(pool)),
        _ => throw new ArgumentException(model, nameof(model)),
    };

    private static RgbImage Image(int width, int height, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        random.NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }
}
