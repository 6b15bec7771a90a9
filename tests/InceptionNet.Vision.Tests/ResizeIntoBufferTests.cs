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

    [Fact]
    public void A_destination_too_short_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => OpenCvResize.Area<float>(new float[12], 2, 2, 3, 3, 3, new float[26]));
        Assert.Contains("27", error.Message, StringComparison.Ordinal);
    }
}
