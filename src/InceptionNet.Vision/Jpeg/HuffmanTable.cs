namespace InceptionNet.Vision.Jpeg;

/// <summary>A canonical Huffman table from a DHT segment, with a 9-bit lookup for short codes.</summary>
internal sealed class HuffmanTable
{
    public const int LookupBits = 9;

    // For codes of length ≤ LookupBits: (length << 8) | symbol, or 0 when the prefix needs the slow path.
    public readonly ushort[] Lookup = new ushort[1 << LookupBits];

    // maxCode[l]: largest code of length l (−1 if none); valOffset[l]: index of that length's first symbol minus its first code.
    public readonly int[] MaxCode = new int[18];
    public readonly int[] ValOffset = new int[17];
    public readonly byte[] Symbols;

    /// <summary>The largest symbol (0 for an empty table).</summary>
    public int MaxSymbol => Symbols.Length > 0 ? Symbols.Max() : 0;

    public HuffmanTable(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> symbols)
    {
        Symbols = symbols.ToArray();
        int code = 0, index = 0;
        for (int length = 1; length <= 16; length++)
        {
            int count = counts[length - 1];
            ValOffset[length] = index - code;
            if (count > 0 && code + count >= 1 << length)
            {
                // jdhuff.c jpeg_make_d_derived_tbl: JERR_BAD_HUFF_TABLE (an all-ones code is not allowed either). Checked
                // before filling the lookup, which an over-full length would overrun.
                throw new FormatException("Huffman table has more codes than its lengths allow.");
            }

            for (int i = 0; i < count; i++, index++, code++)
            {
                if (length <= LookupBits)
                {
                    int shift = LookupBits - length;
                    for (int fill = 0; fill < 1 << shift; fill++)
                    {
                        Lookup[(code << shift) | fill] = (ushort)((length << 8) | Symbols[index]);
                    }
                }
            }

            MaxCode[length] = count > 0 ? code - 1 : -1;
            code <<= 1;
        }

        MaxCode[17] = int.MaxValue;
    }
}
