using System.Numerics;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// INTER_AREA's decimation loops have a 128-bit form (three float channels a pixel per vector in the horizontal pass,
/// whole vectors in the vertical one) and 256-bit ones (the three-channel float pass on two source rows at once, and three
/// double channels a pixel per vector)
/// that must give the reference loops' values bit for bit: checked over every shrink
/// of awkward sizes (1 to 4 channels, widths ending inside a vector, one-pixel results, the last source pixel read
/// without its fourth lane), float and double, and the kernels on their own against the reference form.
/// </summary>
public sealed class ResizeLevelTests
{
    public static IEnumerable<object[]> Levels => SimdLevels.CrossValues(1, 2, 3, 4);

    [SkippableTheory]
    [MemberData(nameof(Levels))]
    public void Area_decimation_at_a_level_matches_the_reference_loops_bit_for_bit(int cn, SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        int cases = 0;
        var rng = new Random(cn * 7919);
        foreach (int sw in new[] { 1, 2, 3, 5, 7, 13, 31, 64, 97 })
        {
            foreach (int sh in new[] { 1, 2, 3, 17 })
            {
                foreach (int dw in new[] { 1, 2, sw / 3, sw / 2, sw - 1, sw })
                {
                    foreach (int dh in new[] { 1, sh / 2 + 1, sh })
                    {
                        if (dw < 1 || dh < 1 || dw > sw || dh > sh)
                        {
                            continue;
                        }

                        Compare<float>(sw, sh, cn, dw, dh, level, rng);
                        Compare<double>(sw, sh, cn, dw, dh, level, rng);
                        cases++;
                    }
                }
            }
        }

        Assert.True(cases > 100, $"only {cases} shapes");
    }

    private static void Compare<T>(int sw, int sh, int cn, int dw, int dh, SimdLevel level, Random rng)
        where T : struct, IFloatingPointIeee754<T>
    {
        var src = new T[sw * sh * cn];
        for (int i = 0; i < src.Length; i++)
        {
            // Pixel values with fractions, and some negative zeros and large values, so a changed order or a fused
            // multiply-add would show in the low bits.
            long r = rng.NextInt64();
            src[i] = (r % 17) == 0 ? -T.Zero : T.CreateChecked((double)(r % 100_000) / 37.0 - 900.0);
        }

        var expected = new T[dw * dh * cn];
        var actual = new T[dw * dh * cn];
        OpenCvResize.Area<T>(src, sw, sh, cn, dw, dh, expected, new ResizeScratch<T>(SimdLevel.Scalar));
        OpenCvResize.Area<T>(src, sw, sh, cn, dw, dh, actual, new ResizeScratch<T>(level));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitEqual(expected[i], actual[i]),
                $"{typeof(T).Name} {sw}x{sh}x{cn} -> {dw}x{dh} at {level}: value {i} is {actual[i]}, the reference loops give {expected[i]}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(SingleLevels))]
    public void The_three_channel_horizontal_kernel_matches_the_reference_on_every_row_length(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        Skip.If(level < SimdLevel.Vector128, "the kernel is the 128-bit form; the scalar level runs the reference itself");
        EveryRowLength<float>(level, new Random(42));
    }

    [SkippableTheory]
    [MemberData(nameof(SingleLevels))]
    public void The_three_channel_double_kernel_matches_the_reference_on_every_row_length(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        Skip.If(level < SimdLevel.Vector256, "the double kernel is the 256-bit form; below it the reference runs itself");
        EveryRowLength<double>(level, new Random(46));
    }

    [Fact]
    public void The_double_kernel_called_on_its_own_gives_the_reference_loops_values()
    {
        // Called directly, not through Area's choice of path, so a change to that choice cannot leave it untested: every
        // table of sw → dw cells up to 40 pixels as AreaDecimate builds it, the kernel against the reference loop on
        // the same row. The output starts as NaN, so a value the kernel failed to write shows.
        var rng = new Random(48);
        var entries = Array.Empty<OpenCvResize.Decimate>();
        int vectorCells = 0;
        for (int sw = 1; sw <= 40; sw++)
        {
            for (int dw = 1; dw <= sw; dw++)
            {
                int taps = OpenCvResize.AreaTable(sw, dw, 3, 1.0 / ((double)dw / sw), ref entries);
                var xSrc = entries[..taps].Select(e => e.Si).ToArray();
                var xDst = entries[..taps].Select(e => e.Di).ToArray();
                var xAlpha = entries[..taps].Select(e => (double)(float)e.Alpha).ToArray();
                var table = new ThreeChannelTable<double>().Build(sw, dw, taps, xSrc, xDst, xAlpha);
                vectorCells += table.FastCells;
                var row = Enumerable.Range(0, sw * 3).Select(_ => rng.Next(-65_536, 65_536) / 255.0).ToArray();
                var expected = new double[dw * 3];
                var actual = Enumerable.Repeat(double.NaN, dw * 3).ToArray();
                OpenCvResize.HorizontalAreaScalar<double>(row, 3, taps, xSrc, xDst, xAlpha, expected);
                OpenCvResize.HorizontalArea3Vector256(row, table, actual);
                for (int i = 0; i < expected.Length; i++)
                {
                    Assert.True(BitEqual(expected[i], actual[i]), $"{sw} -> {dw}: value {i} is {actual[i]}, the reference gives {expected[i]}");
                }
            }
        }

        Assert.True(vectorCells > 1000, $"only {vectorCells} cells went through the vector loop");
    }

    // Every row length up to 40 shrunk to every narrower row: the kernel's table, its fast cells and its tail.
    private static void EveryRowLength<T>(SimdLevel level, Random rng)
        where T : struct, IFloatingPointIeee754<T>
    {
        for (int sw = 1; sw <= 40; sw++)
        {
            for (int dw = 1; dw <= sw; dw++)
            {
                // A table of sw → dw cells as the decimation builds it, through a real resize to one row.
                var row = new T[sw * 3];
                for (int i = 0; i < row.Length; i++)
                {
                    row[i] = T.CreateChecked(rng.Next(65_536) / 255.0);
                }

                var scalar = new T[dw * 3];
                var vector = new T[dw * 3];
                OpenCvResize.Area<T>(row, sw, 1, 3, dw, 1, scalar, new ResizeScratch<T>(SimdLevel.Scalar));
                OpenCvResize.Area<T>(row, sw, 1, 3, dw, 1, vector, new ResizeScratch<T>(level));
                for (int i = 0; i < scalar.Length; i++)
                {
                    Assert.True(BitEqual(scalar[i], vector[i]), $"{typeof(T).Name} {sw} -> {dw}: value {i} is {vector[i]}, the reference gives {scalar[i]}");
                }
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(SingleLevels))]
    public void The_two_row_horizontal_kernel_gives_each_row_what_the_one_row_kernel_gives(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        Skip.If(level < SimdLevel.Vector256, "the two-row kernel is the 256-bit form");
        // Two rows shrunk to one and to two rows (each source row then feeds one destination row, so each destination
        // row is that row's horizontal pass) and an odd third row: the pair kernel runs on rows 0 and 1 and the one-row
        // kernel on row 2. Against the scalar reference on every row length up to 40 and every narrower result.
        var rng = new Random(43);
        foreach (int sh in new[] { 2, 3, 4 })
        {
            foreach (int dh in new[] { 1, 2, 3, 4 }.Where(d => d <= sh))
            {
                for (int sw = 1; sw <= 40; sw++)
                {
                    for (int dw = 1; dw <= sw; dw++)
                    {
                        var src = new float[sw * sh * 3];
                        for (int i = 0; i < src.Length; i++)
                        {
                            src[i] = (float)(rng.Next(65_536) / 255.0);
                        }

                        var scalar = new float[dw * dh * 3];
                        var vector = new float[dw * dh * 3];
                        OpenCvResize.Area<float>(src, sw, sh, 3, dw, dh, scalar, new ResizeScratch<float>(SimdLevel.Scalar));
                        OpenCvResize.Area<float>(src, sw, sh, 3, dw, dh, vector, new ResizeScratch<float>(level));
                        for (int i = 0; i < scalar.Length; i++)
                        {
                            Assert.True(BitEqual(scalar[i], vector[i]),
                                $"{sw}x{sh} -> {dw}x{dh}: value {i} is {vector[i]}, the reference gives {scalar[i]}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void The_two_row_kernel_refuses_rows_or_buffers_of_different_lengths()
    {
        var table = new ThreeChannelTable<float>().Build(2, 1, 2, [0, 3], [0, 0], [0.5f, 0.5f]);
        var rows = Assert.Throws<ArgumentException>(() => OpenCvResize.HorizontalArea3PairVector256(
            new float[6], new float[9], table, new float[3], new float[3]));
        Assert.Contains("both pairs must match", rows.Message, StringComparison.Ordinal);
        var buffers = Assert.Throws<ArgumentException>(() => OpenCvResize.HorizontalArea3PairVector256(
            new float[6], new float[6], table, new float[3], new float[6]));
        Assert.Contains("both pairs must match", buffers.Message, StringComparison.Ordinal);
        var table2 = Assert.Throws<ArgumentException>(() => OpenCvResize.HorizontalArea3PairVector256(
            new float[9], new float[9], table, new float[3], new float[3]));
        Assert.Contains("was given a row of 9", table2.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [MemberData(nameof(SingleLevels))]
    public void Infinities_NaN_and_negative_zeros_come_out_as_the_reference_loops_give_them(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        Specials<float>(level, new Random(44), 1e38f);
    }

    [SkippableTheory]
    [MemberData(nameof(SingleLevels))]
    public void Infinities_NaN_and_negative_zeros_in_doubles_come_out_as_the_reference_loops_give_them(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        Specials<double>(level, new Random(47), 1e308); // large enough that a few of them in one cell overflow to infinity
    }

    private static void Specials<T>(SimdLevel level, Random rng, T huge)
        where T : struct, IFloatingPointIeee754<T>
    {
        // Padding entries add (pixel masked to +0) · (+0): without the mask an infinite pixel would put NaN where the
        // reference has none. Every shrink of 1–24 pixels over two and three rows, three channels, with infinities,
        // NaN, −0 and finite values of both signs scattered in.
        T[] specials = [T.PositiveInfinity, T.NegativeInfinity, T.NaN, -T.Zero, T.Zero, T.CreateChecked(-3.5), huge];
        int compared = 0;
        foreach (int sh in new[] { 2, 3 })
        {
            for (int sw = 1; sw <= 24; sw++)
            {
                for (int dw = 1; dw <= sw; dw++)
                {
                    var src = new T[sw * sh * 3];
                    for (int i = 0; i < src.Length; i++)
                    {
                        src[i] = rng.Next(6) == 0 ? specials[rng.Next(specials.Length)] : T.CreateChecked(rng.Next(-65_536, 65_536) / 255.0);
                    }

                    var scalar = new T[dw * 3];
                    var vector = new T[dw * 3];
                    OpenCvResize.Area<T>(src, sw, sh, 3, dw, 1, scalar, new ResizeScratch<T>(SimdLevel.Scalar));
                    OpenCvResize.Area<T>(src, sw, sh, 3, dw, 1, vector, new ResizeScratch<T>(level));
                    for (int i = 0; i < scalar.Length; i++)
                    {
                        // A NaN must stay a NaN, but not its sign or payload: x86 makes one NaN (.NET's), while ARM64 makes +NaN
                        // for ∞ − ∞ and keeps the first operand's NaN when both are NaN, so the sign follows an operand order
                        // the JIT may swap between tiers (CI's arm64 run saw the scalar loops disagree with themselves).
                        // Everything else, −0 against +0 included, is compared bit for bit.
                        Assert.True(T.IsNaN(scalar[i]) ? T.IsNaN(vector[i]) : BitEqual(scalar[i], vector[i]),
                            $"{typeof(T).Name} {sw}x{sh} -> {dw}x1 at {level}: value {i} is {vector[i]}, the reference gives {scalar[i]}");
                        compared += T.IsFinite(scalar[i]) ? 0 : 1;
                    }
                }
            }
        }

        Assert.True(compared > 100, $"only {compared} non-finite results: the specials did not reach the output");
    }

    [SkippableTheory]
    [MemberData(nameof(SingleLevels))]
    public void A_source_handing_out_more_rows_than_asked_for_gives_the_same_values(SimdLevel level)
    {
        SimdLevels.SkipIfUnavailable(level);
        // IImageRows may return a longer span than asked for (here: the rest of the image); only the rows asked for count.
        var rng = new Random(45);
        foreach (var (sw, sh, dw, dh) in new[] { (5, 2, 3, 1), (37, 23, 17, 11), (9, 5, 4, 2) })
        {
            var src = new float[sw * sh * 3];
            for (int i = 0; i < src.Length; i++)
            {
                src[i] = (float)(rng.Next(65_536) / 255.0);
            }

            var expected = new float[dw * dh * 3];
            var actual = new float[dw * dh * 3];
            OpenCvResize.Area<float>(src, sw, sh, 3, dw, dh, expected, new ResizeScratch<float>(SimdLevel.Scalar));
            OpenCvResize.Area(new RestOfImage(src, sw * 3), sw, sh, 3, dw, dh, actual.AsSpan(), new ResizeScratch<float>(level));
            Assert.Equal(expected, actual);
        }
    }

    private sealed class RestOfImage(float[] source, int rowLength) : IImageRows<float>
    {
        public ReadOnlySpan<float> Rows(int y, int count) => source.AsSpan(y * rowLength);
    }

    public static TheoryData<SimdLevel> SingleLevels => SimdLevels.All;

    private static bool BitEqual<T>(T a, T b)
        where T : struct, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float)
            ? BitConverter.SingleToInt32Bits((float)(object)a) == BitConverter.SingleToInt32Bits((float)(object)b)
            : BitConverter.DoubleToInt64Bits((double)(object)a) == BitConverter.DoubleToInt64Bits((double)(object)b);
}
