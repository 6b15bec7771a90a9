namespace InceptionNet.Vision.Jpeg;

/// <summary>Reads entropy-coded bits, removing 0xFF00 stuffing; stops at markers (feeding zeros, as libjpeg does, and counting them).</summary>
internal ref struct BitReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;
    private ulong _buffer;
    private int _bits;
    private int _overrunBeforeRestart;

    public BitReader(ReadOnlySpan<byte> data, int position)
    {
        _data = data;
        _position = position;
        _buffer = 0;
        _bits = 0;
        _overrunBeforeRestart = 0;
        PaddingBits = 0;
    }

    /// <summary>Byte position of the next unread byte (after the bits buffered so far).</summary>
    public readonly int Position => _position;

    /// <summary>Zero bits supplied past the end of the segment (read ahead, not necessarily consumed).</summary>
    public int PaddingBits { get; private set; }

    /// <summary>Zero bits actually consumed past the end of the segment; libjpeg supplies them with a warning.</summary>
    public readonly int OverrunBits => Math.Max(0, PaddingBits - _bits);

    /// <summary>Zero bits consumed past the ends of all the restart intervals read so far, this one included.</summary>
    public readonly int TotalOverrunBits => _overrunBeforeRestart + OverrunBits;

    private void Fill()
    {
        while (_bits <= 56)
        {
            byte b = 0;
            if (_position < _data.Length)
            {
                b = _data[_position];
                if (b == 0xFF)
                {
                    byte next = _position + 1 < _data.Length ? _data[_position + 1] : (byte)0xD9;
                    if (next == 0x00)
                    {
                        _position += 2;
                    }
                    else
                    {
                        b = 0; // a marker: supply zeros and stay on it
                        PaddingBits += 8;
                    }
                }
                else
                {
                    _position++;
                }
            }
            else
            {
                PaddingBits += 8;
            }

            _buffer |= (ulong)b << (56 - _bits);
            _bits += 8;
        }
    }

    public int ReadBit()
    {
        if (_bits < 1)
        {
            Fill();
        }

        int bit = (int)(_buffer >> 63);
        _buffer <<= 1;
        _bits--;
        return bit;
    }

    public int ReadBits(int count)
    {
        if (count == 0)
        {
            return 0;
        }

        if (_bits < count)
        {
            Fill();
        }

        int value = (int)(_buffer >> (64 - count));
        _buffer <<= count;
        _bits -= count;
        return value;
    }

    /// <summary>Decodes one Huffman symbol.</summary>
    public int Decode(HuffmanTable table)
    {
        if (_bits < 16)
        {
            Fill();
        }

        int entry = table.Lookup[(int)(_buffer >> (64 - HuffmanTable.LookupBits))];
        if (entry != 0)
        {
            int length = entry >> 8;
            _buffer <<= length;
            _bits -= length;
            return entry & 0xFF;
        }

        int code = (int)(_buffer >> (64 - HuffmanTable.LookupBits));
        int l = HuffmanTable.LookupBits;
        while (code > table.MaxCode[l])
        {
            l++;
            if (l > 16)
            {
                // No code of 16 bits or fewer: libjpeg (jpeg_huff_decode, and HUFF_DECODE_FAST) has taken 17 bits by then,
                // warns, and decodes a zero, "the safest result". The 17th bit may not be buffered yet (16 were enough
                // above); reading it from the data keeps a code at a segment's real end from counting as read past it.
                if (_bits < 17)
                {
                    Fill();
                }

                _buffer <<= 17;
                _bits -= 17;
                return 0;
            }

            code = (int)(_buffer >> (64 - l));
        }

        _buffer <<= l;
        _bits -= l;
        int index = code + table.ValOffset[l];
        if ((uint)index >= (uint)table.Symbols.Length)
        {
            throw new FormatException("corrupt entropy-coded data (Huffman code outside the table).");
        }

        return table.Symbols[index];
    }

    /// <summary>HUFF_EXTEND: the signed value of an s-bit magnitude category.</summary>
    public int ReceiveExtend(int s)
    {
        if (s == 0)
        {
            return 0;
        }

        int value = ReadBits(s);
        return value < 1 << (s - 1) ? value - (1 << s) + 1 : value;
    }

    /// <summary>
    /// Moves to the restart marker RST<paramref name="expected"/> that ends the current interval, as libjpeg does
    /// (jdmarker.c read_restart_marker and jpeg_resync_to_restart): past any stray bytes to the next marker; the expected
    /// one is taken. Any other marker is resynchronised on: a marker that is not a restart, or one of the next two restarts,
    /// is left where it is (the interval it ends reads as empty: its first MCU gets zeros, the rest is skipped); one of the
    /// two restarts before is passed over and the next marker judged again; any other restart is taken in place of the
    /// expected one. Returns whether a marker was taken (libjpeg then clears its insufficient-data state; a marker left in
    /// place keeps it).
    /// </summary>
    /// <exception cref="FormatException">The data ends before another marker (a truncated file).</exception>
    public bool Restart(int expected)
    {
        _overrunBeforeRestart += OverrunBits;
        _buffer = 0;
        _bits = 0;
        PaddingBits = 0;
        while (true)
        {
            byte marker = NextMarker();
            int distance = (marker - 0xD0 - expected) & 7;
            bool restart = marker is >= 0xD0 and <= 0xD7;
            if (restart && (distance == 0 || distance is >= 3 and <= 5))
            {
                _position += 2; // the expected marker, or a restart too far off to judge: taken as the expected one
                return true;
            }

            if (marker >= 0xC0 && (!restart || distance is 1 or 2))
            {
                return false; // a real marker, or a restart still to come: stays for the interval it ends
            }

            _position += 2; // not a marker (below SOF0), or one of the two restarts before: look further
        }
    }

    // The restart search's next marker: its code, the position left on its 0xFF.
    private byte NextMarker()
    {
        int at = FindMarker(_data, _position);
        _position = at >= 0 ? at : _data.Length;
        return at >= 0 ? _data[at + 1]
            : throw new FormatException("the file ends inside the entropy-coded data, before a restart marker (truncated).");
    }

    /// <summary>
    /// libjpeg's next_marker: from <paramref name="from"/>, the position of the next 0xFF followed by neither 0x00 (a stuffed
    /// zero, discarded) nor 0xFF (fill), stray bytes skipped; −1 when the data ends first.
    /// </summary>
    public static int FindMarker(ReadOnlySpan<byte> data, int from)
    {
        int position = from;
        while (true)
        {
            while (position < data.Length && data[position] != 0xFF)
            {
                position++;
            }

            while (position + 1 < data.Length && data[position + 1] == 0xFF)
            {
                position++;
            }

            if (position + 1 >= data.Length)
            {
                return -1;
            }

            if (data[position + 1] != 0x00)
            {
                return position;
            }

            position += 2;
        }
    }
}
