using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace InceptionNet.Vision.Png;

/// <summary>
/// A strict PNG reader whose RGB output equals PIL's <c>Image.open(p).convert("RGB")</c> (Pillow 9.4): every colour
/// type and bit depth, palettes, Adam7; alpha and tRNS dropped (not blended), grey replicated, 1/2/4-bit grey scaled to
/// 0..255, 16-bit colour reduced to its high byte and 16-bit grey clipped to 255 (Pillow opens it as mode "I", whose
/// conversion to "L" clips), palette indices past the PLTE entries read as grey (Pillow's palette starts as a ramp).
/// Every chunk's length is checked against the file and its CRC verified; the pixel budget is checked from IHDR before
/// anything else; the image data is inflated once to count it and, only if it holds what IHDR implies, once more into a
/// buffer of exactly that size, so the cost is bounded by the file, not by what its header claims. The compressed and
/// inflated data live in arrays rented from <see cref="ArrayPool{T}.Shared"/> and returned when the decode ends.
/// </summary>
public static class PngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Decodes a PNG file held in memory; <paramref name="name"/> is used in error messages.</summary>
    /// <exception cref="InvalidImageException">Corrupt, truncated, unsupported, or above <paramref name="maxPixels"/>.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> data, string name, long maxPixels = ImageDecoder.DefaultMaxPixels)
    {
        try
        {
            return Read(data, name, maxPixels);
        }
        catch (FormatException ex)
        {
            throw new InvalidImageException(name, $"corrupt PNG: {ex.Message}", ex);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidImageException(name, $"corrupt PNG: the compressed image data is damaged ({ex.Message}).", ex);
        }
    }

    private readonly record struct Header(int Width, int Height, int BitDepth, int ColourType, bool Interlaced)
    {
        public int Channels => ColourType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };

        public int BitsPerPixel => Channels * BitDepth;

        // Bytes of one filtered row of `width` pixels, without the filter-type byte.
        public long RowBytes(long width) => (width * BitsPerPixel + 7) / 8;
    }

    // Adam7: (x0, y0, dx, dy) of the seven passes.
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Passes =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    // A non-interlaced image is one pass over every pixel.
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Progressive = [(0, 0, 1, 1)];

    private static RgbImage Read(ReadOnlySpan<byte> data, string name, long maxPixels)
    {
        if (!data.StartsWith(Signature))
        {
            throw new FormatException("bad signature (not a PNG, or damaged by a text-mode transfer).");
        }

        Header? header = null;
        byte[]? palette = null;
        var idat = new List<Range>();
        long idatBytes = 0;
        int pos = Signature.Length;
        while (true)
        {
            if (data.Length - pos < 12)
            {
                // Pillow stops reading once the image data is complete, so a missing IEND after it is tolerated too.
                if (idat.Count > 0)
                {
                    break;
                }

                throw new FormatException("the file ends before the image data (truncated).");
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            var type = data.Slice(pos + 4, 4);
            string typeName = ChunkName(type);
            if (idat.Count > 0 && !type.SequenceEqual("IDAT"u8))
            {
                break; // the image data is complete: nothing after it changes a pixel (Pillow stops here as well).
            }

            if (length > int.MaxValue || length > data.Length - pos - 12)
            {
                throw new FormatException($"chunk {typeName} of {length} bytes runs past the end of the file (truncated).");
            }

            var body = data.Slice(pos + 8, (int)length);
            if (Crc32.Compute(data.Slice(pos + 4, 4 + (int)length)) != BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)length)..]))
            {
                throw new FormatException($"chunk {typeName} has a bad CRC (damaged file).");
            }

            pos += 12 + (int)length;
            if (header is null && typeName != "IHDR")
            {
                throw new FormatException($"the first chunk is {typeName}, not IHDR.");
            }

            switch (typeName)
            {
                case "IHDR":
                    if (header is not null)
                    {
                        throw new FormatException("more than one IHDR chunk.");
                    }

                    header = ReadHeader(body, name, maxPixels);
                    break;
                case "PLTE":
                    if (body.Length == 0 || body.Length % 3 != 0 || body.Length > 3 * 256)
                    {
                        throw new FormatException($"PLTE of {body.Length} bytes (must be 3·n, 1 ≤ n ≤ 256).");
                    }

                    // A suggested palette in a truecolour or grey file is ignored, as Pillow does.
                    palette = header!.Value.ColourType == 3 ? body.ToArray() : palette;
                    break;
                case "IDAT":
                    idat.Add(new Range(pos - 4 - (int)length, pos - 4));
                    idatBytes += length;
                    break;
                case "IEND":
                    throw new FormatException("IEND before any image data (IDAT).");
                default:
                    if ((type[0] & 0x20) == 0)
                    {
                        throw new InvalidImageException(name, $"unknown critical PNG chunk {typeName} (a PNG extension this reader does not support).");
                    }

                    break;
            }
        }

        var h = header!.Value;
        if (h.ColourType == 3 && palette is null)
        {
            throw new FormatException("palette image without a PLTE chunk before its image data.");
        }

        long expected = RawSize(h);
        if (expected > Array.MaxLength)
        {
            throw new InvalidImageException(name, $"{h.Width}x{h.Height} at {h.BitsPerPixel} bits per pixel is too large to decode in one buffer.");
        }

        // The IDAT bodies fit in the file, which fits in one array, so their sum is an int.
        byte[] compressed = DecodeBuffers<byte>.Pool.Rent((int)idatBytes);
        byte[]? raw = null;
        try
        {
            int at = 0;
            foreach (var range in idat)
            {
                var part = data[range];
                part.CopyTo(compressed.AsSpan(at));
                at += part.Length;
            }

            raw = Inflate(compressed, at, (int)expected);
            var pixels = new byte[(long)h.Width * h.Height * 3];
            int offset = 0;
            foreach (var pass in h.Interlaced ? Passes : Progressive)
            {
                offset = ReconstructPass(h, palette, raw, offset, pass, pixels);
            }

            return new RgbImage(h.Width, h.Height, pixels);
        }
        finally
        {
            DecodeBuffers<byte>.Pool.Return(compressed);
            if (raw is not null)
            {
                DecodeBuffers<byte>.Pool.Return(raw);
            }
        }
    }

    private static Header ReadHeader(ReadOnlySpan<byte> s, string name, long maxPixels)
    {
        if (s.Length != 13)
        {
            throw new FormatException($"IHDR of {s.Length} bytes (must be 13).");
        }

        uint width = BinaryPrimitives.ReadUInt32BigEndian(s), height = BinaryPrimitives.ReadUInt32BigEndian(s[4..]);
        int depth = s[8], colourType = s[9];
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
        {
            throw new FormatException($"image size {width}x{height} (each side must be 1 to 2^31-1).");
        }

        if ((long)width * height > maxPixels)
        {
            throw new InvalidImageException(name, $"{width}x{height} is above the limit of {maxPixels} pixels.") { OverPixelLimit = true };
        }

        if ((long)width * height * 3 > Array.MaxLength)
        {
            throw new InvalidImageException(name, $"{width}x{height} is too large to hold as one RGB buffer.");
        }

        bool valid = colourType switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => depth is 8 or 16,
            _ => false,
        };
        if (!valid)
        {
            throw new FormatException($"colour type {colourType} with bit depth {depth} is not a PNG combination.");
        }

        if (s[10] != 0 || s[11] != 0 || s[12] > 1)
        {
            throw new FormatException($"compression method {s[10]}, filter method {s[11]}, interlace method {s[12]} (must be 0, 0, 0 or 1).");
        }

        return new Header((int)width, (int)height, depth, colourType, s[12] == 1);
    }

    // Filtered bytes the header implies: per (pass) row one filter-type byte and the packed samples.
    private static long RawSize(Header h)
    {
        if (!h.Interlaced)
        {
            return h.Height * (1 + h.RowBytes(h.Width));
        }

        long total = 0;
        foreach (var (x0, y0, dx, dy) in Passes)
        {
            long w = h.Width > x0 ? (h.Width - x0 + dx - 1) / dx : 0, rows = h.Height > y0 ? (h.Height - y0 + dy - 1) / dy : 0;
            total += w > 0 ? rows * (1 + h.RowBytes(w)) : 0;
        }

        return total;
    }

    // Inflates exactly `expected` bytes of compressed[0 .. length) into a rented array (the caller returns it). A first
    // pass only counts what the data decompresses to (into a small scratch buffer), so a header that claims a huge image
    // backed by a few bytes costs nothing but the inflate of those bytes; only once the data is known to hold the image
    // is the buffer rented. Bytes past `expected` are ignored, as Pillow ignores them.
    private static byte[] Inflate(byte[] compressed, int length, int expected)
    {
        // The zlib header (RFC 1950) is checked here: a preset dictionary (FDICT), which PNG does not allow, makes zlib
        // answer Z_NEED_DICT, and .NET surfaces that as an undocumented ZLibException, not InvalidDataException (found
        // by the png fuzz campaign).
        if (compressed.Length < 2 || (compressed[0] & 0x0F) != 8 || compressed[0] >> 4 > 7 || ((compressed[0] << 8) | compressed[1]) % 31 != 0)
        {
            throw new FormatException("the image data does not start with a zlib header.");
        }

        if ((compressed[1] & 0x20) != 0)
        {
            throw new FormatException("the image data asks for a preset zlib dictionary, which PNG does not allow.");
        }

        long available = 0;
        byte[] scratch = DecodeBuffers<byte>.Pool.Rent(Math.Min(expected, 1 << 16));
        try
        {
            using var counting = new ZLibStream(new MemoryStream(compressed, 0, length, writable: false), CompressionMode.Decompress);
            for (int read; available < expected && (read = counting.Read(scratch, 0, (int)Math.Min(expected - available, scratch.Length))) > 0;)
            {
                available += read;
            }
        }
        finally
        {
            DecodeBuffers<byte>.Pool.Return(scratch);
        }

        if (available < expected)
        {
            throw new FormatException($"the image data ends after {available} of {expected} bytes (truncated).");
        }

        byte[] buffer = DecodeBuffers<byte>.Pool.Rent(expected);
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(compressed, 0, length, writable: false), CompressionMode.Decompress);
            zlib.ReadExactly(buffer, 0, expected);
            return buffer;
        }
        catch
        {
            DecodeBuffers<byte>.Pool.Return(buffer);
            throw;
        }
    }

    // Reverses the row filters of one pass in place (each row's predecessor is already reconstructed) and writes its
    // pixels to their places in the RGB image; returns the offset of the next pass's data.
    private static int ReconstructPass(Header h, byte[]? palette, byte[] raw, int offset, (int X0, int Y0, int Dx, int Dy) pass, byte[] pixels)
    {
        var (x0, y0, dx, dy) = pass;
        int width = h.Width > x0 ? (h.Width - x0 + dx - 1) / dx : 0, rows = h.Height > y0 ? (h.Height - y0 + dy - 1) / dy : 0;
        if (width == 0 || rows == 0)
        {
            return offset; // an empty pass has no bytes at all, not even filter bytes
        }

        int rowBytes = (int)h.RowBytes(width);
        int bpp = Math.Max(1, h.BitsPerPixel / 8); // the byte distance to the "left" sample, at least 1 (PNG spec 9.2)
        for (int y = 0; y < rows; y++)
        {
            int filter = raw[offset];
            var line = raw.AsSpan(offset + 1, rowBytes);
            var prior = y > 0 ? raw.AsSpan(offset - rowBytes, rowBytes) : default;
            switch (filter)
            {
                case 0:
                    break;
                case 1:
                    for (int i = bpp; i < rowBytes; i++)
                    {
                        line[i] += line[i - bpp];
                    }

                    break;
                case 2:
                    for (int i = 0; i < rowBytes && y > 0; i++)
                    {
                        line[i] += prior[i];
                    }

                    break;
                case 3:
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int left = i >= bpp ? line[i - bpp] : 0, up = y > 0 ? prior[i] : 0;
                        line[i] += (byte)((left + up) >> 1);
                    }

                    break;
                case 4:
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bpp ? line[i - bpp] : 0, b = y > 0 ? prior[i] : 0, c = i >= bpp && y > 0 ? prior[i - bpp] : 0;
                        line[i] += (byte)Paeth(a, b, c);
                    }

                    break;
                default:
                    throw new FormatException($"row {y} has filter type {filter} (must be 0 to 4).");
            }

            ToRgb(h, palette, line, width, pixels.AsSpan(((y0 + y * dy) * h.Width + x0) * 3), dx * 3);
            offset += 1 + rowBytes;
        }

        return offset;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    // One reconstructed row of `count` pixels → RGB at rgb[0], rgb[step], …
    private static void ToRgb(Header h, byte[]? palette, ReadOnlySpan<byte> line, int count, Span<byte> rgb, int step)
    {
        int depth = h.BitDepth;
        switch (h.ColourType)
        {
            case 0 when depth < 8:
                {
                    int scale = 255 / ((1 << depth) - 1); // Pillow's "1", "L;2", "L;4" unpackers: 255, 85, 17
                    for (int x = 0, o = 0; x < count; x++, o += step)
                    {
                        rgb[o] = rgb[o + 1] = rgb[o + 2] = (byte)(Packed(line, x, depth) * scale);
                    }

                    break;
                }

            case 0 or 4:
                {
                    int stride = h.BitsPerPixel / 8;
                    for (int x = 0, o = 0; x < count; x++, o += step)
                    {
                        int i = x * stride;
                        // 16-bit grey: Pillow's mode "I" converts to "L" by clipping; grey+alpha takes the high byte.
                        byte v = depth == 8 ? line[i] : h.ColourType == 0 ? (byte)Math.Min((line[i] << 8) | line[i + 1], 255) : line[i];
                        rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
                    }

                    break;
                }

            case 2 or 6:
                {
                    int stride = h.BitsPerPixel / 8, sample = depth / 8;
                    for (int x = 0, o = 0; x < count; x++, o += step)
                    {
                        int i = x * stride;
                        rgb[o] = line[i];
                        rgb[o + 1] = line[i + sample];
                        rgb[o + 2] = line[i + 2 * sample];
                    }

                    break;
                }

            default:
                {
                    int entries = palette!.Length / 3;
                    for (int x = 0, o = 0; x < count; x++, o += step)
                    {
                        int index = depth == 8 ? line[x] : Packed(line, x, depth);
                        if (index < entries)
                        {
                            rgb[o] = palette[index * 3];
                            rgb[o + 1] = palette[index * 3 + 1];
                            rgb[o + 2] = palette[index * 3 + 2];
                        }
                        else
                        {
                            rgb[o] = rgb[o + 1] = rgb[o + 2] = (byte)index;
                        }
                    }

                    break;
                }
        }
    }

    // Sample x of a row packed MSB-first at 1, 2 or 4 bits.
    private static int Packed(ReadOnlySpan<byte> line, int x, int depth)
    {
        int bit = x * depth;
        return (line[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
        {
            if (b is not (>= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z'))
            {
                return Convert.ToHexString(type);
            }
        }

        return System.Text.Encoding.ASCII.GetString(type);
    }

    // CRC-32 of ISO 3309 / PNG spec annex D (reflected polynomial 0xEDB88320).
    private static class Crc32
    {
        private static readonly uint[] Table = Build();

        public static uint Compute(ReadOnlySpan<byte> bytes)
        {
            uint crc = 0xFFFFFFFF;
            foreach (byte b in bytes)
            {
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            return crc ^ 0xFFFFFFFF;
        }

        private static uint[] Build()
        {
            var table = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
                }

                table[n] = c;
            }

            return table;
        }
    }
}
