namespace InceptionNet.Vision.Jpeg;

/// <summary>
/// libjpeg's "ISLOW" integer inverse DCT (jidctint.c, the default of libjpeg-turbo and therefore of PIL and OpenCV):
/// 13-bit fixed-point constants, 2 extra bits kept between the column and row passes, and the output range-limit
/// table indexed modulo 1024 exactly as libjpeg's. Dequantization happens inside, as in libjpeg. Arithmetic is 32-bit,
/// like libjpeg-turbo's SIMD IDCT that PIL and OpenCV run on x86: for any real JPEG nothing overflows, so this equals the
/// C code's 64-bit JLONG results; on hostile coefficients it wraps instead of failing.
/// </summary>
internal static class JpegIdct
{
    private const int ConstBits = 13;
    private const int Pass1Bits = 2;
    private const int Fix0_298631336 = 2446;
    private const int Fix0_390180644 = 3196;
    private const int Fix0_541196100 = 4433;
    private const int Fix0_765366865 = 6270;
    private const int Fix0_899976223 = 7373;
    private const int Fix1_175875602 = 9633;
    private const int Fix1_501321110 = 12299;
    private const int Fix1_847759065 = 15137;
    private const int Fix1_961570560 = 16069;
    private const int Fix2_053119869 = 16819;
    private const int Fix2_562915447 = 20995;
    private const int Fix3_072711026 = 25172;

    // libjpeg's IDCT range limit (prepare_range_limit_table, post-IDCT part): index = (x + 128 offset) & 1023.
    private static readonly byte[] RangeLimit = BuildRangeLimit();

    /// <summary>Inverse-transforms one block of coefficients (natural order) into 8×8 samples at <paramref name="output"/>.</summary>
    public static void Transform(ReadOnlySpan<short> coefficients, ReadOnlySpan<ushort> quant, Span<byte> output, int stride)
    {
        Span<int> workspace = stackalloc int[64];
        Transform(coefficients, quant, output, stride, workspace);
    }

    /// <summary>As above, with a caller-provided 64-int workspace.</summary>
    public static void Transform(ReadOnlySpan<short> coefficients, ReadOnlySpan<ushort> quant, Span<byte> output, int stride, Span<int> workspace)
    {
        unchecked
        {
        for (int col = 0; col < 8; col++)
        {
            if (coefficients[8 + col] == 0 && coefficients[16 + col] == 0 && coefficients[24 + col] == 0 && coefficients[32 + col] == 0
                && coefficients[40 + col] == 0 && coefficients[48 + col] == 0 && coefficients[56 + col] == 0)
            {
                int dc = (coefficients[col] * quant[col]) << Pass1Bits;
                for (int row = 0; row < 8; row++)
                {
                    workspace[row * 8 + col] = dc;
                }

                continue;
            }

            int z2 = coefficients[16 + col] * quant[16 + col];
            int z3 = coefficients[48 + col] * quant[48 + col];
            int z1 = (z2 + z3) * Fix0_541196100;
            int tmp2 = z1 + z3 * -Fix1_847759065;
            int tmp3 = z1 + z2 * Fix0_765366865;
            z2 = coefficients[col] * quant[col];
            z3 = coefficients[32 + col] * quant[32 + col];
            int tmp0 = (z2 + z3) << ConstBits;
            int tmp1 = (z2 - z3) << ConstBits;
            int tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

            tmp0 = coefficients[56 + col] * quant[56 + col];
            tmp1 = coefficients[40 + col] * quant[40 + col];
            tmp2 = coefficients[24 + col] * quant[24 + col];
            tmp3 = coefficients[8 + col] * quant[8 + col];
            Odd(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            const int shift = ConstBits - Pass1Bits;
            workspace[0 * 8 + col] = Descale(tmp10 + tmp3, shift);
            workspace[7 * 8 + col] = Descale(tmp10 - tmp3, shift);
            workspace[1 * 8 + col] = Descale(tmp11 + tmp2, shift);
            workspace[6 * 8 + col] = Descale(tmp11 - tmp2, shift);
            workspace[2 * 8 + col] = Descale(tmp12 + tmp1, shift);
            workspace[5 * 8 + col] = Descale(tmp12 - tmp1, shift);
            workspace[3 * 8 + col] = Descale(tmp13 + tmp0, shift);
            workspace[4 * 8 + col] = Descale(tmp13 - tmp0, shift);
        }

        for (int row = 0; row < 8; row++)
        {
            var w = workspace.Slice(row * 8, 8);
            var o = output.Slice(row * stride, 8);
            if (w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0)
            {
                byte value = RangeLimit[Descale(w[0], Pass1Bits + 3) & 1023];
                o.Fill(value);
                continue;
            }

            int z2 = w[2];
            int z3 = w[6];
            int z1 = (z2 + z3) * Fix0_541196100;
            int tmp2 = z1 + z3 * -Fix1_847759065;
            int tmp3 = z1 + z2 * Fix0_765366865;
            int tmp0 = (w[0] + w[4]) << ConstBits;
            int tmp1 = (w[0] - w[4]) << ConstBits;
            int tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

            tmp0 = w[7];
            tmp1 = w[5];
            tmp2 = w[3];
            tmp3 = w[1];
            Odd(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            const int shift = ConstBits + Pass1Bits + 3;
            o[0] = RangeLimit[Descale(tmp10 + tmp3, shift) & 1023];
            o[7] = RangeLimit[Descale(tmp10 - tmp3, shift) & 1023];
            o[1] = RangeLimit[Descale(tmp11 + tmp2, shift) & 1023];
            o[6] = RangeLimit[Descale(tmp11 - tmp2, shift) & 1023];
            o[2] = RangeLimit[Descale(tmp12 + tmp1, shift) & 1023];
            o[5] = RangeLimit[Descale(tmp12 - tmp1, shift) & 1023];
            o[3] = RangeLimit[Descale(tmp13 + tmp0, shift) & 1023];
            o[4] = RangeLimit[Descale(tmp13 - tmp0, shift) & 1023];
        }
        }
    }

    // The odd part of jidctint.c, shared by both passes: tmp0..tmp3 enter as the inputs of rows/columns 7, 5, 3, 1.
    private static void Odd(ref int tmp0, ref int tmp1, ref int tmp2, ref int tmp3)
    {
        unchecked
        {
        int z1 = tmp0 + tmp3;
        int z2 = tmp1 + tmp2;
        int z3 = tmp0 + tmp2;
        int z4 = tmp1 + tmp3;
        int z5 = (z3 + z4) * Fix1_175875602;
        tmp0 *= Fix0_298631336;
        tmp1 *= Fix2_053119869;
        tmp2 *= Fix3_072711026;
        tmp3 *= Fix1_501321110;
        z1 *= -Fix0_899976223;
        z2 *= -Fix2_562915447;
        z3 *= -Fix1_961570560;
        z4 *= -Fix0_390180644;
        z3 += z5;
        z4 += z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
        }
    }

    private static int Descale(int x, int n) => unchecked((x + (1 << (n - 1))) >> n);

    private static byte[] BuildRangeLimit()
    {
        // Index i = (sample − 128) & 1023 after the +128 level shift folded in by libjpeg's table offset:
        // [0, 128) → i + 128, [128, 512) → 255, [512, 896) → 0, [896, 1024) → i − 896.
        var table = new byte[1024];
        for (int i = 0; i < 1024; i++)
        {
            table[i] = i switch
            {
                < 128 => (byte)(i + 128),
                < 512 => 255,
                < 896 => 0,
                _ => (byte)(i - 896),
            };
        }

        return table;
    }
}
