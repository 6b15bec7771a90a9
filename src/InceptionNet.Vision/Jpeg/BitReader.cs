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
                throw new FormatException("corrupt entropy-coded data (invalid Huffman code).");
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

    /// <summary>Discards buffered bits and moves past the restart marker that must come next.</summary>
    public void Restart(int expected)
    {
        _overrunBeforeRestart += OverrunBits;
        _buffer = 0;
        _bits = 0;
        PaddingBits = 0;
        while (_position + 1 < _data.Length && !(_data[_position] == 0xFF && _data[_position + 1] is >= 0xD0 and <= 0xD7))
        {
            _position++;
        }

        if (_position + 1 >= _data.Length || _data[_position + 1] != 0xD0 + expected)
        {
            throw new FormatException($"expected restart marker RST{expected}, found {(_position + 1 < _data.Length ? $"0x{_data[_position + 1]:X2}" : "the end of the file")}.");
        }

        _position += 2;
    }
}
