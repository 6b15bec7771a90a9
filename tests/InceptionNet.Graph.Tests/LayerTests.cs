using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.Graph.Tests;

public sealed class PReluLayerTests
{
    [Fact]
    public void Negative_values_are_scaled_per_channel_and_positive_ones_kept()
    {
        var x = TensorSliceOf([-2f, 3f, -1f, -4f, 0f, 5f], channels: 3);
        var y = TensorSliceOf(new float[6], channels: 3);
        new PReluLayer([0.5f, 0.25f, 2f]).Forward(x, y, new ExecutionContext());
        Assert.Equal(new float[] { -1f, 3f, -2f, -2f, 0f, 5f }, y.Buffer);
    }

    private static TensorSlice TensorSliceOf(float[] values, int channels) =>
        TensorSlice.Dense(values, 1, 1, values.Length / channels, channels);
}

public sealed class FlattenLayerTests
{
    [Fact]
    public void Each_image_is_flattened_in_row_major_order_from_a_channel_slice()
    {
        // x: [N, H, W, C] = [2, 2, 3, 5]; the layer reads channels [1, 4) of it, so the input pixel stride is 5.
        var x = TensorSlice.Dense(Enumerable.Range(0, 2 * 2 * 3 * 5).Select(i => (float)i).ToArray(), 2, 2, 3, 5);
        var input = x.Channels(1, 3);
        var layer = new FlattenLayer();
        Assert.Equal(new Shape(1, 1, 18), layer.OutputShape(new Shape(2, 3, 3)));

        // y: [2, 1, 1, 18]
        var y = TensorSlice.Dense(new float[2 * 18], 2, 1, 1, 18);
        layer.Forward(input, y, new ExecutionContext());
        Assert.Equal(input.ToArray(), y.Buffer);
    }
}

public sealed class ExecutionContextTests
{
    [Fact]
    public void The_kernel_set_is_chosen_once_from_the_requested_level_capped_by_the_hardware()
    {
        foreach (var level in Enum.GetValues<SimdLevel>())
        {
            var context = new ExecutionContext(level: level);
            Assert.Same(KernelSet.For(level), context.Kernels);
            Assert.Equal(Simd.Clamp(level), context.Level);
        }

        Assert.Same(KernelSet.Default, new ExecutionContext().Kernels);
    }
}
