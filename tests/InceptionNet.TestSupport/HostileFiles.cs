using System.Buffers.Binary;
using System.IO.Compression;

namespace InceptionNet.TestSupport;

/// <summary>
/// Builds the hostile files of issue 13 byte by byte, so that each test shows exactly what the file claims and holds.
/// The PNG writer computes its own CRCs (independently of the decoder's); the JPEG writer emits segments and
/// entropy-coded bits with 0xFF stuffing.
/// </summary>
public static class HostileFiles
{
    // ---- PNG ----

    public static byte[] PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] Chunk(string type, ReadOnlySpan<byte> body)
    {
        var chunk = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)body.Length);
        System.Text.Encoding.ASCII.GetBytes(type, chunk.AsSpan(4));
        body.CopyTo(chunk.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + body.Length), Crc32(chunk.AsSpan(4, 4 + body.Length)));
        return chunk;
    }

    public static byte[] Ihdr(uint width, uint height, byte depth, byte colourType, byte interlace = 0)
    {
        var body = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(body, width);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), height);
        body[8] = depth;
        body[9] = colourType;
        body[12] = interlace;
        return Chunk("IHDR", body);
    }

    public static byte[] Zlib(ReadOnlySpan<byte> raw)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(raw);
        }

        return output.ToArray();
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>57 bytes: IHDR of a 1×1 RGB image, then an IDAT chunk header claiming 1 GiB with only 16 bytes behind it.</summary>
    public static byte[] PngIdatClaimingOneGiB()
    {
        var idatHeader = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(idatHeader, 1u << 30);
        "IDAT"u8.CopyTo(idatHeader.AsSpan(4));
        return Concat(PngSignature, Ihdr(1, 1, 8, 2), idatHeader, new byte[16]);
    }

    /// <summary>
    /// A 10000×10000 16-bit RGBA image (100 M pixels, within the default budget; 800 MB of filtered rows) whose image data
    /// is a complete zlib stream of 200 zero bytes: the header implies far more than the data holds.
    /// </summary>
    public static byte[] PngHugeHeaderTinyData() =>
        Concat(PngSignature, Ihdr(10000, 10000, 16, 6), Chunk("IDAT", Zlib(new byte[200])), Chunk("IEND", []));

    /// <summary>A 100000×100000 grey image header (10 G pixels) with a token IDAT.</summary>
    public static byte[] PngAboveThePixelBudget() =>
        Concat(PngSignature, Ihdr(100000, 100000, 8, 0), Chunk("IDAT", Zlib(new byte[16])), Chunk("IEND", []));

    /// <summary>
    /// A deflate bomb: ~60 KB of IDAT that inflates to 60 MB of zero rows, under a 10000×10000 RGB header that needs
    /// 300 MB. The data really is there, so it may be inflated, but no further than it goes.
    /// </summary>
    public static byte[] PngDeflateBombShortOfItsHeader() =>
        Concat(PngSignature, Ihdr(10000, 10000, 8, 2), Chunk("IDAT", Zlib(new byte[60_000_000])), Chunk("IEND", []));

    // ---- JPEG ----

    private static byte[] Segment(byte marker, ReadOnlySpan<byte> body)
    {
        var segment = new byte[4 + body.Length];
        segment[0] = 0xFF;
        segment[1] = marker;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(2 + body.Length));
        body.CopyTo(segment.AsSpan(4));
        return segment;
    }

    public static byte[] Soi => [0xFF, 0xD8];

    public static byte[] Eoi => [0xFF, 0xD9];

    /// <summary>Quantization table 0, all ones.</summary>
    public static byte[] Dqt() => Segment(0xDB, [0, .. Enumerable.Repeat((byte)1, 64)]);

    /// <summary>A frame of <paramref name="components"/> components with ids 1, 2, 3…, 1×1 sampling, quant table 0.</summary>
    public static byte[] Sof(byte marker, int width, int height, int components)
    {
        var body = new List<byte> { 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, (byte)components };
        for (int i = 1; i <= components; i++)
        {
            body.AddRange([(byte)i, 0x11, 0]);
        }

        return Segment(marker, body.ToArray());
    }

    /// <summary>A Huffman table whose one 1-bit code "0" stands for <paramref name="symbol"/>, and "10" for <paramref name="second"/> if given.</summary>
    public static byte[] Dht(int tableClass, int id, byte symbol, byte? second = null)
    {
        var counts = new byte[16];
        counts[0] = 1;
        counts[1] = (byte)(second is null ? 0 : 1);
        byte[] symbols = second is null ? [symbol] : [symbol, second.Value];
        return Segment(0xC4, [(byte)((tableClass << 4) | id), .. counts, .. symbols]);
    }

    /// <summary>A scan of one component (tables 0/0).</summary>
    public static byte[] Sos(int component, int ss, int se, int ah, int al) =>
        Segment(0xDA, [1, (byte)component, 0x00, (byte)ss, (byte)se, (byte)((ah << 4) | al)]);

    /// <summary>An interleaved scan of components 1..<paramref name="count"/> (tables 0/0).</summary>
    public static byte[] SosAll(int count, int ss, int se)
    {
        var body = new List<byte> { (byte)count };
        for (int i = 1; i <= count; i++)
        {
            body.AddRange([(byte)i, 0x00]);
        }

        body.AddRange([(byte)ss, (byte)se, 0]);
        return Segment(0xDA, body.ToArray());
    }

    public static byte[] Dri(int interval) => Segment(0xDD, [(byte)(interval >> 8), (byte)interval]);

    /// <summary>Entropy-coded bits, MSB first, 0xFF stuffed, the last byte padded with ones (as encoders do).</summary>
    public sealed class Bits
    {
        private readonly List<byte> _bytes = [];
        private int _accumulator, _count;

        public Bits Put(int value, int length)
        {
            for (int i = length - 1; i >= 0; i--)
            {
                _accumulator = (_accumulator << 1) | ((value >> i) & 1);
                if (++_count == 8)
                {
                    Flush();
                }
            }

            return this;
        }

        public byte[] ToArray()
        {
            while (_count != 0)
            {
                Put(1, 1);
            }

            return _bytes.ToArray();
        }

        private void Flush()
        {
            _bytes.Add((byte)_accumulator);
            if (_accumulator == 0xFF)
            {
                _bytes.Add(0);
            }

            _accumulator = 0;
            _count = 0;
        }
    }

    /// <summary>
    /// The file: a progressive 10000×10000 three-component frame, then <paramref name="scans"/> AC scans (cycling
    /// over the components) with no entropy-coded bytes at all. The AC table's only code "0" means "end-of-band run of
    /// 2^14 + next 14 bits", so the zeros a decoder supplies at the next marker read as runs covering every block. 1000
    /// scans make a 10 KB file; 10 make ~210 bytes.
    /// </summary>
    public static byte[] JpegEmptyProgressiveScans(int scans)
    {
        var parts = new List<byte[]> { Soi, Dqt(), Sof(0xC2, 10000, 10000, 3), Dht(1, 0, 0xE0) };
        for (int i = 0; i < scans; i++)
        {
            parts.Add(Sos(1 + i % 3, 1, 63, 0, 0));
        }

        parts.Add(Eoi);
        return Concat(parts.ToArray());
    }

    /// <summary>The same frame with a DC first scan of all three components that has no data either.</summary>
    public static byte[] JpegDcScanWithoutData() =>
        Concat(Soi, Dqt(), Sof(0xC2, 10000, 10000, 3), Dht(0, 0, 0), SosAll(3, 0, 0), Eoi);

    /// <summary>
    /// A legitimate progressive 4096×4096 grey image (every DC difference coded, one bit a block, 32 KB), followed by
    /// 999 AC first scans (the most a file may have with its DC scan) whose real data (~17 bytes each) is end-of-band runs of 32767 blocks covering every block.
    /// Decodes to flat grey 128. Each scan visits 262144 blocks if runs are walked block by block.
    /// </summary>
    public static byte[] JpegManyEobRunScans(int scans = 999)
    {
        const int Size = 4096, Blocks = Size / 8 * (Size / 8);
        var parts = new List<byte[]> { Soi, Dqt(), Sof(0xC2, Size, Size, 1), Dht(0, 0, 0), Dht(1, 0, 0xE0) };
        parts.Add(Sos(1, 0, 0, 0, 0));
        parts.Add(new byte[Blocks / 8]); // "0" = DC difference category 0, for every block
        byte[] runs = EobRuns(Blocks);
        for (int i = 0; i < scans; i++)
        {
            parts.Add(Sos(1, 1, 63, 0, 0));
            parts.Add(runs);
        }

        parts.Add(Eoi);
        return Concat(parts.ToArray());
    }

    /// <summary>
    /// A legitimate progressive 2048×2048 grey image whose every block gets AC coefficient 1 (first scan of band 1..1,
    /// Al=1), then 998 refinement scans of band 2..63 (Ah=1, Al=0) that are end-of-band runs over every block: no
    /// coefficient of the band is nonzero, so there is nothing to correct, but a block-by-block walk checks 62
    /// coefficients of each of 65536 blocks per scan.
    /// </summary>
    public static byte[] JpegManyRefinementScans(int scans = 998)
    {
        const int Size = 2048, Blocks = Size / 8 * (Size / 8);
        var parts = new List<byte[]> { Soi, Dqt(), Sof(0xC2, Size, Size, 1), Dht(0, 0, 0), Dht(1, 0, 0x01) };
        parts.Add(Sos(1, 0, 0, 0, 0));
        parts.Add(new byte[Blocks / 8]);
        parts.Add(Sos(1, 1, 1, 0, 1));
        var first = new Bits();
        for (int b = 0; b < Blocks; b++)
        {
            first.Put(0b01, 2); // "0" = run 0, size 1; then the value bit 1 (+1)
        }

        parts.Add(first.ToArray());
        parts.Add(Dht(1, 0, 0xE0));
        byte[] runs = EobRuns(Blocks);
        for (int i = 0; i < scans; i++)
        {
            parts.Add(Sos(1, 2, 63, 1, 0));
            parts.Add(runs);
        }

        parts.Add(Eoi);
        return Concat(parts.ToArray());
    }

    /// <summary>
    /// A baseline 8000×8000 grey frame with a restart interval of 2000 MCUs and nothing but restart markers as data: each
    /// interval's 4000 bits ("0" = DC 0, "0" = end of block, per block) are the zeros a decoder supplies at the marker.
    /// About 1 KB standing for 1 M blocks.
    /// </summary>
    public static byte[] JpegRestartIntervalsOfNothing()
    {
        const int Size = 8000, Interval = 2000, Blocks = Size / 8 * (Size / 8);
        var parts = new List<byte[]> { Soi, Dqt(), Sof(0xC0, Size, Size, 1), Dht(0, 0, 0), Dht(1, 0, 0), Dri(Interval), Sos(1, 0, 63, 0, 0) };
        for (int i = 1; i < (Blocks + Interval - 1) / Interval; i++)
        {
            parts.Add([0xFF, (byte)(0xD0 + (i - 1) % 8)]);
        }

        parts.Add(Eoi);
        return Concat(parts.ToArray());
    }

    // End-of-band runs (code "0", r = 14, then 14 bits: 2^14 + bits blocks) covering `blocks` ≥ 2^14 blocks in equal parts.
    private static byte[] EobRuns(int blocks)
    {
        var bits = new Bits();
        int count = (blocks + 32766) / 32767;
        for (int i = 0; i < count; i++)
        {
            int run = blocks / count + (i < blocks % count ? 1 : 0);
            bits.Put(0, 1).Put(run - (1 << 14), 14);
        }

        return bits.ToArray();
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = ~0u;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320 & (uint)-(int)(crc & 1));
            }
        }

        return ~crc;
    }
}
