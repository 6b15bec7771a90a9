using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// Packing keeps every value in zeroed, cache-line aligned native memory, folds a per-channel scale on the way exactly as
/// scaling first would (scalar and Vector128 alike), and concatenates packed weights without unpacking them.
/// </summary>
public sealed class PackedConvWeightsTests
{
    // Awkward output widths: one column, a ragged and a full narrow panel (16 wide), one over it (a 32-wide panel), just
    // under, at and over a 32-wide panel, and several panels with a ragged end.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 3, 3, 10 }, { 1, 4, 16 }, { 2, 2, 17 }, { 1, 3, 31 }, { 3, 2, 32 }, { 2, 5, 33 }, { 1, 7, 65 }, { 3, 1, 100 },
    };

    [Theory]
    [InlineData(1, 16)]
    [InlineData(10, 16)]
    [InlineData(16, 16)]
    [InlineData(17, 32)]
    [InlineData(100, 32)]
    public void Up_to_16_output_channels_pack_into_one_narrow_panel(int outChannels, int width)
    {
        var packed = new PackedConvWeights(TestData.Uniform(9 * outChannels, 3), 3, 3, 1, outChannels, default);
        Assert.Equal(width, packed.Width);
        Assert.Equal((outChannels + width - 1) / width, packed.Panels);
        Assert.Throws<ArgumentException>(() => new PackedConvWeights(new float[17], 1, 1, 1, 17, default, default, PackedConvWeights.NarrowPanelWidth));
    }

    // The whole packed region (panels·k·32 values): kernel values, then zero padding in the last panel's columns.
    private static float[] PanelRegion(PackedConvWeights packed)
    {
        Assert.Equal(packed.Panels * packed.ReductionLength * packed.Width, packed.PanelValues.Length);
        var values = packed.PanelValues.ToArray();
        GC.KeepAlive(packed); // the span does not keep the native memory's owner alive
        return values;
    }

    private static unsafe bool OnCacheLine(PackedConvWeights packed) => ((nuint)packed.Values & 63) == 0;

    private static void AssertPaddingIsZero(PackedConvWeights packed)
    {
        var region = PanelRegion(packed);
        int k = packed.ReductionLength, width = packed.OutChannels - (packed.Panels - 1) * packed.Width;
        for (int row = 0; row < k; row++)
        {
            for (int col = width; col < packed.Width; col++)
            {
                float value = region[((packed.Panels - 1) * k + row) * packed.Width + col];
                Assert.True(value == 0 && !float.IsNegative(value), $"padding at row {row}, column {col} of the last panel is {value}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Packing_keeps_every_value_and_zeroes_the_padding(int kernelSize, int inChannels, int outChannels)
    {
        var kernel = TestData.Uniform(kernelSize * kernelSize * inChannels * outChannels, 31);
        var bias = TestData.Uniform(outChannels, 32);
        var packed = new PackedConvWeights(kernel, kernelSize, kernelSize, inChannels, outChannels, bias);
        Assert.Equal(kernel, packed.UnpackKernel());
        Assert.Equal(bias, packed.UnpackBias());
        AssertPaddingIsZero(packed);
        Assert.True(OnCacheLine(packed)); // panels on a 64-byte boundary
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Folding_a_scale_while_packing_equals_packing_the_scaled_kernel(int kernelSize, int inChannels, int outChannels)
    {
        var kernel = TestData.Uniform(kernelSize * kernelSize * inChannels * outChannels, 33);
        var scale = TestData.Uniform(outChannels, 34).Select(v => 0.5 + Math.Abs(v) * 3.7).ToArray();
        // The reference: w'[…, o] = w[…, o]·scale[o] in double, rounded once to float32 (the output channel is last).
        var scaled = kernel.Select((v, i) => (float)(v * scale[i % outChannels])).ToArray();
        var folded = new PackedConvWeights(kernel, kernelSize, kernelSize, inChannels, outChannels, default, scale);
        var reference = new PackedConvWeights(scaled, kernelSize, kernelSize, inChannels, outChannels, default);
        Assert.Equal(PanelRegion(reference), PanelRegion(folded)); // bit for bit, padding included
        AssertPaddingIsZero(folded);
    }

    [Theory]
    [InlineData(1, new[] { 32, 32 })]          // whole panels: FaceNet's Block35 heads
    [InlineData(1, new[] { 7, 33, 32, 1, 64 })] // runs that straddle source and destination panels
    [InlineData(3, new[] { 5, 40 })]            // not only pointwise
    [InlineData(1, new[] { 17 })]               // one part
    [InlineData(1, new[] { 6, 10 })]            // narrow parts into a narrow panel (MTCNN's heads)
    [InlineData(3, new[] { 10, 16, 7 })]        // narrow parts into wide panels
    public void Concatenating_packed_weights_equals_packing_the_concatenated_kernel(int kernelSize, int[] outChannels)
    {
        const int InChannels = 6;
        int k = kernelSize * kernelSize * InChannels, total = outChannels.Sum();
        var parts = outChannels.Select((cout, i) => (Kernel: TestData.Uniform(k * cout, 40 + i), Bias: TestData.Uniform(cout, 60 + i), Out: cout)).ToArray();
        // Reference: the (kh, kw, in, Σout) kernel whose rows are the parts' rows side by side.
        var kernel = new float[k * total];
        var bias = new float[total];
        int column = 0;
        foreach (var part in parts)
        {
            for (int row = 0; row < k; row++)
            {
                Array.Copy(part.Kernel, row * part.Out, kernel, row * total + column, part.Out);
            }

            part.Bias.CopyTo(bias, column);
            column += part.Out;
        }

        var packedParts = parts.Select(p => new PackedConvWeights(p.Kernel, kernelSize, kernelSize, InChannels, p.Out, p.Bias)).ToArray();
        var joined = PackedConvWeights.Concatenate(packedParts);
        var reference = new PackedConvWeights(kernel, kernelSize, kernelSize, InChannels, total, bias);
        Assert.Equal((total, reference.Panels), (joined.OutChannels, joined.Panels));
        Assert.Equal(PanelRegion(reference), PanelRegion(joined));
        Assert.Equal(reference.UnpackBias(), joined.UnpackBias());
        Assert.True(OnCacheLine(joined));
        AssertPaddingIsZero(joined);
    }

    [Fact]
    public void Concatenating_weights_of_different_inputs_is_refused_naming_their_shapes()
    {
        var a = new PackedConvWeights(new float[4 * 3], 1, 1, 4, 3, default);
        var b = new PackedConvWeights(new float[5 * 3], 1, 1, 5, 3, default);
        var error = Assert.Throws<ArgumentException>(() => PackedConvWeights.Concatenate([a, b]));
        Assert.Contains("(1, 1, 4, 3), (1, 1, 5, 3)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => PackedConvWeights.Concatenate([]));
    }

    [Fact]
    public void A_scale_of_the_wrong_length_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new PackedConvWeights(new float[6], 1, 1, 2, 3, default, new double[2]));
        Assert.Contains("Scale has 2 values, expected 3", error.Message, StringComparison.Ordinal);
    }

    // Lengths around the four-lane step, plus values that stress the rounding: ties, subnormal and huge products.
    public static IEnumerable<object[]> ScaleLengths => SimdLevels.CrossValues(0, 1, 3, 4, 5, 7, 8, 31, 32, 33, 1001);

    [SkippableTheory]
    [MemberData(nameof(ScaleLengths))]
    public void The_vector_scale_gives_the_scalar_bits_at_every_level(int length, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var source = TestData.Uniform(length, 70);
        var scale = TestData.Uniform(length, 71).Select(v => (double)v * 3.1).ToArray();
        for (int i = 0; i + 3 < length; i += 4)
        {
            source[i] = 1.0000001f;        // products that land between two floats
            scale[i] = 1.0 + 0.5 / (1 << 23);
            source[i + 1] = 1e-30f;        // subnormal result
            scale[i + 1] = 1e-10;
            source[i + 2] = 3e38f;         // overflows to infinity
            scale[i + 2] = 10.0;
        }

        var expected = new float[length];
        PackedConvWeights.ScaleScalar(source, scale, expected);
        var actual = new float[length];
        if (level == SimdLevel.Scalar)
        {
            PackedConvWeights.ScaleScalar(source, scale, actual);
        }
        else
        {
            PackedConvWeights.ScaleVector128(source, scale, actual); // every vector level packs with the 128-bit form
        }

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expected.Select((_, j) => (float)(source[j] * scale[j])), expected); // and the reference is the cast
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData((2 << 20) / 4 - 1)] // just under a huge page (4 KiB pages)
    [InlineData((2 << 20) / 4 + 5)] // just over (a 2 MiB aligned mapping)
    [InlineData(3 << 20)]           // 12 MiB: several huge pages
    [InlineData(5 << 20)]           // 20 MiB: past the carving limit, a mapping of its own
    public unsafe void Panel_memory_is_zeroed_and_cache_line_aligned_even_where_freed_memory_was_dirty(int length)
    {
        // Dirty memory of the same size, then free it: the next block must not show its values. Round 0 takes the mapped
        // path (on Linux: carved from a slab, or a mapping of its own past the carving limit), round 1 the portable aligned
        // allocation (other systems, or no bindable mmap).
        for (int round = 0; round < 2; round++)
        {
            var dirty = PanelMemory.Allocate(length);
            dirty.Span.Fill(float.NaN);
            // The span is a bare pointer: without this the JIT may treat `dirty` as dead once the span is taken, and a
            // collection another test starts mid-fill runs the finalizer, which unmaps the block under the fill (an
            // access violation seen once in 20 runs of the arm64 kernel executable under qemu).
            GC.KeepAlive(dirty);
            dirty = null;
            GC.Collect();
            GC.WaitForPendingFinalizers();

            var memory = round == 0 ? PanelMemory.Allocate(length) : PanelMemory.AllocateAligned(length, (nuint)Math.Max(length * 4, 64));
            Assert.Equal(length, memory.Length);
            Assert.Equal(0u, (nuint)memory.Values & 63);
            if (round == 0 && OperatingSystem.IsLinux() && length * 4L > (long)PanelMemory.CarveLimit)
            {
                // A mapping of its own was taken: a huge-page boundary.
                Assert.Equal(0u, (nuint)memory.Values & ((2u << 20) - 1));
            }

            Assert.True(memory.Span.IndexOfAnyExcept(0f) < 0, "fresh panel memory holds non-zero values");
            memory.Span.Fill(1f); // writable to the last value
            Assert.True(length == 0 || memory.Values[length - 1] == 1f);
            GC.KeepAlive(memory);
        }
    }
}
