using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// Winograd forms made on the thread pool while a model loads (<see cref="PackedConvWeights.PrepareWinograd"/> with
/// <c>inBackground</c>): the first convolution waits for the form, or makes it when no thread has started it, so it gives
/// the same bits as a form made in place. The thread-pool item is held back here (<c>HeldForTests</c>), so the form is
/// still to be made when the convolution starts.
/// </summary>
public sealed class WinogradInBackgroundTests : IDisposable
{
    private const int N = 1, H = 11, W = 9, Cin = 40, Cout = 48;
    private readonly WorkerPool _pool = new(2);

    public void Dispose() => _pool.Dispose();

    [Theory]
    [InlineData(3, 3, 1)]
    [InlineData(1, 7, 1)]
    [InlineData(3, 3, 2)]
    public void A_convolution_waits_for_a_form_not_yet_made_and_gives_the_bits_of_one_made_in_place(int kh, int kw, int stride)
    {
        var kernel = TestData.Uniform(kh * kw * Cin * Cout, 71);
        var bias = TestData.Uniform(Cout, 72);
        var inPlace = new PackedConvWeights(kernel, kh, kw, Cin, Cout, bias);
        Assert.True(inPlace.PrepareWinograd(evenIfLarge: true, stride));
        var direct = new PackedConvWeights(kernel, kh, kw, Cin, Cout, bias);

        var held = new List<Action>();
        var background = new PackedConvWeights(kernel, kh, kw, Cin, Cout, bias);
        PackedConvWeights.HeldForTests.Value = held;
        try
        {
            Assert.True(background.PrepareWinograd(evenIfLarge: true, stride, inBackground: true));
        }
        finally
        {
            PackedConvWeights.HeldForTests.Value = null;
        }

        Assert.Single(held); // queued, not run
        Assert.False(background.WinogradMade);
        var fromBackground = Run(background, kh, kw, stride);
        held[0](); // the thread-pool item, late: the form is made already and stays the one the convolution used
        Assert.True(fromBackground.SequenceEqual(Run(background, kh, kw, stride)), "a later pass gave other bits");
        var fromInPlace = Run(inPlace, kh, kw, stride);
        Assert.True(fromBackground.SequenceEqual(fromInPlace), "the background form gave other bits than the one made in place");
        Assert.False(Run(direct, kh, kw, stride).SequenceEqual(fromInPlace), "the direct path gives the same bits: this test could not tell");
    }

    [Fact]
    public void Preparing_again_in_the_background_returns_at_once_and_the_first_request_decides_the_stride()
    {
        var kernel = TestData.Uniform(9 * Cin * Cout, 73);
        var weights = new PackedConvWeights(kernel, 3, 3, Cin, Cout, default);
        var held = new List<Action>();
        PackedConvWeights.HeldForTests.Value = held;
        try
        {
            Assert.True(weights.PrepareWinograd(stride: 2, evenIfLarge: true, inBackground: true));
            Assert.True(weights.PrepareWinograd(stride: 2, evenIfLarge: true, inBackground: true)); // the same request again: no wait
            Assert.False(weights.PrepareWinograd(stride: 1, inBackground: true)); // the stride-2 form is the one these weights get
        }
        finally
        {
            PackedConvWeights.HeldForTests.Value = null;
        }

        Assert.Single(held); // one item for the three requests
        Assert.False(weights.WinogradMade, "a request in the background waited for the form");
        Assert.False(weights.PrepareWinograd(stride: 1)); // in place: makes the pending form, then compares
        Assert.Equal(2, weights.Winograd!.Stride);
    }

    private float[] Run(PackedConvWeights weights, int kh, int kw, int stride)
    {
        var geometry = new WindowGeometry(kh, kw, stride, stride, PaddingMode.Same);
        var (oh, ow, _, _) = geometry.Resolve(H, W);
        var x = TestData.Uniform(N * H * W * Cin, 74);
        var y = new float[N * oh * ow * Cout];
        Conv2D.Forward(TensorSlice.Dense(x, N, H, W, Cin), weights, geometry, TensorSlice.Dense(y, N, oh, ow, Cout), ConvEpilogue.Bias(relu: false),
            KernelSet.Default, _pool);
        return y;
    }
}
