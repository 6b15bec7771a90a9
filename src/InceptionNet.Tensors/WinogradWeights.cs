using System.Buffers;

namespace InceptionNet.Tensors;

/// <summary>
/// A 3×3 kernel in the Winograd F(2×2, 3×3) domain: for each of the 16 elements ξ of the transformed 4×4 tile, the
/// 1×1 kernel <c>U_ξ[c, k] = (G g[·, ·, c, k] Gᵀ)_ξ</c> with <c>G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]</c>, computed in double
/// from the packed (batch-norm folded) kernel and rounded once to float32, then packed like any 1×1 kernel so the
/// convolution's micro-kernels multiply with it. The bias stays with the direct weights.
/// </summary>
internal sealed class WinogradWeights
{
    /// <summary>Elements of a transformed tile.</summary>
    public const int Elements = 16;

    private readonly PackedConvWeights[] _transformed;

    /// <summary>Most input × output channels a transformed kernel may have (FaceNet's 192 × 192 in Mixed_6a).</summary>
    public const int MaxChannelProduct = 192 * 192;

    /// <summary>
    /// Whether <paramref name="weights"/> are a 3×3 kernel wide enough in and out for the transform to pay, and not so
    /// large that its 16/9 extra memory buys little: kernels beyond <see cref="MaxChannelProduct"/> (face-api's 256 × 256)
    /// run on the smallest maps, where 2×2 tiles cover more padding than output (a 3×3 map is four tiles, 16 outputs for
    /// 9) and the transform saves a fifth of the multiply-adds for 4 MB more per kernel.
    /// </summary>
    public static bool Suits(PackedConvWeights weights) =>
        weights.KernelH == 3 && weights.KernelW == 3 && weights.InChannels >= 32 && weights.OutChannels >= 32
        && (long)weights.InChannels * weights.OutChannels <= MaxChannelProduct;

    public WinogradWeights(PackedConvWeights weights)
    {
        if (!Suits(weights))
        {
            throw new ArgumentException($"Winograd F(2x2, 3x3) needs a 3x3 kernel with at least 32 input and output channels and at most {MaxChannelProduct} in x out, not " +
                $"({weights.KernelH}, {weights.KernelW}, {weights.InChannels}, {weights.OutChannels}).", nameof(weights));
        }

        int c = weights.InChannels, k = weights.OutChannels, plane = c * k;
        var kernel = weights.UnpackKernel(); // (3, 3, in, out): tap (y, x) of (ci, co) at ((3y + x)·in + ci)·out + co
        var u = ArrayPool<float>.Shared.Rent(Elements * plane);
        try
        {
            Span<double> g = stackalloc double[9];
            Span<double> t = stackalloc double[12];
            for (int i = 0; i < plane; i++)
            {
                for (int tap = 0; tap < 9; tap++)
                {
                    g[tap] = kernel[tap * plane + i];
                }

                // t = G g (4×3), then U = t Gᵀ (4×4): the same two passes on columns, then on rows.
                for (int x = 0; x < 3; x++)
                {
                    double g0 = g[x], g1 = g[3 + x], g2 = g[6 + x];
                    t[x] = g0;
                    t[3 + x] = 0.5 * (g0 + g1 + g2);
                    t[6 + x] = 0.5 * (g0 - g1 + g2);
                    t[9 + x] = g2;
                }

                for (int y = 0; y < 4; y++)
                {
                    double r0 = t[3 * y], r1 = t[3 * y + 1], r2 = t[3 * y + 2];
                    u[(4 * y) * plane + i] = (float)r0;
                    u[(4 * y + 1) * plane + i] = (float)(0.5 * (r0 + r1 + r2));
                    u[(4 * y + 2) * plane + i] = (float)(0.5 * (r0 - r1 + r2));
                    u[(4 * y + 3) * plane + i] = (float)r2;
                }
            }

            _transformed = new PackedConvWeights[Elements];
            for (int xi = 0; xi < Elements; xi++)
            {
                _transformed[xi] = new PackedConvWeights(u.AsSpan(xi * plane, plane), 1, 1, c, k, default, default, PackedConvWeights.PanelWidth);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(u);
        }
    }

    /// <summary>The packed 1×1 kernel of element <paramref name="xi"/> (in, out), <see cref="PackedConvWeights.PanelWidth"/>-wide panels.</summary>
    public PackedConvWeights this[int xi] => _transformed[xi];
}
