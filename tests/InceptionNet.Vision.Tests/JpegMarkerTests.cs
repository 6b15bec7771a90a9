using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// How the JPEG decoder reads the markers around the image data, as libjpeg-turbo (and so PIL) does: each test edits a
/// course photo so that a decoder reading the marker the other way gives different pixels or refuses the file. Found by a
/// differential campaign against Pillow 9.4 (libjpeg-turbo 2.1.5) over 16,726 generated files.
/// </summary>
public sealed class JpegMarkerTests
{
    private static byte[] Course(string name) => File.ReadAllBytes(SharedData.PathOf("images", "course", name));

    private static byte[] Pixels(byte[] jpeg) => ImageDecoder.Decode(jpeg, "edited.jpg").Pixels;

    [Fact]
    public void A_quantization_table_redefined_after_a_components_first_scan_does_not_apply_to_that_component()
    {
        // andrew.jpg is progressive: its first scan (the DC of all three components) fixes each component's table, as
        // libjpeg's latch_quant_tables does. A table defined again after that scan changes nothing; used from the output
        // instead, these values would change every block.
        byte[] original = Course("andrew.jpg");
        Assert.True(Segments(original).Any(s => s.Marker == 0xC2), "andrew.jpg is expected to be progressive");
        int afterFirstScan = EndOfScan(original, Segments(original).First(s => s.Marker == 0xDA));
        byte[] table0 = [0xFF, 0xDB, 0x00, 0x43, 0x00, .. Enumerable.Repeat((byte)99, 64)];
        byte[] table1 = [0xFF, 0xDB, 0x00, 0x43, 0x01, .. Enumerable.Repeat((byte)99, 64)];
        byte[] edited = [.. original[..afterFirstScan], .. table0, .. table1, .. original[afterFirstScan..]];

        Assert.Equal(Pixels(original), Pixels(edited));

        // The same tables before the first scan do apply (so the edit above could have shown).
        int beforeFirstScan = Segments(original).First(s => s.Marker == 0xDA).Start;
        byte[] early = [.. original[..beforeFirstScan], .. table0, .. table1, .. original[beforeFirstScan..]];
        Assert.NotEqual(Pixels(original), Pixels(early));
    }

    [Fact]
    public void A_JFIF_segment_shorter_than_its_14_byte_header_does_not_count_against_RGB_component_ids()
    {
        // Components named 'R', 'G', 'B' with no JFIF or Adobe segment are RGB, not YCbCr (libjpeg's colour guess). libjpeg
        // counts a JFIF segment only when it holds the whole 14-byte header (examine_app0), so a shorter one leaves the guess
        // at RGB.
        byte[] rgb = WithRgbIds(WithoutSegments(Course("benoit.jpg"), 0xE0, 0xEE));
        byte[] shortJfif = Inserted(rgb, [0xFF, 0xE0, 0x00, 0x0E, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1]); // 12 bytes
        byte[] fullJfif = Inserted(rgb, [0xFF, 0xE0, 0x00, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]); // 14 bytes

        Assert.Equal(Pixels(rgb), Pixels(shortJfif));
        Assert.NotEqual(Pixels(rgb), Pixels(fullJfif)); // a whole JFIF header makes it YCbCr
    }

    [Fact]
    public void A_stuffed_zero_in_stray_bytes_after_a_scan_is_skipped_as_libjpeg_skips_it()
    {
        // Between the entropy data's end and the next marker, libjpeg's next_marker discards any bytes, and FF 00 among
        // them too. Sixteen stray bytes first, so that the scan's reader has stopped before the FF 00 (it reads a few bytes
        // ahead, and in entropy data FF 00 is a zero byte); read as a marker 0x00, "FF 00 AB CD" was a 43,981-byte segment
        // and the file was refused as truncated.
        byte[] original = Course("benoit.jpg");
        int end = EndOfScan(original, Segments(original).Last(s => s.Marker == 0xDA));
        byte[] edited = [.. original[..end], .. Enumerable.Repeat((byte)0x12, 16), 0xFF, 0x00, 0xAB, 0xCD, 0x12, 0x12, 0x12, 0x12, .. original[end..]];

        Assert.Equal(Pixels(original), Pixels(edited));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0x02, 0x00, 0x04, 0x00, 0x00 }, "unknown marker 0x02")]
    [InlineData(new byte[] { 0xFF, 0xC8, 0x00, 0x04, 0x00, 0x00 }, "unknown marker 0xC8")]
    [InlineData(new byte[] { 0xFF, 0xF3, 0x00, 0x04, 0x00, 0x00 }, "unknown marker 0xF3")]
    [InlineData(new byte[] { 0xFF, 0xD8 }, "a second start-of-image marker")]
    public void A_marker_libjpeg_does_not_know_is_refused_naming_it(byte[] segment, string message)
    {
        // libjpeg's read_markers stops with JERR_UNKNOWN_MARKER (or JERR_SOI_DUPLICATE) where these were skipped as
        // segments before; PIL refuses these files.
        var error = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(Inserted(Course("benoit.jpg"), segment), "edited.jpg"));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("edited.jpg", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_four_component_jpeg_is_refused_as_cmyk_naming_the_file()
    {
        // PIL would return CMYK pixels, which are not what convert("RGB") of a colour photo means here: refused, saying so.
        byte[] cmyk = [.. HostileFiles.Soi, .. HostileFiles.Dqt(), .. HostileFiles.Sof(0xC0, 8, 8, 4), .. HostileFiles.Eoi];
        var error = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(cmyk, "cmyk.jpg"));
        Assert.Contains("CMYK", error.Message, StringComparison.Ordinal);
        Assert.Contains("cmyk.jpg", error.Message, StringComparison.Ordinal);
    }

    private readonly record struct Segment(byte Marker, int Start, int Length); // Start at the FF, Length with the length field

    // The marker segments from SOI up to and including the first SOS (the header a course photo has before its data), and
    // every later SOS, found by walking from each scan's end.
    private static List<Segment> Segments(byte[] jpeg)
    {
        var found = new List<Segment>();
        int pos = 2;
        while (pos + 4 <= jpeg.Length && jpeg[pos] == 0xFF)
        {
            byte marker = jpeg[pos + 1];
            if (marker == 0xD9)
            {
                break;
            }

            int length = (jpeg[pos + 2] << 8) | jpeg[pos + 3];
            var segment = new Segment(marker, pos, length);
            found.Add(segment);
            pos = marker == 0xDA ? EndOfScan(jpeg, segment) : pos + 2 + length;
        }

        return found;
    }

    // Where a scan's entropy-coded data ends: the first FF followed by neither 00 (a stuffed zero) nor a restart marker.
    private static int EndOfScan(byte[] jpeg, Segment scan)
    {
        int pos = scan.Start + 2 + scan.Length;
        while (pos + 1 < jpeg.Length && !(jpeg[pos] == 0xFF && jpeg[pos + 1] != 0x00 && jpeg[pos + 1] is not (>= 0xD0 and <= 0xD7)))
        {
            pos++;
        }

        return pos;
    }

    // The file with the bytes inserted right after SOI.
    private static byte[] Inserted(byte[] jpeg, byte[] bytes) => [.. jpeg[..2], .. bytes, .. jpeg[2..]];

    private static byte[] WithoutSegments(byte[] jpeg, params byte[] markers)
    {
        var result = new List<byte>(jpeg);
        foreach (var s in Segments(jpeg).Where(s => markers.Contains(s.Marker)).OrderByDescending(s => s.Start))
        {
            result.RemoveRange(s.Start, 2 + s.Length);
        }

        return [.. result];
    }

    // The frame's and every scan's component ids renamed 1, 2, 3 -> 'R', 'G', 'B'.
    private static byte[] WithRgbIds(byte[] jpeg)
    {
        byte[] result = (byte[])jpeg.Clone();
        static byte Rename(byte id) => id switch { 1 => (byte)'R', 2 => (byte)'G', 3 => (byte)'B', _ => throw new InvalidOperationException($"component id {id}") };
        foreach (var s in Segments(jpeg))
        {
            int body = s.Start + 4;
            if (s.Marker is 0xC0 or 0xC2)
            {
                for (int i = 0; i < result[body + 5]; i++)
                {
                    result[body + 6 + 3 * i] = Rename(result[body + 6 + 3 * i]);
                }
            }
            else if (s.Marker == 0xDA)
            {
                for (int i = 0; i < result[body]; i++)
                {
                    result[body + 1 + 2 * i] = Rename(result[body + 1 + 2 * i]);
                }
            }
        }

        return result;
    }
}
