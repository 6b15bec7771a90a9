using System.Buffers;

namespace InceptionNet.Vision.Jpeg;

/// <summary>
/// A baseline and progressive Huffman JPEG decoder whose RGB output is byte-identical to libjpeg-turbo's defaults (as
/// used by PIL <c>Image.open(p).convert("RGB")</c> and <c>cv2.imread</c>): ISLOW integer IDCT, "fancy" triangle
/// upsampling (h2v1, h1v2, h2v2; box replication for other ratios), libjpeg's fixed-point YCbCr→RGB tables, and the
/// same colour-space guess (JFIF, Adobe transform flag, component ids). EXIF orientation is ignored, as PIL's open does.
/// Arithmetic-coded, lossless, hierarchical, 12-bit and CMYK/YCCK files are refused with a message. The large temporary
/// buffers (coefficients, component planes, upsampled planes) are rented from <see cref="ArrayPool{T}.Shared"/> and
/// returned when the decode ends, so that a warm decode allocates little beyond the returned image.
/// </summary>
public static class JpegDecoder
{
    private static readonly byte[] NaturalOrder =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
        // libjpeg pads the table so that a corrupt run past the end lands on the last coefficient.
        63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    ];

    // ZigZag[z]: the zig-zag index of natural position z (the inverse of NaturalOrder's first 64 entries).
    private static readonly byte[] ZigZag = BuildZigZag();

    // Zero bits the decoder may supply past premature markers over the whole file (libjpeg supplies any number with a
    // warning). A valid file needs none: its encoder pads each entropy segment with one-bits it has actually written.
    private const int OverrunBudgetBits = 4096;

    /// <summary>Decodes a JPEG file held in memory; <paramref name="name"/> is used in error messages.</summary>
    /// <exception cref="InvalidImageException">Corrupt, truncated, unsupported, or above <paramref name="maxPixels"/>.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> data, string name, long maxPixels = ImageDecoder.DefaultMaxPixels)
    {
        var decoder = new Decoder(name, maxPixels);
        try
        {
            return decoder.Run(data);
        }
        catch (FormatException ex)
        {
            throw new InvalidImageException(name, $"corrupt JPEG: {ex.Message}", ex);
        }
        catch (IndexOutOfRangeException ex)
        {
            throw new InvalidImageException(name, "corrupt JPEG: a segment is shorter than its contents.", ex);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new InvalidImageException(name, "corrupt JPEG: a segment is shorter than its contents.", ex);
        }
        finally
        {
            decoder.ReturnBuffers();
        }
    }

    private sealed class Component
    {
        public int Id;
        public int H;
        public int V;
        public int QuantTable;
        // The table the component's first scan found under QuantTable: a DQT that redefines it later applies only to
        // components whose first scan comes after it (libjpeg's latch_quant_tables).
        public ushort[]? Quant;
        // Progressive only: for the zig-zag coefficients 0-9, the point transform Al of the last scan that sent them (0 when
        // known to full precision), or -1 before any scan did (libjpeg's coef_bits, which its block smoothing reads).
        public readonly int[] CoefBits = [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1];
        // CoefBits as they were before the component's latest scan (0 before the file's first scan): the smoothing reads these
        // for the image rows past the last scan's end of data (libjpeg's coef_bits[ci + num_components]).
        public readonly int[] PrevCoefBits = new int[10];
        public int DcTable;
        public int AcTable;
        public int Width;          // downsampled_width: ceil(imageWidth · H / Hmax)
        public int Height;         // downsampled_height
        public int BlocksPerLine;  // padded to whole MCUs
        public int BlocksPerColumn;
        // Rented by the component's first scan, once the data can cover it, and cleared to BlocksPerLine·BlocksPerColumn·64
        // zeros (the rented array may be longer). Empty until then and once the IDCT has consumed it.
        public short[] Coefficients = [];
        public int DcPredictor;

        // Progressive only: per block, bit k set when the coefficient at zig-zag index k ≥ 1 is nonzero; and one bit per
        // block that has any. An AC refinement scan's end-of-band run then visits only the coefficients it can change.
        // AnyAc: the union of all AcMasks, so that a run over a band nobody has is skipped outright. Rented and cleared
        // with the coefficients.
        public ulong[] AcMasks = [];
        public ulong[] BlocksWithAc = [];
        public ulong AnyAc;

        public void SetAc(int blockIndex, int z, short value)
        {
            ulong bit = 1UL << ZigZag[z];
            AcMasks[blockIndex] = value != 0 ? AcMasks[blockIndex] | bit : AcMasks[blockIndex] & ~bit;
            if (value != 0)
            {
                BlocksWithAc[blockIndex >> 6] |= 1UL << blockIndex;
                AnyAc |= bit;
            }
        }

        public void ReturnBuffers()
        {
            Return(ref Coefficients);
            Return(ref AcMasks);
            Return(ref BlocksWithAc);
        }
    }

    private static T[] Rent<T>(int length, bool clear)
    {
        var array = DecodeBuffers<T>.Pool.Rent(length);
        if (clear)
        {
            array.AsSpan(0, length).Clear();
        }

        return array;
    }

    // Returns a rented array (an empty one was never rented) and leaves the field empty, so that nothing returns it twice.
    private static void Return<T>(ref T[] array)
    {
        if (array.Length > 0)
        {
            DecodeBuffers<T>.Pool.Return(array);
            array = [];
        }
    }

    private sealed class Decoder(string name, long maxPixels)
    {
        private readonly ushort[][] _quant = new ushort[4][];
        private readonly HuffmanTable?[] _dc = new HuffmanTable?[4];
        private readonly HuffmanTable?[] _ac = new HuffmanTable?[4];
        private Component[] _components = [];
        private int _width, _height, _hMax, _vMax, _mcusPerLine, _mcusPerColumn, _restartInterval;
        private bool _progressive, _frameSeen, _sawJfif, _sawAdobe;
        private int _adobeTransform;
        private int _eobRun;
        private int _scans;
        private int _lastGoodImcuRow; // the iMCU row of the last MCU a scan decoded with data left (libjpeg's last_good_iMCU_row)
        private int _overrunBits; // consumed by earlier scans and restart intervals, see OverrunBudgetBits

        // libjpeg-turbo's tjDecompress limits progressive scans for the same reason: each scan walks every block, so a
        // hostile file of thousands of tiny scans would take minutes.
        private const int MaxScans = 1000;

        public void ReturnBuffers()
        {
            foreach (var c in _components)
            {
                c.ReturnBuffers();
            }
        }

        public RgbImage Run(ReadOnlySpan<byte> data)
        {
            if (data.Length < 4 || data[0] != 0xFF || data[1] != 0xD8)
            {
                throw new FormatException("no start-of-image marker.");
            }

            int pos = 2;
            while (true)
            {
                // The next marker, past stray bytes, fill bytes and stuffed zeros, as libjpeg's next_marker finds it.
                int at = BitReader.FindMarker(data, pos);
                if (at < 0)
                {
                    throw new FormatException("the file ends before the end-of-image marker (truncated).");
                }

                byte marker = data[at + 1];
                pos = at + 2;

                if (marker == 0xD9)
                {
                    break;
                }

                if (marker is >= 0xD0 and <= 0xD7 or 0x01)
                {
                    continue;
                }

                if (!IsSegmentMarker(marker))
                {
                    // libjpeg's read_markers stops at any other marker (JERR_UNKNOWN_MARKER, or JERR_SOI_DUPLICATE).
                    throw new FormatException(marker == 0xD8 ? "a second start-of-image marker." : $"unknown marker 0x{marker:X2}.");
                }

                if (pos + 2 > data.Length)
                {
                    throw new FormatException("truncated marker segment.");
                }

                int length = (data[pos] << 8) | data[pos + 1];
                if (length < 2 || pos + length > data.Length)
                {
                    throw new FormatException($"marker 0x{marker:X2} segment of {length} bytes runs past the end of the file (truncated).");
                }

                var segment = data.Slice(pos + 2, length - 2);
                switch (marker)
                {
                    case 0xC0 or 0xC1 or 0xC2:
                        ReadFrame(segment, progressive: marker == 0xC2);
                        break;
                    case 0xC3 or 0xC5 or 0xC6 or 0xC7 or 0xCB or 0xCD or 0xCE or 0xCF:
                        throw new InvalidImageException(name, "lossless or hierarchical JPEG is not supported.");
                    case 0xC9 or 0xCA:
                        throw new InvalidImageException(name, "arithmetic-coded JPEG is not supported.");
                    case 0xC4:
                        ReadHuffmanTables(segment);
                        break;
                    case 0xDB:
                        ReadQuantTables(segment);
                        break;
                    case 0xDD:
                        _restartInterval = length >= 4 ? (segment[0] << 8) | segment[1] : throw new FormatException("bad DRI segment.");
                        break;
                    case 0xDA:
                        pos = ReadScan(data, pos + length, segment);
                        continue;
                    case 0xE0:
                        // libjpeg (jdmarker.c examine_app0) counts a JFIF segment only when it holds the 14 bytes of its header.
                        _sawJfif |= segment.Length >= 14 && segment[..5].SequenceEqual("JFIF\0"u8);
                        break;
                    case 0xEE:
                        if (segment.Length >= 12 && segment[..5].SequenceEqual("Adobe"u8))
                        {
                            _sawAdobe = true;
                            _adobeTransform = segment[11];
                        }

                        break;
                }

                pos += length;
            }

            if (!_frameSeen)
            {
                throw new FormatException("no frame header (SOF) before the end of the image.");
            }

            return Output();
        }

        // The markers with a length-prefixed segment that libjpeg reads or skips: the frame headers (SOF0-SOF15 but for the
        // reserved 0xC8), DHT, DAC, SOS, DQT, DNL, DRI, APP0-APP15 and COM.
        private static bool IsSegmentMarker(byte marker) =>
            marker is >= 0xC0 and <= 0xCF and not 0xC8 or >= 0xDA and <= 0xDD or >= 0xE0 and <= 0xEF or 0xFE;

        private void ReadFrame(ReadOnlySpan<byte> s, bool progressive)
        {
            if (_frameSeen)
            {
                throw new FormatException("more than one frame header.");
            }

            if (s.Length < 6 || s.Length != 6 + 3 * s[5])
            {
                throw new FormatException($"SOF segment of {s.Length} bytes does not match its component count.");
            }

            if (s[0] != 8)
            {
                throw new InvalidImageException(name, $"{s[0]}-bit JPEG samples are not supported (only 8-bit).");
            }

            _height = (s[1] << 8) | s[2];
            _width = (s[3] << 8) | s[4];
            int count = s[5];
            if (_width == 0 || _height == 0)
            {
                throw new FormatException($"image size {_width}x{_height} (a zero height needs a DNL marker, which is not supported).");
            }

            if ((long)_width * _height > maxPixels)
            {
                throw new InvalidImageException(name, $"{_width}x{_height} is above the limit of {maxPixels} pixels.") { OverPixelLimit = true };
            }

            if (count is not (1 or 3))
            {
                throw new InvalidImageException(name, count == 4
                    ? "CMYK/YCCK JPEG is not supported (PIL would return CMYK; convert it to RGB first)."
                    : $"JPEG with {count} components is not supported.");
            }

            // Built aside and kept only whole: a component refused halfway would leave an empty slot that returning the
            // buffers after the failure then trips over (a NullReferenceException in place of the error, found by fuzzing).
            var components = new Component[count];
            for (int i = 0; i < count; i++)
            {
                var c = new Component { Id = s[6 + i * 3], H = s[7 + i * 3] >> 4, V = s[7 + i * 3] & 15, QuantTable = s[8 + i * 3] };
                if (c.H is < 1 or > 4 || c.V is < 1 or > 4 || c.QuantTable > 3)
                {
                    throw new FormatException($"component {c.Id} has sampling {c.H}x{c.V} / quant table {c.QuantTable}.");
                }

                if (components.Take(i).Any(other => other.Id == c.Id))
                {
                    throw new FormatException($"two components have id {c.Id}.");
                }

                components[i] = c;
            }

            _components = components;

            _hMax = _components.Max(c => c.H);
            _vMax = _components.Max(c => c.V);
            foreach (var c in _components)
            {
                if (_hMax % c.H != 0 || _vMax % c.V != 0)
                {
                    throw new InvalidImageException(name, $"fractional sampling ratio {c.H}x{c.V} of {_hMax}x{_vMax} is not supported (libjpeg refuses it too).");
                }
            }

            _mcusPerLine = (_width + 8 * _hMax - 1) / (8 * _hMax);
            _mcusPerColumn = (_height + 8 * _vMax - 1) / (8 * _vMax);
            foreach (var c in _components)
            {
                c.Width = (int)(((long)_width * c.H + _hMax - 1) / _hMax);
                c.Height = (int)(((long)_height * c.V + _vMax - 1) / _vMax);
                c.BlocksPerLine = _mcusPerLine * c.H;
                c.BlocksPerColumn = _mcusPerColumn * c.V;
                if ((long)c.BlocksPerLine * c.BlocksPerColumn * 64 > Array.MaxLength || (long)_width * _height * 3 > Array.MaxLength)
                {
                    throw new InvalidImageException(name, $"{_width}x{_height} is too large to decode in one buffer.");
                }
            }

            _progressive = progressive;
            _frameSeen = true;
        }

        private void ReadHuffmanTables(ReadOnlySpan<byte> s)
        {
            while (s.Length > 0)
            {
                int tableClass = s[0] >> 4, id = s[0] & 15;
                if (tableClass > 1 || id > 3 || s.Length < 17)
                {
                    throw new FormatException("bad DHT segment.");
                }

                var counts = s.Slice(1, 16);
                int total = 0;
                foreach (byte b in counts)
                {
                    total += b;
                }

                if (total > 256 || s.Length < 17 + total)
                {
                    throw new FormatException("DHT segment is shorter than its code counts.");
                }

                var table = new HuffmanTable(counts, s.Slice(17, total));
                (tableClass == 0 ? _dc : _ac)[id] = table;
                s = s[(17 + total)..];
            }
        }

        private void ReadQuantTables(ReadOnlySpan<byte> s)
        {
            while (s.Length > 0)
            {
                int precision = s[0] >> 4, id = s[0] & 15;
                int size = precision == 0 ? 64 : 128;
                if (id > 3 || precision > 1 || s.Length < 1 + size)
                {
                    throw new FormatException("bad DQT segment.");
                }

                var table = new ushort[64];
                for (int k = 0; k < 64; k++)
                {
                    table[NaturalOrder[k]] = precision == 0 ? s[1 + k] : (ushort)((s[1 + 2 * k] << 8) | s[2 + 2 * k]);
                }

                _quant[id] = table;
                s = s[(1 + size)..];
            }
        }

        private int ReadScan(ReadOnlySpan<byte> data, int entropyStart, ReadOnlySpan<byte> s)
        {
            if (!_frameSeen)
            {
                throw new FormatException("scan before the frame header.");
            }

            if (++_scans > MaxScans)
            {
                throw new FormatException($"more than {MaxScans} scans.");
            }

            int count = s.Length > 0 ? s[0] : 0;
            if (count < 1 || count > _components.Length || s.Length != 4 + 2 * count)
            {
                throw new FormatException("bad SOS segment.");
            }

            var scan = new Component[count];
            for (int i = 0; i < count; i++)
            {
                int id = s[1 + 2 * i];
                scan[i] = _components.FirstOrDefault(c => c.Id == id) ?? throw new FormatException($"scan refers to unknown component {id}.");
                if (scan.Take(i).Contains(scan[i]))
                {
                    throw new FormatException($"scan lists component {id} twice.");
                }

                scan[i].Quant ??= _quant[scan[i].QuantTable] ?? throw new FormatException($"quantization table {scan[i].QuantTable} is not defined.");
                scan[i].DcTable = s[2 + 2 * i] >> 4;
                scan[i].AcTable = s[2 + 2 * i] & 15;
                if (scan[i].DcTable > 3 || scan[i].AcTable > 3)
                {
                    throw new FormatException("scan uses a Huffman table id above 3.");
                }
            }

            int ss = s[1 + 2 * count], se = s[2 + 2 * count], ah = s[3 + 2 * count] >> 4, al = s[3 + 2 * count] & 15;
            if (!_progressive)
            {
                ss = 0;
                se = 63;
                ah = al = 0;
            }
            else if (ss > se || se > 63 || (ss == 0) != (se == 0) || (ss > 0 && count != 1) || al > 13 || (ah != 0 && al != ah - 1))
            {
                // jdphuff.c start_pass_phuff_decoder refuses the same (JERR_BAD_PROGRESSION).
                throw new FormatException($"invalid progressive scan parameters Ss={ss} Se={se} Ah={ah} Al={al}.");
            }

            if (_progressive)
            {
                foreach (var c in scan)
                {
                    // jdphuff.c start_pass_phuff_decoder: coefficients min(Ss, 1) to max(Se, 9) keep their previous state.
                    for (int k = ss == 0 ? 0 : 1; k < 10; k++)
                    {
                        c.PrevCoefBits[k] = _scans > 1 ? c.CoefBits[k] : 0;
                    }

                    for (int k = ss; k <= Math.Min(se, 9); k++)
                    {
                        c.CoefBits[k] = al;
                    }
                }
            }

            // jdinput.c per_scan_setup: an interleaved MCU holds at most 10 blocks (JERR_BAD_MCU_SIZE).
            if (count > 1 && scan.Sum(c => c.H * c.V) > 10)
            {
                throw new FormatException($"an interleaved MCU of {scan.Sum(c => c.H * c.V)} blocks (at most 10).");
            }

            bool decodesDc = ss == 0 && ah == 0, decodesAc = !_progressive || ss > 0;
            foreach (var c in scan)
            {
                if (decodesDc && (_dc[c.DcTable] ?? throw new FormatException($"DC Huffman table {c.DcTable} is not defined.")).MaxSymbol > 15)
                {
                    // jdhuff.c jpeg_make_d_derived_tbl: a DC symbol is a magnitude category, at most 15.
                    throw new FormatException($"DC Huffman table {c.DcTable} has a symbol above 15.");
                }

                if (decodesAc && _ac[c.AcTable] is null)
                {
                    throw new FormatException($"AC Huffman table {c.AcTable} is not defined.");
                }
            }

            var remaining = data.Length - entropyStart;
            AllocateCoefficients(scan, decodesDc ? (_progressive ? 1 : 2) : 0, remaining);

            foreach (var c in _components)
            {
                c.DcPredictor = 0;
            }

            _eobRun = 0;
            var reader = new BitReader(data, entropyStart);
            int mcusPerLine, mcusPerColumn;
            if (count == 1)
            {
                // A non-interleaved scan covers only the component's own blocks, not the MCU padding.
                mcusPerLine = (scan[0].Width + 7) / 8;
                mcusPerColumn = (scan[0].Height + 7) / 8;
            }
            else
            {
                mcusPerLine = _mcusPerLine;
                mcusPerColumn = _mcusPerColumn;
            }

            int total = mcusPerLine * mcusPerColumn;
            int restart = 0;
            bool insufficient = false;
            for (int mcu = 0; mcu < total;)
            {
                if (_restartInterval > 0 && mcu > 0 && mcu % _restartInterval == 0)
                {
                    // A marker left in place by the resynchronisation keeps the state: the interval it ends is not decoded.
                    insufficient &= !reader.Restart(restart);
                    restart = (restart + 1) & 7;
                    foreach (var c in _components)
                    {
                        c.DcPredictor = 0;
                    }

                    _eobRun = 0;
                }

                if (insufficient)
                {
                    // libjpeg (jdhuff.c, jdphuff.c): once an MCU has read past the segment's data, the MCUs after it up to the
                    // next restart are not decoded; their coefficients stay as they are (zero, or an earlier scan's).
                    mcu = _restartInterval > 0 ? (int)Math.Min(total, (mcu / _restartInterval + 1L) * _restartInterval) : total;
                    continue;
                }

                if (_eobRun > 0)
                {
                    // Inside an end-of-band run of a (single-component) AC scan: a first scan changes nothing, a refinement
                    // only corrects coefficients that are already nonzero. Skip the run as a whole, up to the next restart.
                    int end = _restartInterval > 0 ? (int)Math.Min(total, (mcu / _restartInterval + 1L) * _restartInterval) : total;
                    int run = Math.Min(_eobRun, end - mcu);
                    _lastGoodImcuRow = (mcu + run - 1) / mcusPerLine / scan[0].V; // a run's scan has one component
                    if (ah > 0)
                    {
                        RefineRun(ref reader, scan[0], mcu, run, mcusPerLine, ss, se, al);
                    }

                    _eobRun -= run;
                    mcu += run;
                    insufficient = reader.OverrunBits > 0;
                    continue;
                }

                int row = mcu / mcusPerLine, col = mcu % mcusPerLine;
                _lastGoodImcuRow = count == 1 ? row / scan[0].V : row; // a single component's MCU is one block
                foreach (var c in scan)
                {
                    int hBlocks = count == 1 ? 1 : c.H, vBlocks = count == 1 ? 1 : c.V;
                    for (int v = 0; v < vBlocks; v++)
                    {
                        for (int h = 0; h < hBlocks; h++)
                        {
                            int blockRow = row * vBlocks + v, blockCol = col * hBlocks + h;
                            int blockIndex = blockRow * c.BlocksPerLine + blockCol;
                            DecodeBlock(ref reader, c, blockIndex, ss, se, ah, al);
                        }
                    }
                }

                mcu++;
                CheckOverrun(ref reader);
                insufficient = reader.OverrunBits > 0;
            }

            _overrunBits += reader.TotalOverrunBits;
            return reader.Position;
        }

        // libjpeg feeds zeros past a premature marker and only warns (PIL keeps the image); more than a few of them mean
        // the data is mostly missing, which we refuse rather than return a grey picture. Counted over the whole file, so
        // that neither many scans nor many restart intervals can each claim a fresh allowance.
        private void CheckOverrun(ref BitReader reader)
        {
            if (_overrunBits + reader.TotalOverrunBits > OverrunBudgetBits)
            {
                throw new FormatException("entropy-coded data ends early (truncated file).");
            }
        }

        // A component's coefficients are allocated by its first scan, which must decode every block's DC coefficient
        // (baseline: DC and at least an end-of-block code, two bits a block; progressive: its DC first scan, one bit a
        // block). The shortest Huffman code is one bit, so the bytes left in the file must hold at least that many bits
        // (less what may still be supplied as zeros): a header claiming a huge image backed by a few bytes is refused
        // before its memory is touched, and the memory kept is proportional to the data actually present.
        private void AllocateCoefficients(Component[] scan, int minBitsPerBlock, int bytesLeft)
        {
            if (minBitsPerBlock > 0)
            {
                long blocks = 0;
                foreach (var c in scan)
                {
                    blocks += scan.Length == 1 ? (long)((c.Width + 7) / 8) * ((c.Height + 7) / 8) : (long)_mcusPerLine * _mcusPerColumn * c.H * c.V;
                }

                if (blocks * minBitsPerBlock > 8L * bytesLeft + OverrunBudgetBits - _overrunBits)
                {
                    throw new FormatException($"{bytesLeft} bytes of entropy-coded data cannot hold the {blocks} blocks of a {_width}x{_height} scan (truncated or forged size).");
                }
            }

            foreach (var c in scan)
            {
                if (c.Coefficients.Length > 0)
                {
                    continue;
                }

                if (minBitsPerBlock == 0)
                {
                    // T.81 G.1.1.1.1: a component's DC coefficients are coded before any of its AC coefficients.
                    throw new FormatException($"component {c.Id}'s first scan is not a DC first scan (invalid progression).");
                }

                // Baseline blocks and progressive first scans write only nonzero coefficients, the masks only set bits.
                int blocks = c.BlocksPerLine * c.BlocksPerColumn;
                c.Coefficients = Rent<short>(blocks * 64, clear: true);
                if (_progressive)
                {
                    c.AcMasks = Rent<ulong>(blocks, clear: true);
                    c.BlocksWithAc = Rent<ulong>((blocks + 63) / 64, clear: true);
                }
            }
        }

        // `run` whole blocks (MCUs of a single-component scan) of an end-of-band run in an AC refinement scan: one correction
        // bit for each coefficient of the band that is already nonzero, in zig-zag order per block, as decode_mcu_AC_refine
        // reads them. Blocks without any nonzero AC coefficient are skipped a 64-block word at a time.
        private void RefineRun(ref BitReader reader, Component c, int mcu, int run, int mcusPerLine, int ss, int se, int al)
        {
            int p1 = 1 << al, m1 = -1 << al;
            ulong band = (se == 63 ? ulong.MaxValue : (1UL << (se + 1)) - 1) & ~((1UL << ss) - 1);
            if ((c.AnyAc & band) == 0)
            {
                return;
            }

            ulong[] masks = c.AcMasks;
            while (run > 0)
            {
                int row = mcu / mcusPerLine, col = mcu % mcusPerLine;
                int span = Math.Min(run, mcusPerLine - col);
                int first = row * c.BlocksPerLine + col, last = first + span - 1;
                for (int word = first >> 6; word <= last >> 6; word++)
                {
                    ulong bits = c.BlocksWithAc[word];
                    if (word == first >> 6)
                    {
                        bits &= ulong.MaxValue << (first & 63);
                    }

                    if (word == last >> 6)
                    {
                        bits &= ulong.MaxValue >> (63 - (last & 63));
                    }

                    for (; bits != 0; bits &= bits - 1)
                    {
                        int blockIndex = (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                        ulong nonzero = masks[blockIndex] & band;
                        if (nonzero == 0)
                        {
                            continue;
                        }

                        var block = c.Coefficients.AsSpan(blockIndex * 64, 64);
                        for (; nonzero != 0; nonzero &= nonzero - 1)
                        {
                            int z = NaturalOrder[System.Numerics.BitOperations.TrailingZeroCount(nonzero)];
                            if (reader.ReadBit() != 0 && (block[z] & p1) == 0)
                            {
                                block[z] += (short)(block[z] >= 0 ? p1 : m1);
                            }
                        }

                        CheckOverrun(ref reader);
                    }
                }

                mcu += span;
                run -= span;
            }
        }

        private void DecodeBlock(ref BitReader reader, Component c, int blockIndex, int ss, int se, int ah, int al)
        {
            var block = c.Coefficients.AsSpan(blockIndex * 64, 64);
            if (!_progressive)
            {
                var dc = _dc[c.DcTable]!;
                var ac = _ac[c.AcTable]!;
                int t = reader.Decode(dc);
                c.DcPredictor += reader.ReceiveExtend(t);
                block[0] = (short)c.DcPredictor;
                for (int k = 1; k < 64; k++)
                {
                    int rs = reader.Decode(ac);
                    int r = rs >> 4, size = rs & 15;
                    if (size != 0)
                    {
                        k += r;
                        block[NaturalOrder[k]] = (short)reader.ReceiveExtend(size);
                    }
                    else
                    {
                        if (r != 15)
                        {
                            break;
                        }

                        k += 15;
                    }
                }

                return;
            }

            if (ss == 0)
            {
                if (ah == 0)
                {
                    var dc = _dc[c.DcTable]!;
                    int t = reader.Decode(dc);
                    c.DcPredictor += reader.ReceiveExtend(t);
                    block[0] = (short)(c.DcPredictor << al);
                }
                else if (reader.ReadBit() != 0)
                {
                    block[0] |= (short)(1 << al);
                }

                return;
            }

            // Whole blocks inside an end-of-band run never get here: the scan loop skips them (RefineRun for refinements).
            var table = _ac[c.AcTable]!;
            if (ah == 0)
            {
                for (int k = ss; k <= se; k++)
                {
                    int rs = reader.Decode(table);
                    int r = rs >> 4, size = rs & 15;
                    if (size != 0)
                    {
                        k += r;
                        int z = NaturalOrder[k];
                        block[z] = (short)(reader.ReceiveExtend(size) * (1 << al));
                        c.SetAc(blockIndex, z, block[z]);
                    }
                    else if (r == 15)
                    {
                        k += 15;
                    }
                    else
                    {
                        _eobRun = (1 << r) - 1;
                        if (r > 0)
                        {
                            _eobRun += reader.ReadBits(r);
                        }

                        break;
                    }
                }

                return;
            }

            RefineAc(ref reader, table, c, blockIndex, block, ss, se, al);
        }

        // jdphuff.c decode_mcu_AC_refine: correction bits for nonzero coefficients, new ±1 coefficients, EOB runs. A
        // correction moves a coefficient away from zero, so only new coefficients change the nonzero masks.
        private void RefineAc(ref BitReader reader, HuffmanTable table, Component c, int blockIndex, Span<short> block, int ss, int se, int al)
        {
            int p1 = 1 << al, m1 = -1 << al;
            int k = ss;
            if (_eobRun == 0)
            {
                for (; k <= se; k++)
                {
                    int rs = reader.Decode(table);
                    int r = rs >> 4, s = rs & 15;
                    if (s != 0)
                    {
                        s = reader.ReadBit() != 0 ? p1 : m1;
                    }
                    else if (r != 15)
                    {
                        _eobRun = 1 << r;
                        if (r > 0)
                        {
                            _eobRun += reader.ReadBits(r);
                        }

                        break;
                    }

                    do
                    {
                        int z = NaturalOrder[k];
                        if (block[z] != 0)
                        {
                            if (reader.ReadBit() != 0 && (block[z] & p1) == 0)
                            {
                                block[z] += (short)(block[z] >= 0 ? p1 : m1);
                            }
                        }
                        else
                        {
                            if (--r < 0)
                            {
                                break;
                            }
                        }

                        k++;
                    }
                    while (k <= se);

                    if (s != 0)
                    {
                        block[NaturalOrder[k]] = (short)s;
                        c.SetAc(blockIndex, NaturalOrder[k], (short)s);
                    }
                }
            }

            if (_eobRun > 0)
            {
                for (; k <= se; k++)
                {
                    int z = NaturalOrder[k];
                    if (block[z] != 0 && reader.ReadBit() != 0 && (block[z] & p1) == 0)
                    {
                        block[z] += (short)(block[z] >= 0 ? p1 : m1);
                    }
                }

                _eobRun--;
            }
        }

        private RgbImage Output()
        {
            // Planes and upsampled planes are rented; the slots stay empty until rented, so the finally returns only those.
            var planes = new byte[_components.Length][];
            var full = new byte[_components.Length][];
            Array.Fill(planes, Array.Empty<byte>());
            Array.Fill(full, Array.Empty<byte>());
            try
            {
                return Output(planes, full);
            }
            finally
            {
                for (int i = 0; i < planes.Length; i++)
                {
                    Return(ref planes[i]);
                    Return(ref full[i]);
                }
            }
        }

        private RgbImage Output(byte[][] planes, byte[][] full)
        {
            // IDCT every block into a padded plane per component, whose every sample the IDCT writes.
            var strides = new int[_components.Length];
            Span<int> workspace = stackalloc int[64];
            foreach (var c in _components)
            {
                if (c.Coefficients.Length == 0 || c.Quant is null)
                {
                    throw new FormatException($"component {c.Id} has no scan (truncated file).");
                }
            }

            bool smoothing = BlockSmoothingApplies();
            for (int i = 0; i < _components.Length; i++)
            {
                var c = _components[i];
                var quant = c.Quant!;
                int stride = c.BlocksPerLine * 8;
                var plane = planes[i] = Rent<byte>(stride * c.BlocksPerColumn * 8, clear: false);
                int smoothedRows = smoothing ? (c.Height + 7) / 8 : 0;
                if (smoothing)
                {
                    Smooth(c, plane, stride, workspace);
                }

                for (int by = smoothedRows; by < c.BlocksPerColumn; by++)
                {
                    for (int bx = 0; bx < c.BlocksPerLine; bx++)
                    {
                        JpegIdct.Transform(c.Coefficients.AsSpan((by * c.BlocksPerLine + bx) * 64, 64), quant,
                            plane.AsSpan(by * 8 * stride + bx * 8), stride, workspace);
                    }
                }

                strides[i] = stride;
                c.ReturnBuffers();
            }

            int count = _width * _height;
            var pixels = new byte[count * 3];
            if (_components.Length == 1)
            {
                for (int y = 0; y < _height; y++)
                {
                    for (int x = 0; x < _width; x++)
                    {
                        byte v = planes[0][y * strides[0] + x];
                        int o = (y * _width + x) * 3;
                        pixels[o] = pixels[o + 1] = pixels[o + 2] = v;
                    }
                }

                return new RgbImage(_width, _height, pixels);
            }

            for (int i = 0; i < 3; i++)
            {
                full[i] = Rent<byte>(count, clear: false);
                JpegUpsampler.Upsample(planes[i], strides[i], _components[i], _hMax / _components[i].H, _vMax / _components[i].V, _width, _height, full[i]);
            }

            if (IsRgb())
            {
                for (int p = 0; p < count; p++)
                {
                    pixels[p * 3] = full[0][p];
                    pixels[p * 3 + 1] = full[1][p];
                    pixels[p * 3 + 2] = full[2][p];
                }
            }
            else
            {
                JpegColor.YccToRgb(full[0], full[1], full[2], count, pixels);
            }

            return new RgbImage(_width, _height, pixels);
        }

        // libjpeg's smoothing_ok (jdcoefct.c, libjpeg-turbo 2.1), with the file read to its end as PIL reads it: a progressive
        // image whose scans left any of the first nine AC coefficients of any component short of full precision, every
        // component's DC at least partly sent, and no zero among the quantizers the estimates divide by.
        private bool BlockSmoothingApplies()
        {
            if (!_progressive)
            {
                return false;
            }

            bool useful = false;
            foreach (var c in _components)
            {
                var q = c.Quant!;
                if (q[0] == 0 || q[1] == 0 || q[8] == 0 || q[16] == 0 || q[9] == 0 || q[2] == 0 || q[3] == 0 || q[10] == 0 || q[17] == 0
                    || q[24] == 0 || c.CoefBits[0] < 0)
                {
                    return false;
                }

                for (int k = 1; k < 10; k++)
                {
                    useful |= c.CoefBits[k] != 0;
                }
            }

            return useful;
        }

        // libjpeg's decompress_smooth_data for one component: every block of the image (the MCU padding is transformed as
        // is) gets estimates for the coefficients among its first nine AC that are still zero and not known to be exact,
        // from the DC values of the 5 x 5 blocks around it; with no AC data at all, the DC is re-estimated too. The estimates
        // go into a copy of the block, so every estimate reads the decoded DC values. Rows above and below the image repeat
        // the nearest row as libjpeg picks it (by iMCU row, so near the bottom a row two below can repeat the row one below),
        // columns the nearest column.
        private void Smooth(Component c, byte[] plane, int stride, Span<int> workspace)
        {
            int widthInBlocks = (c.Width + 7) / 8, heightInBlocks = (c.Height + 7) / 8, v = c.V;
            int lastImcuRow = (_height + 8 * _vMax - 1) / (8 * _vMax) - 1;
            // Rows past where the last scan's data ran out use the state from before each component's latest scan, or none
            // in a file of one scan (decompress_smooth_data, smoothing_ok).
            int[] previous = _scans > 1 ? c.PrevCoefBits : [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1];
            static bool NoAcSent(int[] bits)
            {
                for (int k = 1; k < 10; k++)
                {
                    if (bits[k] != -1)
                    {
                        return false;
                    }
                }

                return true;
            }

            var q = c.Quant!;
            long q00 = q[0], q01 = q[1], q10 = q[8], q20 = q[16], q11 = q[9], q02 = q[2], q03 = q[3], q12 = q[10], q21 = q[17], q30 = q[24];
            short[] coefficients = c.Coefficients;
            int perRow = c.BlocksPerLine * 64;
            Span<short> block = stackalloc short[64];
            for (int r = 0; r < heightInBlocks; r++)
            {
                int m = r / v, br = r % v;
                int[] bits = m > _lastGoodImcuRow ? previous : c.CoefBits;
                bool changeDc = NoAcSent(bits); // no AC data at all: the DC is estimated too
                int blockRows = m < lastImcuRow || heightInBlocks % v == 0 ? v : heightInBlocks % v;
                int prev = br > 0 || m > 0 ? r - 1 : r;
                int prevPrev = br > 1 || m > 1 ? r - 2 : prev;
                int next = br < blockRows - 1 || m < lastImcuRow ? r + 1 : r;
                int nextNext = br < blockRows - 2 || m + 1 < lastImcuRow ? r + 2 : next;
                int rowPP = prevPrev * perRow, rowP = prev * perRow, row = r * perRow, rowN = next * perRow, rowNN = nextNext * perRow;

                // The sliding registers DC01-DC25 (five per row, columns b-2 ... b+2), started as libjpeg starts them.
                int dc01, dc02, dc03, dc04, dc05, dc06, dc07, dc08, dc09, dc10, dc11, dc12, dc13, dc14, dc15;
                int dc16, dc17, dc18, dc19, dc20, dc21, dc22, dc23, dc24, dc25;
                dc01 = dc02 = dc03 = dc04 = dc05 = coefficients[rowPP];
                dc06 = dc07 = dc08 = dc09 = dc10 = coefficients[rowP];
                dc11 = dc12 = dc13 = dc14 = dc15 = coefficients[row];
                dc16 = dc17 = dc18 = dc19 = dc20 = coefficients[rowN];
                dc21 = dc22 = dc23 = dc24 = dc25 = coefficients[rowNN];
                int last = widthInBlocks - 1;
                for (int b = 0; b <= last; b++)
                {
                    if (b == 0 && b < last)
                    {
                        dc04 = coefficients[rowPP + 64];
                        dc09 = coefficients[rowP + 64];
                        dc14 = coefficients[row + 64];
                        dc19 = coefficients[rowN + 64];
                        dc24 = coefficients[rowNN + 64];
                    }

                    if (b + 1 < last)
                    {
                        int at = (b + 2) * 64;
                        dc05 = coefficients[rowPP + at];
                        dc10 = coefficients[rowP + at];
                        dc15 = coefficients[row + at];
                        dc20 = coefficients[rowN + at];
                        dc25 = coefficients[rowNN + at];
                    }

                    coefficients.AsSpan(row + b * 64, 64).CopyTo(block);
                    Estimate(block, 1, bits[1], q01, q00 * (changeDc
                        ? -dc01 - dc02 + dc04 + dc05 - 3 * dc06 + 13 * dc07 - 13 * dc09 + 3 * dc10 - 3 * dc11 + 38 * dc12 - 38 * dc14
                          + 3 * dc15 - 3 * dc16 + 13 * dc17 - 13 * dc19 + 3 * dc20 - dc21 - dc22 + dc24 + dc25
                        : -7 * dc11 + 50 * dc12 - 50 * dc14 + 7 * dc15));
                    Estimate(block, 8, bits[2], q10, q00 * (changeDc
                        ? -dc01 - 3 * dc02 - 3 * dc03 - 3 * dc04 - dc05 - dc06 + 13 * dc07 + 38 * dc08 + 13 * dc09 - dc10 + dc16
                          - 13 * dc17 - 38 * dc18 - 13 * dc19 + dc20 + dc21 + 3 * dc22 + 3 * dc23 + 3 * dc24 + dc25
                        : -7 * dc03 + 50 * dc08 - 50 * dc18 + 7 * dc23));
                    Estimate(block, 16, bits[3], q20, q00 * (changeDc
                        ? dc03 + 2 * dc07 + 7 * dc08 + 2 * dc09 - 5 * dc12 - 14 * dc13 - 5 * dc14 + 2 * dc17 + 7 * dc18 + 2 * dc19 + dc23
                        : -dc03 + 13 * dc08 - 24 * dc13 + 13 * dc18 - dc23));
                    Estimate(block, 9, bits[4], q11, q00 * (changeDc
                        ? -dc01 + dc05 + 9 * dc07 - 9 * dc09 - 9 * dc17 + 9 * dc19 + dc21 - dc25
                        : dc10 + dc16 - 10 * dc17 + 10 * dc19 - dc02 - dc20 + dc22 - dc24 + dc04 - dc06 + 10 * dc07 - 10 * dc09));
                    Estimate(block, 2, bits[5], q02, q00 * (changeDc
                        ? 2 * dc07 - 5 * dc08 + 2 * dc09 + dc11 + 7 * dc12 - 14 * dc13 + 7 * dc14 + dc15 + 2 * dc17 - 5 * dc18 + 2 * dc19
                        : -dc11 + 13 * dc12 - 24 * dc13 + 13 * dc14 - dc15));
                    if (changeDc)
                    {
                        Estimate(block, 3, bits[6], q03, q00 * (dc07 - dc09 + 2 * dc12 - 2 * dc14 + dc17 - dc19));
                        Estimate(block, 10, bits[7], q12, q00 * (dc07 - 3 * dc08 + dc09 - dc17 + 3 * dc18 - dc19));
                        Estimate(block, 17, bits[8], q21, q00 * (dc07 - dc09 - 3 * dc12 + 3 * dc14 + dc17 - dc19));
                        Estimate(block, 24, bits[9], q30, q00 * (dc07 + 2 * dc08 + dc09 - dc17 - 2 * dc18 - dc19));
                        long num = q00 * (-2 * dc01 - 6 * dc02 - 8 * dc03 - 6 * dc04 - 2 * dc05 - 6 * dc06 + 6 * dc07 + 42 * dc08 + 6 * dc09
                            - 6 * dc10 - 8 * dc11 + 42 * dc12 + 152 * dc13 + 42 * dc14 - 8 * dc15 - 6 * dc16 + 6 * dc17 + 42 * dc18
                            + 6 * dc19 - 6 * dc20 - 2 * dc21 - 6 * dc22 - 8 * dc23 - 6 * dc24 - 2 * dc25);
                        block[0] = unchecked((short)(num >= 0 ? (int)(((q00 << 7) + num) / (q00 << 8)) : -(int)(((q00 << 7) - num) / (q00 << 8))));
                    }

                    JpegIdct.Transform(block, q, plane.AsSpan(r * 8 * stride + b * 8), stride, workspace);
                    dc01 = dc02; dc02 = dc03; dc03 = dc04; dc04 = dc05;
                    dc06 = dc07; dc07 = dc08; dc08 = dc09; dc09 = dc10;
                    dc11 = dc12; dc12 = dc13; dc13 = dc14; dc14 = dc15;
                    dc16 = dc17; dc17 = dc18; dc18 = dc19; dc19 = dc20;
                    dc21 = dc22; dc22 = dc23; dc23 = dc24; dc24 = dc25;
                }

                for (int b = widthInBlocks; b < c.BlocksPerLine; b++)
                {
                    JpegIdct.Transform(coefficients.AsSpan(row + b * 64, 64), q, plane.AsSpan(r * 8 * stride + b * 8), stride, workspace);
                }
            }
        }

        // One estimate of decompress_smooth_data: applied when the coefficient at natural position `at` is still zero and not
        // known exactly (al, its coef_bits, is not 0); rounded half away from zero by truncating division, then held below
        // 2^al when al > 0, as the bits still to come could add no more.
        private static void Estimate(Span<short> block, int at, int al, long quantizer, long num)
        {
            if (al == 0 || block[at] != 0)
            {
                return;
            }

            int pred = (int)((((quantizer << 7) + Math.Abs(num))) / (quantizer << 8));
            if (al > 0 && pred >= 1 << al)
            {
                pred = (1 << al) - 1;
            }

            block[at] = unchecked((short)(num >= 0 ? pred : -pred));
        }

        // libjpeg's default_decompress_parms colour-space guess for three components.
        private bool IsRgb()
        {
            if (_sawJfif)
            {
                return false;
            }

            if (_sawAdobe)
            {
                return _adobeTransform == 0;
            }

            return _components[0].Id == 'R' && _components[1].Id == 'G' && _components[2].Id == 'B';
        }
    }

    private static byte[] BuildZigZag()
    {
        var zigZag = new byte[64];
        for (int k = 0; k < 64; k++)
        {
            zigZag[NaturalOrder[k]] = (byte)k;
        }

        return zigZag;
    }

    private static class JpegUpsampler
    {
        // Writes the component at full resolution to output[0 .. width·height).
        public static void Upsample(byte[] plane, int stride, Component c, int hRatio, int vRatio, int width, int height, byte[] output)
        {
            int cw = c.Width, ch = c.Height;
            if (hRatio == 1 && vRatio == 1)
            {
                for (int y = 0; y < height; y++)
                {
                    plane.AsSpan(y * stride, width).CopyTo(output.AsSpan(y * width));
                }

                return;
            }

            bool fancyH = hRatio == 2 && cw > 2;
            if (hRatio == 2 && vRatio == 1 && fancyH)
            {
                var row = Rent<byte>(2 * cw, clear: false);
                for (int y = 0; y < height; y++)
                {
                    H2Fancy(plane.AsSpan(y * stride, cw), row);
                    row.AsSpan(0, width).CopyTo(output.AsSpan(y * width));
                }

                DecodeBuffers<byte>.Pool.Return(row);
                return;
            }

            if (hRatio == 1 && vRatio == 2)
            {
                for (int y = 0; y < height; y++)
                {
                    var (near, far, bias) = VerticalNeighbours(y, ch);
                    var o = output.AsSpan(y * width, width);
                    for (int x = 0; x < width; x++)
                    {
                        o[x] = (byte)((plane[near * stride + x] * 3 + plane[far * stride + x] + bias) >> 2);
                    }
                }

                return;
            }

            if (hRatio == 2 && vRatio == 2 && fancyH)
            {
                var sums = Rent<int>(cw, clear: false);
                var rowBuffer = Rent<byte>(2 * cw, clear: false);
                for (int y = 0; y < height; y++)
                {
                    var (near, far, _) = VerticalNeighbours(y, ch);
                    for (int x = 0; x < cw; x++)
                    {
                        sums[x] = plane[near * stride + x] * 3 + plane[far * stride + x];
                    }

                    // Columns 2i and 2i+1 of the row: 3/4 of column i's vertical sum plus 1/4 of its left / right neighbour.
                    var row = rowBuffer.AsSpan(0, 2 * cw);
                    row[0] = (byte)((sums[0] * 4 + 8) >> 4);
                    row[1] = (byte)((sums[0] * 3 + sums[1] + 7) >> 4);
                    for (int i = 1; i < cw - 1; i++)
                    {
                        int nearest = sums[i] * 3;
                        row[2 * i] = (byte)((nearest + sums[i - 1] + 8) >> 4);
                        row[2 * i + 1] = (byte)((nearest + sums[i + 1] + 7) >> 4);
                    }

                    row[2 * cw - 2] = (byte)((sums[cw - 1] * 3 + sums[cw - 2] + 8) >> 4);
                    row[2 * cw - 1] = (byte)((sums[cw - 1] * 4 + 7) >> 4);
                    row[..width].CopyTo(output.AsSpan(y * width, width));
                }

                DecodeBuffers<int>.Pool.Return(sums);
                DecodeBuffers<byte>.Pool.Return(rowBuffer);
                return;
            }

            // Any other integral ratio (and 2x with a component 1-2 samples wide): libjpeg replicates (box filter).
            for (int y = 0; y < height; y++)
            {
                int sy = y / vRatio;
                for (int x = 0; x < width; x++)
                {
                    output[y * width + x] = plane[sy * stride + x / hRatio];
                }
            }
        }

        // h1v2/h2v2 fancy: output row y sits between component rows; 3/4 of the nearer, 1/4 of the next nearer
        // (the row above for even y, below for odd y), edges replicated. The rounding bias is 1 above, 2 below.
        private static (int Near, int Far, int Bias) VerticalNeighbours(int y, int componentHeight)
        {
            int near = Math.Min(y >> 1, componentHeight - 1);
            bool upper = (y & 1) == 0;
            int far = Math.Clamp(upper ? near - 1 : near + 1, 0, componentHeight - 1);
            return (near, far, upper ? 1 : 2);
        }

        private static void H2Fancy(ReadOnlySpan<byte> input, Span<byte> output)
        {
            int w = input.Length;
            output[0] = input[0];
            output[1] = (byte)((input[0] * 3 + input[1] + 2) >> 2);
            for (int i = 1; i < w - 1; i++)
            {
                int v = input[i] * 3;
                output[2 * i] = (byte)((v + input[i - 1] + 1) >> 2);
                output[2 * i + 1] = (byte)((v + input[i + 1] + 2) >> 2);
            }

            output[2 * w - 2] = (byte)((input[w - 1] * 3 + input[w - 2] + 1) >> 2);
            output[2 * w - 1] = input[w - 1];
        }
    }

    private static class JpegColor
    {
        private const int ScaleBits = 16;
        private const int OneHalf = 1 << (ScaleBits - 1);
        private static readonly int[] CrR = new int[256];
        private static readonly int[] CbB = new int[256];
        private static readonly int[] CrG = new int[256];
        private static readonly int[] CbG = new int[256];

        static JpegColor()
        {
            // jdcolor.c build_ycc_rgb_table, FIX(x) = (int)(x·2^16 + 0.5).
            for (int i = 0, x = -128; i < 256; i++, x++)
            {
                CrR[i] = (Fix(1.40200) * x + OneHalf) >> ScaleBits;
                CbB[i] = (Fix(1.77200) * x + OneHalf) >> ScaleBits;
                CrG[i] = -Fix(0.71414) * x;
                CbG[i] = -Fix(0.34414) * x + OneHalf;
            }
        }

        // libjpeg's sample_range_limit: clamps [-384, 639] to [0, 255] by lookup (indices offset by 384).
        private static readonly byte[] Limit = Enumerable.Range(-384, 1024).Select(v => (byte)Math.Clamp(v, 0, 255)).ToArray();

        // The first `count` samples of the three planes → count RGB pixels.
        public static void YccToRgb(byte[] y, byte[] cb, byte[] cr, int count, byte[] rgb)
        {
            var limit = Limit;
            for (int p = 0, o = 0; p < count; p++, o += 3)
            {
                int luma = y[p] + 384, b = cb[p], r = cr[p];
                rgb[o] = limit[luma + CrR[r]];
                rgb[o + 1] = limit[luma + ((CbG[b] + CrG[r]) >> ScaleBits)];
                rgb[o + 2] = limit[luma + CbB[b]];
            }
        }

        private static int Fix(double x) => (int)(x * (1 << ScaleBits) + 0.5);
    }
}
