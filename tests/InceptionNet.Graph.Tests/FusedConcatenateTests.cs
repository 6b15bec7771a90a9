using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Graph.Tests;

public sealed class FusedConcatenateTests
{
    private static int s_seed = 100;

    public static IEnumerable<object[]> BranchPositions => SimdLevels.CrossValues("first", "last", "none");

    [SkippableTheory]
    [MemberData(nameof(BranchPositions))]
    public void Fused_heads_give_bit_identical_outputs_wherever_the_direct_branch_sits(string direct, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // Block35-like (single 1×1 first) and OpenFace-like (single 1×1 last): 1×1 → 3×3, 1×1 → 3×3 → 3×3, max pool,
        // a single 1×1 of 32 channels; 40 input channels, heads of 24 and 40 channels.
        var branches = new List<ILayer>
        {
            new Sequential(Conv(1, 40, 24), Conv(3, 24, 16)),
            new Sequential(Conv(1, 40, 40), Conv(3, 40, 8), Conv(3, 8, 8)),
            PoolLayer.Max(3, 1, PaddingMode.Same),
        };
        if (direct == "first")
        {
            branches.Insert(0, Conv(1, 40, 32));
        }
        else if (direct == "last")
        {
            branches.Add(Conv(1, 40, 32));
        }

        var concat = new Concatenate([.. branches]);
        var fused = FusedConcatenate.TryFuse(concat);
        Assert.IsType<FusedConcatenate>(fused);

        var context = new ExecutionContext(level: level);
        var input = TensorSlice.Dense(TestData.Uniform(2 * 9 * 7 * 40, 1), 2, 9, 7, 40);
        var shape = concat.OutputShape(new Shape(9, 7, 40));
        Assert.Equal(shape, fused.OutputShape(new Shape(9, 7, 40)));
        Assert.Equal(concat.MultiplyAdds(new Shape(9, 7, 40)), fused.MultiplyAdds(new Shape(9, 7, 40)));
        var expected = TensorSlice.Dense(new float[2 * 9 * 7 * shape.C], 2, 9, 7, shape.C);
        var actual = TensorSlice.Dense(new float[2 * 9 * 7 * shape.C], 2, 9, 7, shape.C);
        concat.Forward(input, expected, context);
        fused.Forward(input, actual, context);
        Assert.Equal(expected.Buffer, actual.Buffer);
    }

    [Fact]
    public void Fused_heads_count_their_tails_winograd_products_as_the_plain_block_does()
    {
        // Block35-like with 32-channel tails, so the 3×3s take F(2×2, 3×3): 9×7 outputs are 5 × 4 tiles of 16 elements.
        var concat = new Concatenate(
            Conv(1, 64, 32),
            new Sequential(Conv(1, 64, 32), Conv(3, 32, 32)),
            new Sequential(Conv(1, 64, 32), Conv(3, 32, 32), Conv(3, 32, 32)));
        var fused = FusedConcatenate.TryFuse(concat);
        Assert.IsType<FusedConcatenate>(fused);
        var input = new Shape(9, 7, 64);
        long saved = 3 * (9L * 7 * 9 - 5 * 4 * 16) * 32 * 32;
        Assert.Equal(concat.MultiplyAdds(input) - saved, concat.PerformedMultiplyAdds(input));
        Assert.Equal(concat.PerformedMultiplyAdds(input), fused.PerformedMultiplyAdds(input));
        Assert.Equal(concat.MultiplyAdds(input), fused.MultiplyAdds(input));
    }

    [Fact]
    public void Blocks_that_cannot_be_fused_are_returned_unchanged()
    {
        // Only one branch starts with a 1×1 convolution.
        var single = new Concatenate(Conv(3, 16, 8), new Sequential(Conv(1, 16, 8), Conv(3, 8, 8)));
        Assert.Same(single, FusedConcatenate.TryFuse(single));

        // The leading direct branch does not fill whole 32-channel panels, so its channels cannot be split off.
        var ragged = new Concatenate(Conv(1, 16, 20), new Sequential(Conv(1, 16, 8), Conv(3, 8, 8)));
        Assert.Same(ragged, FusedConcatenate.TryFuse(ragged));
    }

    [Fact]
    public void A_stride_two_block_keeps_its_shape_and_work_and_lets_go_of_the_unfused_heads()
    {
        // Mixed_6a-like: 1×1 → 3×3 stride 2, 1×1 → 3×3 → 3×3 stride 2, max pool stride 2; 17×13 input (odd sizes).
        var (fused, head) = FuseStrideTwoBlock(out var concat);
        var input = new Shape(17, 13, 24);
        Assert.Equal(concat.OutputShape(input), fused.OutputShape(input));
        Assert.Equal(concat.MultiplyAdds(input), fused.MultiplyAdds(input));
        var context = new ExecutionContext();
        var x = TensorSlice.Dense(TestData.Uniform(17 * 13 * 24, 5), 1, 17, 13, 24);
        var shape = concat.OutputShape(input);
        var expected = TensorSlice.Dense(new float[shape.H * shape.W * shape.C], 1, shape.H, shape.W, shape.C);
        var actual = TensorSlice.Dense(new float[shape.H * shape.W * shape.C], 1, shape.H, shape.W, shape.C);
        concat.Forward(x, expected, context);
        fused.Forward(x, actual, context);
        Assert.Equal(expected.Buffer, actual.Buffer);

        // The fused layer holds its heads' weights once: without the original block, a head is garbage.
        concat = null!;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(head.IsAlive, "the fused block still holds an unfused head convolution (its weights twice)");
        GC.KeepAlive(fused);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (ILayer Fused, WeakReference Head) FuseStrideTwoBlock(out Concatenate concat)
    {
        var head = Conv(1, 24, 16);
        concat = new Concatenate(
            new Sequential(head, Strided(3, 16, 24)),
            new Sequential(Conv(1, 24, 8), Conv(3, 8, 8), Strided(3, 8, 16)),
            PoolLayer.Max(3, 2));
        var fused = FusedConcatenate.TryFuse(concat);
        Assert.IsType<FusedConcatenate>(fused);
        return (fused, new WeakReference(head));
    }

    private static ConvLayer Strided(int k, int cin, int cout)
    {
        int seed = Interlocked.Increment(ref s_seed);
        return ConvLayer.FromArrays($"strided{seed}", TestData.Uniform(k * k * cin * cout, seed), TestData.Uniform(cout, seed + 1000), k, k, cin, cout,
            WindowGeometry.Square(k, 2, PaddingMode.Valid), relu: true);
    }

    private static ConvLayer Conv(int k, int cin, int cout)
    {
        int seed = Interlocked.Increment(ref s_seed);
        return ConvLayer.FromArrays($"conv{seed}", TestData.Uniform(k * k * cin * cout, seed), TestData.Uniform(cout, seed + 1000), k, k, cin, cout,
            WindowGeometry.Square(k, 1, PaddingMode.Same), relu: true);
    }
}
