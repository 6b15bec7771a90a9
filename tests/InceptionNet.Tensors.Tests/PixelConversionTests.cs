using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// Bytes to floats and doubles (MTCNN reads the photo's rows and its crops' boxes through them): every level gives the
/// cast's value, at awkward lengths.
/// </summary>
public sealed class PixelConversionTests
{
    public static IEnumerable<object[]> Lengths => SimdLevels.CrossValues(0, 1, 3, 15, 16, 17, 31, 33, 256, 1001);

    [SkippableTheory]
    [MemberData(nameof(Lengths))]
    public void Every_level_gives_each_bytes_value(int length, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var source = Enumerable.Range(0, length).Select(i => (byte)((i * 167 + 13) & 255)).ToArray(); // every value by 256
        var actual = Enumerable.Repeat(-1f, length + 3).ToArray();
        if (level == SimdLevel.Scalar)
        {
            PixelConversion.ToFloatsScalar(source, actual);
        }
        else
        {
            PixelConversion.ToFloatsVector128(source, actual); // every vector level converts with the 128-bit form
        }

        Assert.Equal(source.Select(b => (float)b), actual[..length]);
        Assert.All(actual[length..], v => Assert.Equal(-1f, v)); // nothing written past the values
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    [InlineData(3 * 1001)]
    public void The_entry_point_gives_each_bytes_value_at_this_runs_level(int length)
    {
        // INCEPTIONNET_SIMD picks the form (CI runs this at 0, 128 and the widest level).
        var source = Enumerable.Range(0, length).Select(i => (byte)(255 - (i * 31 & 255))).ToArray();
        var actual = new float[length];
        PixelConversion.ToFloats(source, actual);
        Assert.Equal(source.Select(b => (float)b), actual);
    }

    [Fact]
    public void A_destination_too_short_is_refused()
    {
        Assert.Throws<ArgumentException>(() => PixelConversion.ToFloats(new byte[5], new float[4]));
    }

    [SkippableTheory]
    [MemberData(nameof(Lengths))]
    public void Every_level_gives_each_bytes_value_as_a_double(int length, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        var source = Enumerable.Range(0, length).Select(i => (byte)((i * 167 + 13) & 255)).ToArray(); // every value by 256
        var actual = Enumerable.Repeat(-1.0, length + 3).ToArray();
        if (level == SimdLevel.Scalar)
        {
            PixelConversion.ToDoublesScalar(source, actual);
        }
        else
        {
            PixelConversion.ToDoublesVector128(source, actual); // every vector level converts with the 128-bit form
        }

        Assert.Equal(source.Select(b => (double)b), actual[..length]);
        Assert.All(actual[length..], v => Assert.Equal(-1.0, v)); // nothing written past the values
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    [InlineData(3 * 1001)]
    public void The_double_entry_point_gives_each_bytes_value_at_this_runs_level(int length)
    {
        var source = Enumerable.Range(0, length).Select(i => (byte)(255 - (i * 31 & 255))).ToArray();
        var actual = new double[length];
        PixelConversion.ToDoubles(source, actual);
        Assert.Equal(source.Select(b => (double)b), actual);
    }

    [Fact]
    public void A_double_destination_too_short_is_refused()
    {
        Assert.Throws<ArgumentException>(() => PixelConversion.ToDoubles(new byte[5], new double[4]));
    }
}
