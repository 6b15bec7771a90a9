using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace InceptionNet.Tensors;

/// <summary>Which Winograd transform a kernel takes.</summary>
internal enum WinogradKind
{
    /// <summary>F(2×2, 3×3) for 3×3 kernels: 2×2 output tiles from 4×4 patches, 16 elements.</summary>
    F2x2K3x3,

    /// <summary>F(2, 7) along rows for 1×7 kernels: 1×2 output tiles from 1×8 patches, 8 elements.</summary>
    F2K1x7,

    /// <summary>F(2, 7) along columns for 7×1 kernels: 2×1 output tiles from 8×1 patches, 8 elements.</summary>
    F2K7x1,

    /// <summary>
    /// Stride-2 3×3 kernels as four parity phases, F(2×2, 2×2) on the even rows and columns, F(2, 2) on one axis for the
    /// mixed ones: 2×2 output tiles from 5×5 patches, 25 elements over 16 distinct kernels.
    /// </summary>
    F2x2K3x3S2,
}

/// <summary>
/// A kernel in a Winograd domain: for each element ξ of the transformed tile, the 1×1 kernel <c>U_ξ[c, k]</c>, computed in
/// double from the packed (batch-norm folded) kernel and rounded once to float32, then packed like any 1×1 kernel so the
/// convolution's micro-kernels multiply with it. The bias stays with the direct weights.
/// <list type="bullet">
/// <item>3×3, F(2×2, 3×3): <c>U = G g Gᵀ</c> with <c>G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]</c>, 16 elements.</item>
/// <item>1×7 and 7×1, F(2, 7) along the kernel's long side at the points 0, 1, −1, ½, −½, 2, −2, ∞: <c>U = G g</c> with
/// G (8×7) the Vandermonde rows of those points scaled so that Bᵀ is integer (see <see cref="G7"/>), 8 elements.</item>
/// <item>3×3 at stride 2: split by row and column parity, the even taps (rows and columns 0 and 2) through F(2, 2) at the
/// points 0, 1, ∞ (<c>G = [1 0; 1 1; 0 1]</c>), the odd tap (1) as it is: <c>U = H g Hᵀ</c> with
/// <c>H = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0]</c>, a 5×5 tile whose last two rows (columns) repeat, so 16 distinct kernels
/// serve its 25 elements (<c>tools/winograd/stride2.py</c> checks the identity exactly).</item>
/// </list>
/// </summary>
internal sealed class WinogradWeights
{
    /// <summary>
    /// Most input × output channels a kernel is transformed with unless its caller asks past it (FaceNet's 192 × 192 in
    /// Mixed_6a; see <see cref="KindOf"/>).
    /// </summary>
    public const int MaxChannelProduct = 192 * 192;

    // G of F(2, 7): row ξ is s_ξ·(p^0, …, p^6) for point p_ξ, with s_ξ the scale that makes Bᵀ's row ξ integer (derived with
    // exact fractions by tools/winograd/f27.py, which also checks Aᵀ[(G g) ⊙ (Bᵀ d)] against the correlation exactly).
    private static readonly double[,] G7 =
    {
        { 1.0 / 4, 0, 0, 0, 0, 0, 0 },
        { 1.0 / 18, 1.0 / 18, 1.0 / 18, 1.0 / 18, 1.0 / 18, 1.0 / 18, 1.0 / 18 },
        { 1.0 / 18, -1.0 / 18, 1.0 / 18, -1.0 / 18, 1.0 / 18, -1.0 / 18, 1.0 / 18 },
        { 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45, 1.0 / 45, 1.0 / 90, 1.0 / 180 },
        { 16.0 / 45, -8.0 / 45, 4.0 / 45, -2.0 / 45, 1.0 / 45, -1.0 / 90, 1.0 / 180 },
        { 1.0 / 360, 1.0 / 180, 1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45 },
        { 1.0 / 360, -1.0 / 180, 1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45 },
        { 0, 0, 0, 0, 0, 0, 1.0 / 4 },
    };

    private readonly PackedConvWeights[] _transformed;

    /// <summary>
    /// The transform <paramref name="weights"/> take, or null where none pays: a 3×3, 1×7 or 7×1 kernel with at least 32
    /// input and output channels and, unless <paramref name="evenIfLarge"/>, at most <see cref="MaxChannelProduct"/> of them
    /// multiplied. Larger kernels usually run on the smallest maps (face-api's 256 × 256 on 3×3), where tiles cover more
    /// padding than output (a 3×3 map is four 2×2 tiles, 16 outputs for 9) and the transform saves little for megabytes
    /// more per kernel; a caller that knows its maps are larger says so.
    /// </summary>
    /// <remarks>At <paramref name="stride"/> 2 only a 3×3 kernel has a form.</remarks>
    public static WinogradKind? KindOf(PackedConvWeights weights, bool evenIfLarge = false, int stride = 1)
    {
        if (weights.InChannels < 32 || weights.OutChannels < 32 || (!evenIfLarge && (long)weights.InChannels * weights.OutChannels > MaxChannelProduct))
        {
            return null;
        }

        return (weights.KernelH, weights.KernelW, stride) switch
        {
            (3, 3, 1) => WinogradKind.F2x2K3x3,
            (1, 7, 1) => WinogradKind.F2K1x7,
            (7, 1, 1) => WinogradKind.F2K7x1,
            (3, 3, 2) => WinogradKind.F2x2K3x3S2,
            _ => null,
        };
    }

    public WinogradWeights(PackedConvWeights weights, bool evenIfLarge = false, int stride = 1)
    {
        Kind = KindOf(weights, evenIfLarge, stride) ?? throw new ArgumentException("Winograd needs a 3x3, 1x7 or 7x1 kernel at stride 1 or a 3x3 at stride 2, with at least 32 input and output channels" +
            (evenIfLarge ? "" : $" and at most {MaxChannelProduct} in x out") +
            $", not ({weights.KernelH}, {weights.KernelW}, {weights.InChannels}, {weights.OutChannels}) at stride {stride}.", nameof(weights));
        int c = weights.InChannels, k = weights.OutChannels, plane = c * k;
        // The unpacked kernel (kh, kw, in, out: tap t of (ci, co) at (t·in + ci)·out + co) and U live in native memory
        // freed as soon as the packed forms exist: managed arrays would be a large-object allocation per kernel while a
        // model loads, and a shared pool would keep the largest (FaceNet's Mixed_7a: 6 MB) for the life of the process.
        using var kernelScratch = new NativeScratch<float>(weights.KernelH * weights.KernelW * plane);
        int kernels = Kernels;
        using var uScratch = new NativeScratch<float>(kernels * plane);
        var kernel = kernelScratch.Span;
        var u = uScratch.Span;
        weights.UnpackKernel(kernel);
        switch (Kind)
        {
            case WinogradKind.F2x2K3x3 or WinogradKind.F2x2K3x3S2:
                TransformBothWays(kernel, plane, u, stride2: Kind == WinogradKind.F2x2K3x3S2);
                break;
            default:
                Transform7(kernel, plane, u);
                break;
        }

        _transformed = new PackedConvWeights[kernels];
        for (int i = 0; i < kernels; i++)
        {
            _transformed[i] = new PackedConvWeights(u.Slice(i * plane, plane), 1, 1, c, k, default, default, PackedConvWeights.PanelWidth);
        }
    }

    /// <summary>The transform these weights are in.</summary>
    public WinogradKind Kind { get; }

    /// <summary>Elements of a transformed tile: 16 for F(2×2, 3×3), 8 for F(2, 7), 25 for the stride-2 form.</summary>
    public int Elements => TileOf(Kind).Elements;

    /// <summary>Distinct transformed kernels: as many as the elements, but 16 for the stride-2 form's 25 (see <see cref="this[int]"/>).</summary>
    public int Kernels => Kind == WinogradKind.F2x2K3x3S2 ? 16 : Elements;

    /// <summary>The stride of the windows this form computes: 2 for <see cref="WinogradKind.F2x2K3x3S2"/>, else 1.</summary>
    public int Stride => StrideOf(Kind);

    /// <summary>The stride of the windows a kind computes.</summary>
    public static int StrideOf(WinogradKind kind) => kind == WinogradKind.F2x2K3x3S2 ? 2 : 1;

    /// <summary>
    /// The output tile a transform makes, the input patch it reads (it starts at the tile's first output pixel times the
    /// stride, less the padding) and the elements of a transformed tile (patch height × width).
    /// </summary>
    public static (int TileH, int TileW, int PatchH, int PatchW, int Elements) TileOf(WinogradKind kind) => kind switch
    {
        WinogradKind.F2x2K3x3 => (2, 2, 4, 4, 16),
        WinogradKind.F2K1x7 => (1, 2, 1, 8, 8),
        WinogradKind.F2K7x1 => (2, 1, 8, 1, 8),
        WinogradKind.F2x2K3x3S2 => (2, 2, 5, 5, 25),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "No Winograd tile for this kind."),
    };

    /// <summary>
    /// Tile rows and columns covering an <paramref name="outH"/> × <paramref name="outW"/> output, the partial ones at the
    /// bottom and right edges included (they are computed whole).
    /// </summary>
    public static (int Rows, int Columns) TileGrid(WinogradKind kind, int outH, int outW)
    {
        var (tileH, tileW, _, _, _) = TileOf(kind);
        return ((outH + tileH - 1) / tileH, (outW + tileW - 1) / tileW);
    }

    /// <summary>
    /// Multiply-adds of the transformed products for one image's <paramref name="outH"/> × <paramref name="outW"/> output:
    /// every tile of <see cref="TileGrid"/> times the elements times input × output channels. The transforms' additions and
    /// their few multiplications are not counted.
    /// </summary>
    public long MultiplyAdds(int outH, int outW)
    {
        var (rows, columns) = TileGrid(Kind, outH, outW);
        var element = _transformed[0];
        return (long)rows * columns * Elements * element.InChannels * element.OutChannels;
    }

    /// <summary>
    /// The packed 1×1 kernel of element <paramref name="xi"/> (in, out), <see cref="PackedConvWeights.PanelWidth"/>-wide
    /// panels. In the stride-2 form element ξ = 5a + b takes kernel 4·min(a, 3) + min(b, 3): rows (columns) 3 and 4 of its
    /// tile both hold the odd tap.
    /// </summary>
    public PackedConvWeights this[int xi] => _transformed[Kind == WinogradKind.F2x2K3x3S2 ? 4 * Math.Min(xi / 5, 3) + Math.Min(xi % 5, 3) : xi];

    // U = G g Gᵀ for F(2×2, 3×3): G's rows map (r0, r1, r2) to (r0, (r0 + r1 + r2)/2, (r0 − r1 + r2)/2, r2). At stride 2,
    // the form's 16 distinct kernels, U = H g Hᵀ without H's repeated last row: (r0, r1, r2) → (r0, r0 + r2, r2, r1),
    // U[4a + b]; sums of at most four taps. Vectors over the channel pairs, the reference on the rest.
    private static void TransformBothWays(ReadOnlySpan<float> kernel, int plane, Span<float> u, bool stride2)
    {
        int done = TransformBothWaysVector(kernel, plane, u, stride2);
        TransformBothWaysScalar(kernel, plane, u, stride2, done);
    }

    // A 3×3 kernel's 4×4 transform through one 4×3 matrix applied to its columns, then to the rows of that (t = M g,
    // U = t Mᵀ), per channel pair i from `from` on, in double, each element rounded to float once: the reference, and
    // the tail of the vector form. Runs at load only.
    internal static void TransformBothWaysScalar(ReadOnlySpan<float> kernel, int plane, Span<float> u, bool stride2, int from = 0)
    {
        Span<double> g = stackalloc double[9];
        Span<double> t = stackalloc double[12];
        for (int i = from; i < plane; i++)
        {
            for (int tap = 0; tap < 9; tap++)
            {
                g[tap] = kernel[tap * plane + i];
            }

            for (int x = 0; x < 3; x++)
            {
                Rows(stride2, g[x], g[3 + x], g[6 + x], out t[x], out t[3 + x], out t[6 + x], out t[9 + x]);
            }

            for (int y = 0; y < 4; y++)
            {
                Rows(stride2, t[3 * y], t[3 * y + 1], t[3 * y + 2], out double u0, out double u1, out double u2, out double u3);
                u[(4 * y) * plane + i] = (float)u0;
                u[(4 * y + 1) * plane + i] = (float)u1;
                u[(4 * y + 2) * plane + i] = (float)u2;
                u[(4 * y + 3) * plane + i] = (float)u3;
            }
        }
    }

    // The same, a Vector<float> of channel pairs at a time (widened to two of doubles, lane for lane the reference's
    // operations, narrowed with the cast's round-to-nearest-even): every bit of the reference, tested at awkward plane
    // lengths. A delegate per row cost FaceNet's one-image CLI run about 90 ms at load. Returns the pairs done.
    internal static int TransformBothWaysVector(ReadOnlySpan<float> kernel, int plane, Span<float> u, bool stride2)
    {
        if (!Vector.IsHardwareAccelerated)
        {
            return 0;
        }

        int width = Vector<float>.Count;
        Span<Vector<double>> g = stackalloc Vector<double>[18]; // the 9 taps' lower halves, then their upper halves
        Span<Vector<double>> t = stackalloc Vector<double>[24];
        int i = 0;
        for (; i <= plane - width; i += width)
        {
            for (int tap = 0; tap < 9; tap++)
            {
                Vector.Widen(new Vector<float>(kernel.Slice(tap * plane + i, width)), out g[tap], out g[9 + tap]);
            }

            for (int half = 0; half < 2; half++)
            {
                var gh = g.Slice(9 * half, 9);
                var th = t.Slice(12 * half, 12);
                for (int x = 0; x < 3; x++)
                {
                    Rows(stride2, gh[x], gh[3 + x], gh[6 + x], out th[x], out th[3 + x], out th[6 + x], out th[9 + x]);
                }
            }

            for (int y = 0; y < 4; y++)
            {
                Rows(stride2, t[3 * y], t[3 * y + 1], t[3 * y + 2], out var a0, out var a1, out var a2, out var a3);
                Rows(stride2, t[12 + 3 * y], t[12 + 3 * y + 1], t[12 + 3 * y + 2], out var b0, out var b1, out var b2, out var b3);
                Vector.Narrow(a0, b0).CopyTo(u.Slice((4 * y) * plane + i, width));
                Vector.Narrow(a1, b1).CopyTo(u.Slice((4 * y + 1) * plane + i, width));
                Vector.Narrow(a2, b2).CopyTo(u.Slice((4 * y + 2) * plane + i, width));
                Vector.Narrow(a3, b3).CopyTo(u.Slice((4 * y + 3) * plane + i, width));
            }
        }

        return i;
    }

    // One row of M applied to (r0, r1, r2): F(2×2, 3×3)'s G, or the stride-2 form's H without its repeated row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows(bool stride2, double r0, double r1, double r2, out double o0, out double o1, out double o2, out double o3)
    {
        o0 = r0;
        if (stride2)
        {
            (o1, o2, o3) = (r0 + r2, r2, r1);
        }
        else
        {
            (o1, o2, o3) = (0.5 * (r0 + r1 + r2), 0.5 * (r0 - r1 + r2), r2);
        }
    }

    // Rows on a vector of channel pairs, lane for lane the operations of the double form above.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows(bool stride2, Vector<double> r0, Vector<double> r1, Vector<double> r2,
        out Vector<double> o0, out Vector<double> o1, out Vector<double> o2, out Vector<double> o3)
    {
        o0 = r0;
        if (stride2)
        {
            (o1, o2, o3) = (r0 + r2, r2, r1);
        }
        else
        {
            var half = new Vector<double>(0.5);
            (o1, o2, o3) = (half * (r0 + r1 + r2), half * (r0 - r1 + r2), r2);
        }
    }

    // U = G g for the 7 taps of a 1×7 or 7×1 kernel (the taps are consecutive in the unpacked layout either way): the taps'
    // planes widened to double once, then for each element the planes with a nonzero coefficient scaled and summed in tap
    // order, a vector of doubles at a time, and rounded once. A per-channel loop through G cost FaceNet's one-image CLI run
    // about 60 ms at load (20 kernels of 128 × 128).
    private static void Transform7(ReadOnlySpan<float> kernel, int plane, Span<float> u)
    {
        using var tapsScratch = new NativeScratch<double>(7 * plane);
        using var sumScratch = new NativeScratch<double>(plane);
        var taps = tapsScratch.Span;
        var sum = sumScratch.Span;
        for (int i = 0; i < 7 * plane; i++)
        {
            taps[i] = kernel[i];
        }

        int width = Vector<double>.Count, whole = plane - plane % width;
        for (int xi = 0; xi < 8; xi++)
        {
            bool first = true;
            for (int tap = 0; tap < 7; tap++)
            {
                double g = G7[xi, tap];
                if (g == 0)
                {
                    continue;
                }

                var plane7 = taps.Slice(tap * plane, plane);
                var gv = new Vector<double>(g);
                for (int i = 0; i < whole; i += width)
                {
                    var term = gv * new Vector<double>(plane7.Slice(i));
                    (first ? term : new Vector<double>(sum.Slice(i)) + term).CopyTo(sum.Slice(i));
                }

                for (int i = whole; i < plane; i++)
                {
                    sum[i] = first ? g * plane7[i] : sum[i] + g * plane7[i];
                }

                first = false;
            }

            var target = u.Slice(xi * plane, plane);
            for (int i = 0; i < target.Length; i++)
            {
                target[i] = (float)sum[i];
            }
        }
    }

    // A buffer of native memory for the length of a preparation (not zeroed).
    private readonly unsafe struct NativeScratch<T> : IDisposable
        where T : unmanaged
    {
        private readonly T* _values;
        private readonly int _length;

        public NativeScratch(int length)
        {
            _length = length;
            _values = (T*)NativeMemory.Alloc((nuint)length, (nuint)sizeof(T));
        }

        public Span<T> Span => new(_values, _length);

        public void Dispose() => NativeMemory.Free(_values);
    }
}
