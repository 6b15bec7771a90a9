using InceptionNet.TestSupport;
using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.Models.Tests;

/// <summary>
/// The 1×1 heads that <c>FusedConcatenate</c> copies into one convolution are packed as interim
/// (<see cref="PackedConvWeights.Interim"/>), and nothing else is: given back among the weights a model keeps, they split
/// the huge pages those sit in. The expected bytes are the architectures' heads, one (in, out) pair each, 4 bytes a weight
/// (every head's channels fill whole panels, or one narrow panel of 16).
/// </summary>
public sealed class InterimPackingTests
{
    [Fact]
    public void FaceNet_packs_exactly_the_heads_it_fuses_as_interim()
    {
        long expected = 5 * 3 * Weights(256, 32)   // Block35 ×5: three heads 256 → 32
            + 10 * 2 * Weights(896, 128)           // Block17 ×10: two heads 896 → 128
            + 6 * 2 * Weights(1792, 192)           // Block8 ×6: two heads 1792 → 192
            + 3 * Weights(896, 256);               // Mixed_7a: three heads 896 → 256
        long before = PanelMemory.InterimBytesOnThisThread;
        var model = FaceNetInceptionResNetV1.Load(SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5"));
        Assert.Equal(expected, PanelMemory.InterimBytesOnThisThread - before);
        GC.KeepAlive(model);
    }

    [Theory]
    [InlineData(OpenFaceVariant.Course)]
    [InlineData(OpenFaceVariant.KerasOpenFace)]
    public void OpenFace_packs_exactly_the_heads_it_fuses_as_interim(OpenFaceVariant variant)
    {
        long expected = Weights(192, 96) + Weights(192, 16) + Weights(192, 64)   // inception_3a: 3×3 and 5×5 reduce, 1×1
            + Weights(256, 96) + Weights(256, 32) + Weights(256, 64)             // inception_3b
            + Weights(320, 128) + Weights(320, 32)                               // inception_3c: the two reduces
            + Weights(640, 96) + Weights(640, 32) + Weights(640, 256)            // inception_4a
            + Weights(640, 160) + Weights(640, 64)                               // inception_4e
            + Weights(1024, 96) + Weights(1024, 256)                             // inception_5a: 3×3 reduce, 1×1
            + Weights(736, 96) + Weights(736, 256);                              // inception_5b
        long before = PanelMemory.InterimBytesOnThisThread;
        var model = OpenFaceNn4Small2.Load(SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), variant);
        Assert.Equal(expected, PanelMemory.InterimBytesOnThisThread - before);
        GC.KeepAlive(model);
    }

    private static long Weights(int inChannels, int outChannels) => (long)inChannels * outChannels * sizeof(float);
}
