using System.Runtime.CompilerServices;
using InceptionNet.TestSupport;
using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.Models.Tests;

/// <summary>
/// The 1×1 heads that <c>FusedConcatenate</c> copies into one convolution are packed as interim
/// (<see cref="PackedConvWeights.Interim"/>), nothing else is, and the loaded model keeps none of them: given back among
/// the weights a model keeps, they would split the huge pages those sit in. The expected bytes are the architectures'
/// heads, one (in, out) pair each, 4 bytes a weight (every head's channels fill whole panels, or one narrow panel of 16).
/// </summary>
public sealed class InterimPackingTests
{
    [Fact]
    public void FaceNet_packs_exactly_the_heads_it_fuses_as_interim_and_keeps_none()
    {
        long expected = 5 * 3 * Weights(256, 32)   // Block35 ×5: three heads 256 → 32
            + 10 * 2 * Weights(896, 128)           // Block17 ×10: two heads 896 → 128
            + 6 * 2 * Weights(1792, 192)           // Block8 ×6: two heads 1792 → 192
            + 3 * Weights(896, 256);               // Mixed_7a: three heads 896 → 256
        AssertInterim(expected, () => FaceNetInceptionResNetV1.Load(SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5")));
    }

    [Theory]
    [InlineData(OpenFaceVariant.Course)]
    [InlineData(OpenFaceVariant.KerasOpenFace)]
    public void OpenFace_packs_exactly_the_heads_it_fuses_as_interim_and_keeps_none(OpenFaceVariant variant)
    {
        long expected = Weights(192, 96) + Weights(192, 16) + Weights(192, 64)   // inception_3a: 3×3 and 5×5 reduce, 1×1
            + Weights(256, 96) + Weights(256, 32) + Weights(256, 64)             // inception_3b
            + Weights(320, 128) + Weights(320, 32)                               // inception_3c: the two reduces
            + Weights(640, 96) + Weights(640, 32) + Weights(640, 256)            // inception_4a
            + Weights(640, 160) + Weights(640, 64)                               // inception_4e
            + Weights(1024, 96) + Weights(1024, 256)                             // inception_5a: 3×3 reduce, 1×1
            + Weights(736, 96) + Weights(736, 256);                              // inception_5b
        AssertInterim(expected, () => OpenFaceNn4Small2.Load(SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), variant));
    }

    // Loads the model, keeps it, and checks the interim blocks its load packed on this thread: their bytes, and that every
    // one is collected while the model lives (a head the model still used, unfused, would keep its block alive).
    private static void AssertInterim(long expectedBytes, Func<object> load)
    {
        var (model, log) = Load(load);
        Assert.Equal(expectedBytes, log.Sum(entry => entry.Bytes));
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal(0, log.Count(entry => entry.Block.TryGetTarget(out _)));
        GC.KeepAlive(model);
    }

    // In a frame of its own, so that no temporary of the caller's holds a block.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (object Model, List<(long Bytes, WeakReference<PanelMemory> Block)> Log) Load(Func<object> load)
    {
        var log = PanelMemory.LogInterimOnThisThread();
        try
        {
            return (load(), log);
        }
        finally
        {
            PanelMemory.StopLoggingInterim();
        }
    }

    private static long Weights(int inChannels, int outChannels) => (long)inChannels * outChannels * sizeof(float);
}
