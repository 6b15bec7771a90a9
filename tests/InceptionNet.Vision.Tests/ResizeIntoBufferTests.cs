using System.Numerics;
using Xunit;

namespace InceptionNet.Vision.Tests;

public sealed class ResizeIntoBufferTests
{
    // Shrink by a non-integer factor (decimation tables), by exactly 2 (block sums), enlarge (linear weights), same size.
    [Theory]
    [InlineData(37, 23, 3, 17, 11)]
    [InlineData(40, 22, 3, 20, 11)]
    [InlineData(7, 5, 3, 16, 9)]
    [InlineData(9, 4, 1, 9, 4)]
    public void Area_into_a_reused_longer_buffer_equals_the_allocating_overload(int sw, int sh, int cn, int dw, int dh)
    {
        var random = new Random(sw * 31 + dw);
        var floats = Enumerable.Range(0, sw * sh * cn).Select(_ => (float)(random.NextDouble() * 255)).ToArray();
        var doubles = floats.Select(v => (double)v + 0.25).ToArray();

        var floatTarget = Enumerable.Repeat(-1f, dw * dh * cn + 5).ToArray(); // stale values from an earlier, larger use
        OpenCvResize.Area<float>(floats, sw, sh, cn, dw, dh, floatTarget);
        Assert.Equal(OpenCvResize.Area<float>(floats, sw, sh, cn, dw, dh), floatTarget[..(dw * dh * cn)]);
        Assert.All(floatTarget[(dw * dh * cn)..], v => Assert.Equal(-1f, v));

        var doubleTarget = Enumerable.Repeat(-1.0, dw * dh * cn).ToArray();
        OpenCvResize.Area<double>(doubles, sw, sh, cn, dw, dh, doubleTarget);
        Assert.Equal(OpenCvResize.Area<double>(doubles, sw, sh, cn, dw, dh), doubleTarget);
    }

    // A source handed out a band at a time, as MTCNN's crops read a zero-padded box from the photo: the same result as the
    // whole source, asking for one row at a time (two for three float channels at 256 bits), or for the rows of one output
    // row of an integer-factor shrink. Each call fills the whole buffer with NaN and writes its band into the other half
    // than the call before, so a resize that kept reading an earlier band's span reads NaN.
    [Theory]
    [InlineData(37, 23, 3, 17, 11)]   // decimation tables
    [InlineData(48, 48, 3, 24, 24)]   // 2× block sums
    [InlineData(48, 48, 1, 24, 24)]   // 2× block sums, float pairs path (one channel)
    [InlineData(50, 46, 4, 25, 23)]   // 2× block sums, float pairs path (four channels)
    [InlineData(72, 45, 3, 24, 15)]   // 3× block sums
    [InlineData(97, 13, 3, 24, 24)]   // shrink one way, enlarge the other
    [InlineData(7, 5, 3, 24, 24)]     // enlarge
    [InlineData(9, 4, 1, 9, 4)]       // same size: a copy
    [InlineData(301, 157, 3, 48, 48)]
    [InlineData(33, 17, 1, 9, 4)]
    public void Area_from_a_source_handed_out_a_band_at_a_time_equals_the_whole_source(int sw, int sh, int cn, int dw, int dh)
    {
        var random = new Random(sw * 7 + dh);
        var floats = Enumerable.Range(0, sw * sh * cn).Select(_ => (float)(random.NextDouble() * 255)).ToArray();
        var doubles = floats.Select(v => (double)v - 0.5).ToArray();
        int integerRows = sh % dh == 0 && sw % dw == 0 ? sh / dh : 1;
        // Three float channels shrunk by a non-integer factor at 256 bits and up: the horizontal pass takes two rows at once.
        var floatScratch = new ResizeScratch<float>();
        bool pairs = cn == 3 && integerRows == 1 && dw <= sw && dh <= sh && (dw, dh) != (sw, sh)
            && floatScratch.Level >= InceptionNet.Tensors.SimdLevel.Vector256;
        int floatRowsAtOnce = pairs ? 2 : integerRows;

        var floatRows = new BandRows<float>(floats, sw * cn);
        var floatTarget = new float[dw * dh * cn];
        OpenCvResize.Area(floatRows, sw, sh, cn, dw, dh, floatTarget.AsSpan(), floatScratch);
        Assert.Equal(OpenCvResize.Area<float>(floats, sw, sh, cn, dw, dh), floatTarget);
        Assert.InRange(floatRows.LargestBand, 1, floatRowsAtOnce);
        Assert.Equal(floatRows.LargestBand, OpenCvResize.RowsAtOnce(sw, sh, cn, dw, dh, floatScratch)); // what callers size their bands by

        var doubleRows = new BandRows<double>(doubles, sw * cn);
        var doubleTarget = new double[dw * dh * cn];
        OpenCvResize.Area(doubleRows, sw, sh, cn, dw, dh, doubleTarget.AsSpan(), new ResizeScratch<double>());
        Assert.Equal(OpenCvResize.Area<double>(doubles, sw, sh, cn, dw, dh), doubleTarget);
        Assert.InRange(doubleRows.LargestBand, 1, integerRows);
        Assert.Equal(doubleRows.LargestBand, OpenCvResize.RowsAtOnce(sw, sh, cn, dw, dh, new ResizeScratch<double>()));
    }

    private sealed class BandRows<T>(T[] source, int rowLength) : IImageRows<T>
        where T : struct, IFloatingPointIeee754<T>
    {
        private readonly T[] _buffer = new T[2 * source.Length];
        private int _calls;

        public int LargestBand { get; private set; }

        public ReadOnlySpan<T> Rows(int y, int count)
        {
            LargestBand = Math.Max(LargestBand, count);
            _buffer.AsSpan().Fill(T.NaN);
            var band = _buffer.AsSpan(_calls++ % 2 * source.Length, count * rowLength);
            source.AsSpan(y * rowLength, count * rowLength).CopyTo(band);
            return band;
        }
    }

    // Shapes in an order that makes a kept scratch shrink and grow: decimation, block sums (2× and 3×), enlarging, a mix of
    // shrinking one way and enlarging the other, one channel, and back to a large decimation.
    private static readonly (int Sw, int Sh, int Cn, int Dw, int Dh)[] ScratchShapes =
    [
        (301, 157, 3, 48, 48), (37, 23, 3, 17, 11), (48, 48, 3, 24, 24), (72, 45, 3, 24, 15), (7, 5, 3, 24, 24),
        (97, 13, 3, 24, 24), (33, 17, 1, 9, 4), (1480, 832, 3, 630, 354), (5, 3, 3, 5, 3),
    ];

    [Fact]
    public void One_scratch_kept_across_shapes_gives_the_fresh_result_every_time()
    {
        var floatScratch = new ResizeScratch<float>();
        var doubleScratch = new ResizeScratch<double>();
        var random = new Random(5);
        foreach (var (sw, sh, cn, dw, dh) in ScratchShapes)
        {
            var floats = Enumerable.Range(0, sw * sh * cn).Select(_ => (float)(random.NextDouble() * 255)).ToArray();
            var doubles = floats.Select(v => (double)v + 0.25).ToArray();
            var floatTarget = new float[dw * dh * cn];
            OpenCvResize.Area<float>(floats, sw, sh, cn, dw, dh, floatTarget, floatScratch);
            Assert.Equal(OpenCvResize.Area<float>(floats, sw, sh, cn, dw, dh), floatTarget);
            var doubleTarget = new double[dw * dh * cn];
            OpenCvResize.Area<double>(doubles, sw, sh, cn, dw, dh, doubleTarget, doubleScratch);
            Assert.Equal(OpenCvResize.Area<double>(doubles, sw, sh, cn, dw, dh), doubleTarget);
        }
    }

    [Fact]
    public void A_scratch_reserved_for_the_largest_source_allocates_nothing_for_smaller_ones()
    {
        // MTCNN's crops: boxes of every size into one 24×24 input, on whichever worker takes them.
        (int W, int H)[] sources = [(301, 157), (48, 48), (72, 45), (7, 5), (97, 13), (24, 24), (1, 1), (301, 157)];
        var inputs = sources.Select(s => TestInputs(s.W * s.H * 3)).ToArray();
        var target = new double[24 * 24 * 3];
        var warm = new ResizeScratch<double>(); // JIT-compiles every path first, so only the resizes are measured
        for (int i = 0; i < sources.Length; i++)
        {
            OpenCvResize.Area<double>(inputs[i], sources[i].W, sources[i].H, 3, 24, 24, target, warm);
        }

        var scratch = new ResizeScratch<double>();
        scratch.Reserve(sources.Max(s => s.W), sources.Max(s => s.H), 3, 24, 24);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < sources.Length; i++)
        {
            OpenCvResize.Area<double>(inputs[i], sources[i].W, sources[i].H, 3, 24, 24, target, scratch);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void A_float_scratch_reserved_for_a_pyramid_allocates_nothing_for_its_levels()
    {
        // MTCNN's pyramid: one photo into every level, three float channels (the padded tables and the paired rows' buffer).
        const int Sw = 301, Sh = 157;
        (int W, int H)[] levels = [(181, 95), (128, 67), (91, 48), (64, 34), (46, 24), (32, 17), (23, 12)];
        var random = new Random(11);
        var source = Enumerable.Range(0, Sw * Sh * 3).Select(_ => (float)(random.NextDouble() * 255)).ToArray();
        var target = new float[levels[0].W * levels[0].H * 3];
        var warm = new ResizeScratch<float>();
        foreach (var (w, h) in levels)
        {
            OpenCvResize.Area<float>(source, Sw, Sh, 3, w, h, target, warm);
        }

        var scratch = new ResizeScratch<float>();
        foreach (var (w, h) in levels)
        {
            scratch.Reserve(Sw, Sh, 3, w, h);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var (w, h) in levels)
        {
            OpenCvResize.Area<float>(source, Sw, Sh, 3, w, h, target, scratch);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    private static double[] TestInputs(int length)
    {
        var random = new Random(length);
        return Enumerable.Range(0, length).Select(_ => random.NextDouble() * 255).ToArray();
    }

    [Fact]
    public void A_destination_too_short_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => OpenCvResize.Area<float>(new float[12], 2, 2, 3, 3, 3, new float[26]));
        Assert.Contains("27", error.Message, StringComparison.Ordinal);
    }
}
