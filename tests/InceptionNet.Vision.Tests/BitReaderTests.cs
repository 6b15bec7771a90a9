using InceptionNet.Vision.Jpeg;
using Xunit;

namespace InceptionNet.Vision.Tests;

public sealed class BitReaderTests
{
    [Fact]
    public void A_bit_string_that_is_no_code_takes_17_bits_from_the_data_even_with_16_buffered()
    {
        // One code, "0"; any string starting with a one is no code. Six data bytes, then 24 one-bits (stuffed 0xFF) and 0x5A:
        // the first fill buffers the six bytes and two 0xFFs, 48 bits are read, and the bad code meets exactly 16 buffered
        // bits. libjpeg reads the 17th from the data; taking it from the empty buffer counted as a read past the segment's
        // end, which skips the rest of the restart interval (a file PIL decodes in full lost its later MCUs).
        var table = new HuffmanTable([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [7]);
        byte[] data = [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x5A, 0xFF, 0xD9];
        var reader = new BitReader(data, 0);
        Assert.Equal(0x1234, reader.ReadBits(16));
        Assert.Equal(0x5678, reader.ReadBits(16));
        Assert.Equal(0x9ABC, reader.ReadBits(16));

        Assert.Equal(0, reader.Decode(table));
        Assert.Equal(0, reader.OverrunBits);
        Assert.Equal(0x7F, reader.ReadBits(7));
        Assert.Equal(0x5A, reader.ReadBits(8));
        Assert.Equal(0, reader.OverrunBits);
    }
}
